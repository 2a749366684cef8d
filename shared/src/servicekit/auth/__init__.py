"""Token verification any service uses to trust auth's access tokens (no web framework here:
the request-side glue is `servicekit.security`)."""

from servicekit.auth.keys import JwksKeySource, KeySource, StaticKeySource, parse_jwks
from servicekit.auth.principal import ROLE_ORDER, Principal
from servicekit.auth.verifier import InvalidToken, TokenVerifier

__all__ = [
    "ROLE_ORDER",
    "InvalidToken",
    "JwksKeySource",
    "KeySource",
    "Principal",
    "StaticKeySource",
    "TokenVerifier",
    "parse_jwks",
]
