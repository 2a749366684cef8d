"""A test token issuer: an RSA key, access tokens shaped like auth's, and its JWKS on loopback."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from servicekit.verify import StaticKeySource

ISSUER = "http://127.0.0.1:8001"
AUDIENCE = "orders"


class TestIssuer:
    """Signs tokens with keys it generated; `jwks` is the document a JWKS endpoint would serve."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, *, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.kid = self.add_key()

    def add_key(self) -> str:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = f"test-{uuid.uuid4().hex[:16]}"
        self.keys[kid] = key
        return kid

    def remove_key(self, kid: str) -> None:
        del self.keys[kid]

    @property
    def jwks(self) -> dict[str, Any]:
        out = []
        for kid, key in self.keys.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            out.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": out}

    def static_source(self) -> StaticKeySource:
        return StaticKeySource({kid: k.public_key() for kid, k in self.keys.items()})

    def claims(
        self,
        *,
        sub: str = "user-1",
        tenant_id: str = "tenant-a",
        roles: list[str] | None = None,
        ttl_s: int = 900,
        **extra: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
            "tenant_id": tenant_id,
            "roles": roles if roles is not None else ["viewer"],
            **extra,
        }

    def sign(
        self,
        claims: dict[str, Any],
        *,
        kid: str | None = None,
        headers: dict[str, Any] | None = None,
        algorithm: str = "RS256",
    ) -> str:
        kid = kid or self.kid
        return jwt.encode(
            claims,
            self.keys[kid],
            algorithm=algorithm,
            headers={"kid": kid, "typ": "at+jwt", **(headers or {})},
        )

    def issue(self, **claims: Any) -> str:
        """An access token with auth's header and claims; keyword args override claims."""
        return self.sign(self.claims(**claims))


@contextmanager
def serve_jwks(issuer: TestIssuer, *, max_age_s: int = 300) -> Iterator[JwksServer]:
    server = JwksServer(issuer, max_age_s=max_age_s)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class JwksServer:
    """The issuer's JWKS over HTTP on 127.0.0.1; counts requests; can be switched off."""

    def __init__(self, issuer: TestIssuer, *, max_age_s: int) -> None:
        self.issuer = issuer
        self.max_age_s = max_age_s
        self.requests = 0
        self.failing = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                if outer.failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps(outer.issuer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/jwk-set+json")
                self.send_header("Cache-Control", f"public, max-age={outer.max_age_s}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/.well-known/jwks.json"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
