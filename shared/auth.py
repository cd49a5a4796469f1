"""Who a bearer token belongs to, for services that do not hold the tokens.

API tokens live in the submission service's database only (services never share a database).
Another service asks it with ``GET /tokens/self`` and the caller's own token, and keeps the
answer for a short while (``cache_seconds``, 30 by default) under the token's SHA-256, so a
revoked token stops working within that time and a busy page costs one question per token per
half minute. When the submission service cannot answer, the caller is refused (fail closed):
:class:`TokenCheckUnavailable`.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from shared.logging import get_logger

log = get_logger(__name__)

INTROSPECTION_PATH = "/tokens/self"
# The body a caller sees: the service's internal address goes to the log, not to the caller.
UNAVAILABLE = "the submission service, which holds the tokens, did not answer: try again shortly"
ROLES = ("admin", "officer", "importer", "viewer")
# Distinct tokens remembered at once; random guesses must not grow the memory without bound.
MAX_CACHED_TOKENS = 10_000


class TokenCheckUnavailable(Exception):
    """The service that knows the tokens did not answer; nobody can be let in."""


@dataclass(frozen=True)
class RemotePrincipal:
    """A token's holder as the submission service describes it."""

    token_id: str
    actor_id: str
    role: str
    scope_union_id: str
    expires_at: datetime | None

    def covers(self, union_path: Sequence[str]) -> bool:
        """Whether a unit with this path (root first) is inside the holder's subtree."""
        return self.scope_union_id in union_path

    def expired(self, now: datetime) -> bool:
        """Whether the token has expired by ``now``."""
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class _Cached:
    principal: RemotePrincipal | None  # None: the service said the token is not valid
    until: float


class TokenIntrospector:
    """Asks the submission service who holds a token, caching each answer briefly."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        cache_seconds: float,
        timeout_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + INTROSPECTION_PATH
        self._cache_seconds = cache_seconds
        self._timeout = timeout_seconds
        self._monotonic = monotonic
        self._cache: OrderedDict[str, _Cached] = OrderedDict()

    async def principal(self, token: str) -> RemotePrincipal | None:
        """The token's holder, or None when it is unknown, expired or revoked."""
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is None or cached.until <= self._monotonic():
            cached = _Cached(await self._ask(token), self._monotonic() + self._cache_seconds)
            self._remember(key, cached)
        found = cached.principal
        # An expiry is known in advance: it takes effect at once, cache or not.
        if found is not None and found.expired(datetime.now(UTC)):
            return None
        return found

    def _remember(self, key: str, cached: _Cached) -> None:
        if self._cache_seconds <= 0:
            return
        self._cache.pop(key, None)
        self._cache[key] = cached
        while len(self._cache) > MAX_CACHED_TOKENS:
            self._cache.popitem(last=False)

    async def _ask(self, token: str) -> RemotePrincipal | None:
        try:
            response = await self._http.get(
                self._url, headers={"Authorization": f"Bearer {token}"}, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            log.warning("auth.token_check_failed", url=self._url, error=type(error).__name__)
            raise TokenCheckUnavailable(UNAVAILABLE) from error
        if response.status_code == 401:
            return None
        try:
            if response.status_code != 200:
                raise ValueError(f"status {response.status_code}")
            return _principal(response.json())
        except (ValueError, KeyError, TypeError) as error:  # a garbled answer: refuse too
            log.warning("auth.token_check_failed", url=self._url, error=str(error))
            raise TokenCheckUnavailable(UNAVAILABLE) from error


def _principal(body: dict[str, object]) -> RemotePrincipal:
    expires = body.get("expires_at")
    role = str(body["role"])
    if role not in ROLES:
        raise ValueError(f"the submission service named an unknown role {role!r}")
    return RemotePrincipal(
        token_id=str(body["id"]),
        actor_id=str(body["actor_id"]),
        role=role,
        scope_union_id=str(body["scope_union_id"]),
        expires_at=_aware(datetime.fromisoformat(str(expires))) if expires else None,
    )


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive UTC times; the submission service may serialise them so.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
