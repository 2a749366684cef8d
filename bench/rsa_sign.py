"""The signing limit: raw RSA-2048 PKCS#1 v1.5 / SHA-256 signatures per second with
`cryptography`, on the core the servers are pinned to, so token issuance can be shown as a
fraction of it. `python -m bench.rsa_sign` measures in this process (pin it yourself)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# About the size of an access token's signing input (header + claims, base64url).
_SIGNING_INPUT = b"e" * 420


def sign_rate(seconds: float = 3.0, bits: int = 2048) -> float:
    """Signatures per second over `seconds` of wall time, after a short warm-up."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pad, algo = padding.PKCS1v15(), hashes.SHA256()
    for _ in range(50):
        key.sign(_SIGNING_INPUT, pad, algo)
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(20):
            key.sign(_SIGNING_INPUT, pad, algo)
        count += 20
    return count / (time.perf_counter() - started)


def pinned_sign_rate(core: int, seconds: float = 3.0) -> float:
    """Run sign_rate in a fresh interpreter pinned to `core` (as the servers are)."""
    out = subprocess.run(
        ["taskset", "-c", str(core), sys.executable, "-m", "bench.rsa_sign", str(seconds)],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    ).stdout
    return float(out.strip().splitlines()[-1])


if __name__ == "__main__":
    print(f"{sign_rate(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0):.1f}")
