"""Token verification any service uses to trust auth's access tokens (no web framework here:
the request-side glue is `servicekit.web.security`)."""

from servicekit.verify.keys import JwksKeySource, KeySource, StaticKeySource, parse_jwks
from servicekit.verify.principal import ROLE_ORDER, Principal
from servicekit.verify.verifier import InvalidToken, TokenVerifier

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
