"""OAuth 2.0 token and revocation endpoints: access tokens, rotating refresh tokens."""
