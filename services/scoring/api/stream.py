"""A live stream (Server-Sent Events) of a unit's progress as its subtree's counters change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from services.scoring import queries
from services.scoring.adapters.consumer import changes_channel

router = APIRouter(tags=["progress"])
THROTTLE_SECONDS = 0.5  # at most two updates a second per stream: a page needs no more


@router.get("/campaigns/{campaign_id}/units/{unit_id}/stream")
async def stream(campaign_id: str, unit_id: str, request: Request) -> StreamingResponse:
    """``event: progress`` with the unit's progress now, then again whenever it changes."""
    return StreamingResponse(_events(request, campaign_id, unit_id), media_type="text/event-stream")


async def _events(request: Request, campaign_id: str, unit_id: str) -> AsyncIterator[str]:
    redis = request.app.state.redis
    pubsub = redis.pubsub()
    await pubsub.subscribe(changes_channel(campaign_id))
    try:
        yield await _progress_event(request, campaign_id, unit_id)
        while not await request.is_disconnected():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                yield ": keep-alive\n\n"
                continue
            if unit_id in json.loads(message["data"]):  # every ancestor of a change is listed
                yield await _progress_event(request, campaign_id, unit_id)
                await asyncio.sleep(THROTTLE_SECONDS)
                # What arrived during the pause is answered by one event, not one each: a busy
                # province would otherwise fall further behind with every step.
                if await _drain(pubsub, unit_id):
                    yield await _progress_event(request, campaign_id, unit_id)
                    await asyncio.sleep(THROTTLE_SECONDS)
    finally:
        await pubsub.aclose()


async def _drain(pubsub: Any, unit_id: str) -> bool:
    """Read every message already waiting; whether any of them concerned ``unit_id``."""
    concerned = False
    while message := await pubsub.get_message(ignore_subscribe_messages=True, timeout=0):
        concerned = concerned or unit_id in json.loads(message["data"])
    return concerned


async def _progress_event(request: Request, campaign_id: str, unit_id: str) -> str:
    redis, clock = request.app.state.redis, request.app.state.clock
    try:
        body = await queries.unit_progress(redis, campaign_id, unit_id, at=clock.now())
    except queries.UnknownCampaign:
        body = {"error": "not_found", "message": f"no campaign {campaign_id!r}"}
    except queries.UnknownUnit:
        body = {"error": "not_found", "message": f"no unit {unit_id!r} in campaign {campaign_id!r}"}
    return f"event: progress\ndata: {json.dumps(body, default=str, ensure_ascii=False)}\n\n"
