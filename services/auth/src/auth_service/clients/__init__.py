"""Service clients: client_credentials with a 256-bit secret stored as a SHA-256 digest."""
