"""Key material: RFC 7638 thumbprints and AES-256-GCM wrapping of private keys."""

from __future__ import annotations

import os

import pytest

from auth_service.keys._crypto import (
    KeyDecryptionError,
    KeyWrapper,
    generate_private_key,
    public_jwk_members,
    public_key_from_members,
    thumbprint,
)

# RFC 7638 section 3.1: the example key and its SHA-256 thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRX"
    "jBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaS"
    "qzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPks"
    "INHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

KEY = generate_private_key(2048)


def test_thumbprint_matches_the_rfc7638_example() -> None:
    assert thumbprint(public_key_from_members(RFC7638_N, "AQAB")) == RFC7638_THUMBPRINT


def test_jwk_members_round_trip_to_the_same_public_key() -> None:
    members = public_jwk_members(KEY.public_key())
    assert set(members) == {"kty", "n", "e"}
    assert members["e"] == "AQAB"
    again = public_key_from_members(members["n"], members["e"])
    assert again.public_numbers() == KEY.public_key().public_numbers()
    assert thumbprint(again) == thumbprint(KEY.public_key())


def test_a_wrapped_key_opens_only_with_its_kek_kid_and_purpose() -> None:
    wrapper = KeyWrapper(os.urandom(32))
    blob = wrapper.wrap(KEY, kid="k1", purpose="access")
    assert b"PRIVATE KEY" not in blob
    opened = wrapper.unwrap(blob, kid="k1", purpose="access")
    assert opened.private_numbers() == KEY.private_numbers()
    for kid, purpose in [("k2", "access"), ("k1", "refresh")]:
        with pytest.raises(KeyDecryptionError):
            wrapper.unwrap(blob, kid=kid, purpose=purpose)
    with pytest.raises(KeyDecryptionError):
        KeyWrapper(os.urandom(32)).unwrap(blob, kid="k1", purpose="access")


def test_tampered_or_unknown_format_ciphertexts_do_not_open() -> None:
    wrapper = KeyWrapper(os.urandom(32))
    blob = bytearray(wrapper.wrap(KEY, kid="k1", purpose="access"))
    blob[-1] ^= 1
    with pytest.raises(KeyDecryptionError):
        wrapper.unwrap(bytes(blob), kid="k1", purpose="access")
    with pytest.raises(KeyDecryptionError):
        wrapper.unwrap(b"\x02" + bytes(blob[1:]), kid="k1", purpose="access")
    with pytest.raises(KeyDecryptionError):
        wrapper.unwrap(b"\x01short", kid="k1", purpose="access")


def test_each_wrap_uses_a_fresh_nonce() -> None:
    wrapper = KeyWrapper(os.urandom(32))
    assert wrapper.wrap(KEY, kid="k", purpose="access") != wrapper.wrap(
        KEY, kid="k", purpose="access"
    )


def test_the_kek_id_names_a_kek_without_revealing_it() -> None:
    kek = os.urandom(32)
    assert KeyWrapper(kek).kek_id == KeyWrapper(kek).kek_id
    assert KeyWrapper(kek).kek_id != KeyWrapper(os.urandom(32)).kek_id
    assert KeyWrapper(kek).kek_id not in kek.hex()


def test_a_kek_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        KeyWrapper(os.urandom(16))
