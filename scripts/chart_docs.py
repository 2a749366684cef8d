"""Keep each chart's README values table in step with its values.yaml.

Every value in values.yaml carries a `# -- description` comment (continued on further `#`
lines) right above its key; a documented map is one row (its children are not listed).
`python scripts/chart_docs.py` rewrites the table between the markers in charts/*/README.md;
the chart tests fail when a value is undocumented or a README table is stale.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
START = "<!-- values-table:start -->"
END = "<!-- values-table:end -->"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?:\s|$)")


@dataclass(frozen=True)
class ValueDoc:
    path: str
    default: Any
    description: str


class UndocumentedValueError(ValueError):
    """A value in values.yaml has no `# --` description."""


def _lookup(data: Any, path: list[str]) -> Any:
    for part in path:
        data = data[part]
    return data


def value_docs(chart_dir: Path) -> list[ValueDoc]:
    """The documented values of a chart, in file order."""
    text = (chart_dir / "values.yaml").read_text()
    data = yaml.safe_load(text)
    docs: list[ValueDoc] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing maps
    pending: list[str] | None = None  # description lines waiting for their key
    covered_indent: int | None = None  # inside a documented map: skip its children
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped[4:].strip()]
            continue
        if stripped.startswith("#"):
            if pending is not None:
                pending.append(stripped[1:].strip())
            continue
        match = _KEY.match(line)
        if match is None:
            continue  # list items, blank lines, continuation of a flow value
        indent, key = len(match["indent"]), match["key"]
        if covered_indent is not None:
            if indent > covered_indent:
                continue
            covered_indent = None
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = [k for _, k in stack] + [key]
        value = _lookup(data, path)
        if pending is not None:
            docs.append(ValueDoc(".".join(path), value, " ".join(pending)))
            pending = None
            covered_indent = indent  # whatever is nested below belongs to this row
            continue
        if isinstance(value, dict) and value:
            stack.append((indent, key))
            continue
        raise UndocumentedValueError(f"{chart_dir.name}: `{'.'.join(path)}` has no # -- comment")
    return docs


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def values_table(chart_dir: Path) -> str:
    rows = ["| Key | Default | Description |", "| --- | --- | --- |"]
    for doc in value_docs(chart_dir):
        default = json.dumps(doc.default, separators=(", ", ": "))
        rows.append(f"| `{doc.path}` | `{_cell(default)}` | {_cell(doc.description)} |")
    return "\n".join(rows)


def readme_with_table(readme: str, table: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    if not rest:
        raise ValueError(f"README has no {START} marker")
    return f"{head}{START}\n{table}\n{END}{tail}"


def main() -> int:
    for chart_dir in sorted((REPO_ROOT / "charts").iterdir()):
        readme = chart_dir / "README.md"
        if not (chart_dir / "values.yaml").is_file() or not readme.is_file():
            continue
        updated = readme_with_table(readme.read_text(), values_table(chart_dir))
        if updated != readme.read_text():
            readme.write_text(updated)
            print(f"updated {readme.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
