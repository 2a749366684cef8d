"""Static rules ruff cannot express: every security-rule suppression says why, in place."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("shared", "services", "tests", "bench", "scripts", "migrations")
# A suppression names its codes, then a dash (or a second comment) and the reason in words.
NOQA = re.compile(r"#\s*noqa(?P<codes>:[\s,A-Z0-9]+)?(?P<rest>.*)$")
REASON = re.compile(r"^\s*(-|#|—)\s*\S")


def _python_files() -> list[Path]:
    return sorted(
        p
        for top in SOURCES
        for p in (ROOT / top).rglob("*.py")
        if not any(part.startswith(".") for part in p.relative_to(ROOT).parts)
    )


def _security_noqa_without_reason() -> list[str]:
    bad = []
    for path in _python_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = NOQA.search(line)
            if match is None:
                continue
            codes = match["codes"] or ""
            blanket = not codes  # a bare noqa comment silences the security rules too
            security = blanket or re.search(r"\bS\d{3}\b", codes)
            if security and not REASON.match(match["rest"]):
                bad.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return bad


def test_every_security_rule_suppression_carries_its_reason() -> None:
    """ruff's S rules are on; a `# noqa: S...` (or a bare `# noqa`) must say why, in place."""
    assert _python_files(), "no sources found"
    assert _security_noqa_without_reason() == []
