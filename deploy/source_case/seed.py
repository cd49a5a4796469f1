"""Load the source case into a running stack through the submission service's HTTP API.

Idempotent: units are upserted by the tree import, the campaign is replaced, a target already
set is left alone, and the launch-day initiatives carry external references, so a second seed
changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from deploy.cli.errors import CliError, check
from deploy.simulator.plan import Registration
from deploy.source_case.dak_lak import CAMPAIGN, PROVINCE, SourceCase

Progress = Callable[[str, int, int], None]  # (stage, done, total)
BATCH = 500  # rows per POST /initiatives/batch (the API takes up to 1,000)


@dataclass(frozen=True)
class Tokens:
    """The tokens the simulator and the dashboard act with, scoped to the province."""

    importer: str  # the support teams: register, back-dated to when the form was collected
    officer: str  # the upper-level unions' reviewers
    viewer: str  # the dashboard's drill-down


def seed(
    admin: httpx.Client,
    case: SourceCase,
    launch: list[Registration],
    *,
    progress: Progress = lambda stage, done, total: None,
) -> Tokens:
    """Units, the campaign, targets, tokens, then the initiatives registered by the launch."""
    rows = [unit.as_import_row() for unit in case.units]
    check(admin.post("/units/import", json={"units": rows}), "importing the units")
    progress("units", len(rows), len(rows))
    _define_campaign(admin, case)
    _set_targets(admin, case, progress)
    tokens = Tokens(
        importer=_token(admin, "importer", "to-ho-tro-sang-kien"),
        officer=_token(admin, "officer", "can-bo-tham-dinh"),
        viewer=_token(admin, "viewer", "bang-dieu-khien"),
    )
    importer = httpx.Client(
        base_url=str(admin.base_url),
        headers={"Authorization": f"Bearer {tokens.importer}"},
        timeout=admin.timeout,
    )
    with importer:
        register(importer, launch, lambda done: progress("launch", done, len(launch)))
    return tokens


def register(
    importer: httpx.Client, registrations: list[Registration], done: Callable[[int], None]
) -> dict[str, str]:
    """Register in batches; returns each registration's id by external reference (an
    initiative registered before comes back with its id, so this is safe to repeat)."""
    ids: dict[str, str] = {}
    for start in range(0, len(registrations), BATCH):
        part = registrations[start : start + BATCH]
        answer = check(
            importer.post("/initiatives/batch", json={"initiatives": [r.body() for r in part]}),
            "registering initiatives",
        ).json()
        refused = [row for row in answer["rows"] if row["status"] == "error"]
        if refused:  # the plan is built to pass: a refusal means the stack disagrees with it
            raise CliError(
                f"{len(refused)} of {len(part)} registrations were refused",
                details=[
                    f"{part[row['row'] - 1].external_ref}: {problem['field']}: {problem['message']}"
                    for row in refused[:10]
                    for problem in row["problems"]
                ],
            )
        ids.update({r.external_ref: row["id"] for r, row in zip(part, answer["rows"], strict=True)})
        done(start + len(part))
    return ids


def _define_campaign(admin: httpx.Client, case: SourceCase) -> None:
    response = admin.post("/campaigns", json=case.campaign)
    if response.status_code == 409:  # defined by an earlier seed: make it this definition
        response = admin.put(f"/campaigns/{CAMPAIGN}", json=case.campaign)
    check(response, "defining the campaign")


def _set_targets(admin: httpx.Client, case: SourceCase, progress: Progress) -> None:
    already = {
        unit.id
        for unit in case.units
        if (r := admin.get(f"/campaigns/{CAMPAIGN}/targets/{unit.id}")).is_success
        and r.json()["history"]
    }
    todo = [s for s in case.targets if s.union_id not in already]
    for done, setting in enumerate(todo, start=1):
        body = {"assigned_target": setting.assigned_target, "own_target": setting.own_target}
        if setting.reason:
            body["reason"] = setting.reason
        check(
            admin.put(f"/campaigns/{CAMPAIGN}/targets/{setting.union_id}", json=body),
            f"setting the target of {setting.union_id}",
        )
        progress("targets", done, len(todo))


def _token(admin: httpx.Client, role: str, actor: str) -> str:
    body = {
        "role": role,
        "scope_union_id": PROVINCE,
        "actor_id": actor,
        "label": f"source case: {role}",
        "valid_days": 30,
    }
    token: str = check(admin.post("/tokens", json=body), f"issuing the {role} token").json()[
        "token"
    ]
    return token
