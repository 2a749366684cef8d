"""Signing keys: RSA key pairs, their life cycle, and the in-memory key ring that uses them."""
