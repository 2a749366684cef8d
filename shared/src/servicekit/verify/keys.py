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

log = logging.getLogger("servicekit.verify.keys")

_MAX_AGE = re.compile(r"max-age=(\d+)")
# Floors and ceilings keep a misconfigured Cache-Control from hammering auth or pinning keys.
_MIN_MAX_AGE_S = 5
_MAX_MAX_AGE_S = 3600
# RSA moduli below this are factorable by a motivated attacker (NIST SP 800-131A): a JWKS
# that offers one is answered as if the key were absent.
MIN_RSA_KEY_BITS = 2048
# First wait after a failed fetch; it doubles per consecutive failure, up to the cooldown.
_FIRST_BACKOFF_S = 1.0


class InsecureJwksUrlError(ValueError):
    """A JWKS URL that is not https where https is required (production, untrusted network)."""


def check_jwks_url(url: str, *, require_https: bool) -> str:
    """`url`, or InsecureJwksUrlError when https is required and it is not https. Keys fetched
    over plain HTTP can be replaced in transit, and with them every token's validity."""
    if require_https and not url.lower().startswith("https://"):
        raise InsecureJwksUrlError(
            "the JWKS URL must be https in production unless the network is trusted"
        )
    return url


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
        key = RSAPublicNumbers(_b64_int(e), _b64_int(n)).public_key()
        if key.key_size < MIN_RSA_KEY_BITS:
            log.warning(
                "jwks key refused: RSA modulus too small",
                extra={"kid": kid[:80], "bits": key.key_size},
            )
            continue
        found[kid] = key
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
    - When auth is unreachable, the last good keys keep serving; failed fetches back off
      (1 s, doubling, at most the cooldown).
    - The limits hold with no keys too (auth was down at start-up, or published none): a
      request then waits for a fetch only when the last one is older than its backoff or
      max-age, never one fetch per request.
    - `require_https` (production, unless the network is trusted) refuses a plain-HTTP URL.
    """

    def __init__(
        self,
        url: str,
        *,
        cooldown_s: float = 30.0,
        timeout_s: float = 5.0,
        default_max_age_s: int = 300,
        client: httpx.AsyncClient | None = None,
        require_https: bool = False,
    ) -> None:
        self.url = check_jwks_url(url, require_https=require_https)
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
        self._failures = 0

    @property
    def generation(self) -> int:
        return self._generation

    async def get(self, kid: str) -> RSAPublicKey | None:
        now = time.monotonic()
        fetched = False
        if now >= self._fresh_until:
            if self._keys:
                self._refresh_in_background()
            else:
                # Nothing to serve meanwhile: wait for the fetch (concurrent callers share it).
                await self._refresh()
                fetched = True
        key = self._keys.get(kid)
        if key is None and not fetched and now - self._last_unknown_refetch >= self.cooldown_s:
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
                # Keep the last good keys; retry after a backoff, not on every request.
                self._failures += 1
                backoff = _FIRST_BACKOFF_S * 2 ** min(self._failures - 1, 16)
                self._fresh_until = time.monotonic() + min(backoff, self.cooldown_s)
                log.warning(
                    "jwks refresh failed; serving cached keys",
                    extra={"error": type(exc).__name__, "cached_keys": len(self._keys)},
                )
                return
            finally:
                self._attempts += 1
            self._failures = 0
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
