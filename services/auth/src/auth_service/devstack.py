"""What `make run` needs from auth on a developer's machine (never used in production)."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def prepare_local_run(
    env: dict[str, str], *, data_dir: Path, say: Callable[[str], None]
) -> dict[str, str]:
    """Keep one development key-encryption key in data_dir, so keys survive restarts."""
    if os.environ.get("AUTH_KEY_ENCRYPTION_KEY"):
        return env
    kek_file = data_dir / "auth-key-encryption-key"
    if not kek_file.exists():
        kek_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        kek_file.chmod(0o600)
        say(f"generated a development key-encryption key in {kek_file} (never for production)")
    return {**env, "AUTH_KEY_ENCRYPTION_KEY": kek_file.read_text().strip()}
