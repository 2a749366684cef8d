"""Key material: RSA generation, RFC 7638 thumbprints, AES-256-GCM wrapping of private keys."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_WRAP_VERSION = b"\x01"
_NONCE_BYTES = 12


class KeyDecryptionError(Exception):
    """A wrapped private key does not open under this key-encryption key."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def generate_private_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_jwk_members(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """The required RSA members (RFC 7517): kty, n, e."""
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "n": b64url_uint(numbers.n), "e": b64url_uint(numbers.e)}


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256): the required members, sorted, no whitespace."""
    members = public_jwk_members(public_key)
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return b64url(hashlib.sha256(canonical).digest())


def public_key_from_members(n: str, e: str) -> rsa.RSAPublicKey:
    def uint(text: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")

    return rsa.RSAPublicNumbers(uint(e), uint(n)).public_key()


def generate_key_encryption_key() -> bytes:
    return secrets.token_bytes(32)


class KeyWrapper:
    """Wraps private keys under one key-encryption key; the kid and purpose are bound as AAD,
    so a ciphertext copied onto another row does not open."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != 32:
            raise ValueError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(kek)
        # Identifies the KEK without revealing it: lets an operator see which KEK wrapped a key.
        self.kek_id = hashlib.sha256(b"auth-service kek id\x00" + kek).hexdigest()[:16]

    @staticmethod
    def _aad(kid: str, purpose: str) -> bytes:
        return f"auth-service signing key\x00{kid}\x00{purpose}".encode()

    def wrap(self, private_key: rsa.RSAPrivateKey, *, kid: str, purpose: str) -> bytes:
        der = private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        nonce = os.urandom(_NONCE_BYTES)
        return _WRAP_VERSION + nonce + self._aead.encrypt(nonce, der, self._aad(kid, purpose))

    def unwrap(self, blob: bytes, *, kid: str, purpose: str) -> rsa.RSAPrivateKey:
        if blob[:1] != _WRAP_VERSION or len(blob) < 1 + _NONCE_BYTES + 16:
            raise KeyDecryptionError(f"key {kid}: unknown wrapping format")
        nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            der = self._aead.decrypt(nonce, ciphertext, self._aad(kid, purpose))
        except InvalidTag:
            raise KeyDecryptionError(
                f"key {kid} does not open under this key-encryption key"
            ) from None
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyDecryptionError(f"key {kid} is not an RSA key")
        return key
