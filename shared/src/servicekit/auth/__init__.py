"""Token verification any service uses to trust auth's access tokens."""

from servicekit.auth.dependencies import (
    PrincipalDep,
    bearer_principal,
    bearer_token,
    principal_scope_resolver,
    require_role,
    verifier_hook,
)
from servicekit.auth.keys import JwksKeySource, KeySource, StaticKeySource, parse_jwks
from servicekit.auth.principal import ROLE_ORDER, Principal
from servicekit.auth.verifier import InvalidToken, TokenVerifier

__all__ = [
    "ROLE_ORDER",
    "InvalidToken",
    "JwksKeySource",
    "KeySource",
    "Principal",
    "PrincipalDep",
    "StaticKeySource",
    "TokenVerifier",
    "bearer_principal",
    "bearer_token",
    "parse_jwks",
    "principal_scope_resolver",
    "require_role",
    "verifier_hook",
]
