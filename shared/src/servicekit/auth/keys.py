"""Where a verifier finds public keys by `kid`: a fetched JWKS, or a fixed set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers
from jwt.utils import base64url_decode

log = logging.getLogger("servicekit.auth.keys")

_MAX_AGE = re.compile(r"max-age=(\d+)")
# Floors and ceilings keep a misconfigured Cache-Control from hammering auth or pinning keys.
_MIN_MAX_AGE_S = 5
_MAX_MAX_AGE_S = 3600


class KeySource(Protocol):
    """Public keys by kid. `generation` changes whenever the set of keys changes."""

    @property
    def generation(self) -> int: ...

    async def get(self, kid: str) -> RSAPublicKey | None: ...


def _b64_int(value: str) -> int:
    return int.from_bytes(base64url_decode(value.encode()), "big")


def parse_jwks(document: Mapping[str, Any]) -> dict[str, RSAPublicKey]:
    """RSA signing keys of a JWK Set by kid; keys of other types or uses are ignored."""
    found: dict[str, RSAPublicKey] = {}
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise ValueError("a JWK Set needs a 'keys' list")
    for jwk in keys:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        kid, n, e = jwk.get("kid"), jwk.get("n"), jwk.get("e")
        if not (isinstance(kid, str) and isinstance(n, str) and isinstance(e, str)):
            continue
        found[kid] = RSAPublicNumbers(_b64_int(e), _b64_int(n)).public_key()
    return found


class StaticKeySource:
    """A fixed key set (tests, or a service that verifies its own tokens in memory)."""

    def __init__(self, keys: Mapping[str, RSAPublicKey] | None = None) -> None:
        self._keys = dict(keys or {})
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def replace(self, keys: Mapping[str, RSAPublicKey]) -> None:
        if set(keys) != set(self._keys) or any(self._keys[k] is not v for k, v in keys.items()):
            self._generation += 1
        self._keys = dict(keys)

    async def get(self, kid: str) -> RSAPublicKey | None:
        return self._keys.get(kid)


class JwksKeySource:
    """Keys from a JWKS URL, cached for the document's max-age.

    - A stale set is refreshed in the background while the old keys keep verifying.
    - An unknown kid triggers at most one refetch per cooldown (a flood of forged kids cannot
      turn into a flood of requests to auth).
    - When auth is unreachable, the last good keys keep serving.
    """

    def __init__(
        self,
        url: str,
        *,
        cooldown_s: float = 30.0,
        timeout_s: float = 5.0,
        default_max_age_s: int = 300,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self.cooldown_s = cooldown_s
        self.default_max_age_s = default_max_age_s
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._owns_client = client is None
        self._keys: dict[str, RSAPublicKey] = {}
        self._fresh_until = 0.0
        self._last_unknown_refetch = -float("inf")
        self._generation = 0
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None
        self.fetches = 0
        self._attempts = 0

    @property
    def generation(self) -> int:
        return self._generation

    async def get(self, kid: str) -> RSAPublicKey | None:
        now = time.monotonic()
        if not self._keys:
            await self._refresh()
        elif now >= self._fresh_until:
            self._refresh_in_background()
        key = self._keys.get(kid)
        if key is None and now - self._last_unknown_refetch >= self.cooldown_s:
            self._last_unknown_refetch = now
            await self._refresh()
            key = self._keys.get(kid)
        return key

    async def warm(self) -> None:
        """Fetch once at start-up; a failure here is not fatal (auth may start later)."""
        await self._refresh()

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self._refresh())

    async def _refresh(self) -> None:
        attempts_seen = self._attempts
        async with self._lock:
            if self._attempts != attempts_seen:
                return  # a fetch finished while we waited: its result is ours too
            try:
                self.fetches += 1
                response = await self._client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                keys = parse_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                # Keep the last good keys; retry after the cooldown, not on every request.
                self._fresh_until = time.monotonic() + min(self.cooldown_s, _MAX_MAX_AGE_S)
                log.warning(
                    "jwks refresh failed; serving cached keys",
                    extra={"error": type(exc).__name__, "cached_keys": len(self._keys)},
                )
                return
            finally:
                self._attempts += 1
            max_age = self._max_age(response.headers.get("cache-control", ""))
            self._fresh_until = time.monotonic() + max_age
            if set(keys) != set(self._keys):
                self._generation += 1
            self._keys = keys

    def _max_age(self, cache_control: str) -> int:
        match = _MAX_AGE.search(cache_control)
        value = int(match[1]) if match else self.default_max_age_s
        return max(_MIN_MAX_AGE_S, min(value, _MAX_MAX_AGE_S))

    async def aclose(self) -> None:
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._background
        if self._owns_client:
            await self._client.aclose()
