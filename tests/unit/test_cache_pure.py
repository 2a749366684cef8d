"""The cache's pure parts: TTL jitter, the XFetch rule, the stored entry format."""

from __future__ import annotations

import math

import pytest

from servicekit.data.cache import (
    CacheEntry,
    _LocalLayer,
    _ttl_ms,
    decode_entry,
    encode_entry,
    jittered_ttl_s,
    pack_response,
    unpack_response,
    xfetch_fires,
)


def test_cache_jitter_ends_are_5_and_15_percent() -> None:
    assert jittered_ttl_s(300, 0.0) == pytest.approx(315)
    assert jittered_ttl_s(300, 1.0) == pytest.approx(345)
    assert jittered_ttl_s(300, 0.5) == pytest.approx(330)


def test_cache_ttl_in_milliseconds_never_leaves_the_jitter_range_by_rounding() -> None:
    assert _ttl_ms(60, 63.0000004) == 63_000
    assert _ttl_ms(60, 69.0000004) == 69_000
    assert _ttl_ms(61.0001, jittered_ttl_s(61.0001, 1.0)) <= math.floor(61.0001 * 1.15 * 1000)


def test_cache_xfetch_follows_the_formula_at_known_points() -> None:
    # now - delta * beta * ln(rand) >= expiry
    assert not xfetch_fires(now=100.0, expiry=110.0, delta=1.0, beta=1.0, rand=math.exp(-9))
    assert xfetch_fires(now=100.0, expiry=110.0, delta=1.0, beta=1.0, rand=math.exp(-10))
    assert xfetch_fires(now=110.0, expiry=110.0, delta=1.0, beta=1.0, rand=1.0)
    assert not xfetch_fires(now=109.999, expiry=110.0, delta=1.0, beta=1.0, rand=1.0)
    assert xfetch_fires(now=0.0, expiry=1e9, delta=0.001, beta=1.0, rand=0.0)  # ln 0 = -inf
    # beta scales the reach: 2 x 5 s of lead time covers the 10 s left.
    assert xfetch_fires(now=100.0, expiry=110.0, delta=1.0, beta=2.0, rand=math.exp(-5))


def test_cache_entry_round_trips_and_foreign_bytes_read_as_a_miss() -> None:
    entry = CacheEntry(b'{"id":1}', expiry=1_700_000_000.25, delta=0.0123)
    raw = encode_entry(entry)
    assert len(raw) == 17 + len(entry.value)
    assert decode_entry(raw) == entry
    assert decode_entry(b"plain text someone else wrote") is None
    assert decode_entry(b"\x01short") is None


def test_cache_local_layer_evicts_the_least_recently_used_entry() -> None:
    layer = _LocalLayer(ttl_s=60, max_entries=2)
    layer.put("a", b"1", max_age_s=60)
    layer.put("b", b"2", max_age_s=60)
    assert layer.get("a") == b"1"  # a is now the most recent
    layer.put("c", b"3", max_age_s=60)
    assert layer.get("b") is None
    assert layer.get("a") == b"1"
    assert layer.get("c") == b"3"


def test_cache_local_layer_never_outlives_the_redis_entry() -> None:
    layer = _LocalLayer(ttl_s=60, max_entries=8)
    layer.put("expired", b"x", max_age_s=-1)
    assert layer.get("expired") is None
    assert len(layer) == 0


def test_cache_packed_response_round_trips_headers_and_any_body() -> None:
    headers = {"ETag": '"3"', "Content-Type": "application/json"}
    body = b'{"a":"\r\n\r\n inside the body is fine"}'
    assert unpack_response(pack_response(body, headers)) == (headers, body)
    assert unpack_response(pack_response(b"\r\nbody")) == ({}, b"\r\nbody")
    assert unpack_response(pack_response(b"")) == ({}, b"")
