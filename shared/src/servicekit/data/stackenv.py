"""`.data/stack.env`: the settings of the stack `make run` is running, for the CLIs to find.

The embedded servers listen on a new random port at every start, so `make run` writes the
URLs it chose here and removes the file when it stops. Mode 0600: URLs you give it may carry
passwords. The key-encryption key is never copied in: a `NAME_FILE=path` line names the file
that holds NAME's value (the development key stays in its own 0600 file).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

FILE_NAME = "stack.env"
_FILE_SUFFIX = "_FILE"


def default_data_dir(root: Path) -> Path:
    """Where `make run` keeps its data: STACK_DATA_DIR, else `<root>/.data`."""
    return Path(os.environ.get("STACK_DATA_DIR") or root / ".data")


def write(path: Path, settings: Mapping[str, str], *, header: str) -> None:
    """Replace `path` atomically with `KEY=value` lines, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"# {header}\n")
        out.writelines(f"{key}={value}\n" for key, value in settings.items())
    os.replace(tmp, path)


def candidates(cwd: Path | None = None) -> list[Path]:
    """Where a CLI looks, first match wins: STACK_DATA_DIR; `.data/` in the working folder or
    a parent of it; `.data/` next to the virtualenv the CLI runs from (`.venv/bin/...`)."""
    if os.environ.get("STACK_DATA_DIR"):
        return [Path(os.environ["STACK_DATA_DIR"]) / FILE_NAME]
    here = (cwd or Path.cwd()).resolve()
    found = [folder / ".data" / FILE_NAME for folder in (here, *here.parents)]
    found.append(Path(sys.prefix).resolve().parent / ".data" / FILE_NAME)
    return found


def parse(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def load(required: str, *, environ: dict[str, str] | None = None) -> Path | None:
    """When `required` (a URL variable) is not set, fill the unset variables from the running
    stack's file and return its path; None when `required` is set or no stack is running.

    Variables already set always win: the file only fills gaps.
    """
    env = os.environ if environ is None else environ
    if env.get(required):
        return None
    for path in candidates():
        if path.is_file():
            break
    else:
        return None
    for key, value in parse(path.read_text()).items():
        if key.endswith(_FILE_SUFFIX):
            name = key.removesuffix(_FILE_SUFFIX)
            if not env.get(name):
                env[name] = Path(value).read_text().strip()
        else:
            env.setdefault(key, value)
    return path
