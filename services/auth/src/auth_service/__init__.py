"""auth service: RS256 tokens, JWKS with rotation, users and service clients."""

__version__ = "0.1.0"
