"""Discovery documents: JWKS and OpenID provider metadata."""
