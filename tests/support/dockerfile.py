"""Read a Dockerfile, and build its image "by hand" where no Docker engine runs.

`parse_dockerfile` turns a Dockerfile into stages of instructions, with build arguments (the one
Dockerfile builds either service from `--build-arg SERVICE=...`); `image_stages` keeps the stages
one target needs, as BuildKit does, its FROM chain folded into one. `emulate_build` replays the
instructions that matter for the image's content on the local filesystem, with `/` of the image
mapped to a temporary folder: COPY from the build context (refusing what .dockerignore
excludes), COPY between stages, ENV and WORKDIR, and every `uv sync` RUN with the local uv and
its warm cache. What it cannot replay (user creation, the uv binary's image) is recorded, not
faked; the static tests check those instructions themselves.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, COPY, RUN, ...
    args: str  # the rest of the line, flags removed
    flags: dict[str, str]
    line: int

    @property
    def is_exec_form(self) -> bool:
        return self.args.lstrip().startswith("[")

    def exec_form(self) -> list[str]:
        value = json.loads(self.args)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"line {self.line}: not a JSON array of strings: {self.args}")
        return value


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


_FLAG = re.compile(r"^--(?P<name>[a-z-]+)(?:=(?P<value>\S*))?\s*")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; drop comments and blank lines (parser directives too)."""
    lines: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # a comment inside a continuation
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1].strip())
            continue
        buffer.append(stripped)
        lines.append((start, " ".join(part for part in buffer if part)))
        buffer = []
    if buffer:
        lines.append((start, " ".join(buffer)))
    return lines


def _substitute(value: str, variables: Mapping[str, str], *, keep_unknown: bool = False) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if keep_unknown and name not in variables:
            return match.group(0)
        return variables.get(name, "")

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", repl, value)


def parse_dockerfile(path: Path, build_args: Mapping[str, str] | None = None) -> list[Stage]:
    """Every stage, with `--build-arg` values (else the ARG defaults) substituted in FROM and,
    after a stage's own `ARG NAME`, in its instructions (other `$NAME`s are left as written)."""
    given = dict(build_args or {})
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    stage_args: dict[str, str] = {}
    for line_no, line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: dict[str, str] = {}
        rest = rest.strip()
        while keyword in {"COPY", "ADD", "RUN", "FROM", "HEALTHCHECK"} and rest.startswith("--"):
            match = _FLAG.match(rest)
            if match is None:
                break
            flags[match["name"]] = match["value"] or ""
            rest = rest[match.end() :]
        if keyword == "ARG":
            name, sep, default = rest.partition("=")
            name = name.strip()
            if not stages:
                global_args[name] = given.get(name, default.strip())
            else:  # a stage sees a global ARG only after declaring it
                fallback = default.strip() if sep else global_args.get(name, "")
                stage_args[name] = given.get(name, fallback)
            continue
        if keyword == "FROM":
            parts = rest.split()
            base = _substitute(parts[0], global_args)
            alias = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=alias))
            stage_args = {}
            continue
        if not stages:
            raise ValueError(f"{path}:{line_no}: {keyword} before the first FROM")
        if keyword != "ENV":  # env_pairs substitutes ENV values itself
            rest = _substitute(rest, stage_args, keep_unknown=True)
        stages[-1].instructions.append(Instruction(keyword, rest, flags, line_no))
    return stages


def image_stages(path: Path, build_args: Mapping[str, str] | None = None) -> list[Stage]:
    """The stages that make the default target (the last stage), as BuildKit sees them: stages
    nothing needs are dropped, and the chain of stages the target is built FROM is folded into
    it, so the result's last stage is the whole final image (base: an external image)."""
    stages = parse_dockerfile(path, build_args)
    by_name = {s.name: s for s in stages if s.name}

    def chain(stage: Stage) -> list[Stage]:
        parent = by_name.get(stage.base)
        return [*chain(parent), stage] if parent is not None else [stage]

    def folded(stage: Stage) -> Stage:
        links = chain(stage)
        instructions = [i for link in links for i in link.instructions]
        return Stage(base=links[0].base, name=stage.name, instructions=instructions)

    needed: list[Stage] = []
    pending = [folded(stages[-1])]
    while pending:
        stage = pending.pop()
        needed.append(stage)
        for ins in stage.instructions:
            source = by_name.get(ins.flags.get("from", ""))
            if source is not None and all(s.name != source.name for s in needed + pending):
                pending.append(folded(source))
    order = {id(s): n for n, s in enumerate(stages)}
    final = needed[0]
    others = sorted(needed[1:], key=lambda s: order[id(by_name[s.name])] if s.name else 0)
    return [*others, final]


def env_pairs(instruction: Instruction, variables: dict[str, str]) -> dict[str, str]:
    """`ENV A=1 B="x $A"` -> {"A": "1", "B": "x 1"} (substituting earlier variables)."""
    result: dict[str, str] = {}
    for token in shlex.split(instruction.args):
        name, sep, value = token.partition("=")
        if not sep:
            raise ValueError(f"line {instruction.line}: use the ENV KEY=VALUE form")
        result[name] = _substitute(value, {**variables, **result})
    return result


def healthcheck_command(stage: Stage) -> list[str]:
    """The exec-form command of the stage's HEALTHCHECK (`HEALTHCHECK [opts] CMD [...]`)."""
    check = stage.last("HEALTHCHECK")
    if check is None:
        raise ValueError("no HEALTHCHECK")
    keyword, _, command = check.args.partition(" ")
    if keyword.upper() != "CMD" or not command.strip().startswith("["):
        raise ValueError(f"line {check.line}: HEALTHCHECK must be `CMD [exec form]`")
    value = json.loads(command)
    assert isinstance(value, list)
    return [str(v) for v in value]


# --- .dockerignore ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DockerIgnore:
    patterns: tuple[tuple[bool, str], ...]  # (is_exception, pattern)

    @classmethod
    def load(cls, context: Path) -> DockerIgnore:
        path = context / ".dockerignore"
        patterns: list[tuple[bool, str]] = []
        if path.exists():
            for raw in path.read_text().splitlines():
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                exception = line.startswith("!")
                pattern = line[1:] if exception else line
                patterns.append((exception, pattern.strip("/")))
        return cls(tuple(patterns))

    def excludes(self, relative: str) -> bool:
        """Docker's rule: the last matching pattern wins; a pattern matching a parent folder
        excludes everything below it."""
        parts = PurePosixPath(relative).parts
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for exception, pattern in self.patterns:
            if any(_match(pattern, c) for c in candidates):
                excluded = not exception
        return excluded


def _match(pattern: str, path: str) -> bool:
    if pattern.startswith("**/"):
        tail = pattern[3:]
        segments = path.split("/")
        return any(fnmatch.fnmatchcase("/".join(segments[i:]), tail) for i in range(len(segments)))
    if pattern.count("/") != path.count("/"):
        return False
    return fnmatch.fnmatchcase(path, pattern)


# --- the emulated build -----------------------------------------------------------------------


@dataclass
class EmulatedImage:
    """The final stage's filesystem (under `root`) and its configuration."""

    root: Path
    workdir: str  # path inside the image
    env: dict[str, str]  # the final stage's ENV, as written (image paths)
    cmd: list[str]
    user: str
    skipped: list[str]  # instructions replayed by nobody (see the module docstring)

    def host_path(self, image_path: str) -> Path:
        return self.root / image_path.lstrip("/")

    def map_value(self, value: str) -> str:
        """Image paths (under a top folder that exists in `root`) -> host paths, per segment."""
        segments = []
        for segment in value.split(":"):
            top = PurePosixPath(segment).parts[1:2]
            if segment.startswith("/") and top and (self.root / top[0]).exists():
                segments.append(str(self.host_path(segment)))
            else:
                segments.append(segment)
        return ":".join(segments)

    def runtime_env(self, container_env: dict[str, str]) -> dict[str, str]:
        """What the process sees: the image's ENV overlaid by the container's env (as the
        kubelet and Docker do), with image paths mapped to this emulation's folder."""
        merged = {**self.env, **container_env}
        return {name: self.map_value(value) for name, value in merged.items()}

    def resolve(self, argv: list[str], env: dict[str, str]) -> list[str]:
        """argv with the program looked up on the image's PATH and image paths mapped."""
        program = shutil.which(argv[0], path=env.get("PATH", ""))
        if program is None:
            raise FileNotFoundError(f"{argv[0]} is not on the image's PATH ({env.get('PATH')})")
        return [program, *(self.map_value(arg) for arg in argv[1:])]


def _copy_into(
    source: Path,
    destination: Path,
    *,
    context: Path | None = None,
    ignore: DockerIgnore | None = None,
) -> None:
    """Copy a file or a folder's content; from the context, leave out what .dockerignore says."""
    if source.is_dir():

        def ignored(folder: str, names: list[str]) -> set[str]:
            if context is None or ignore is None:
                return set()
            base = Path(folder).relative_to(context)
            return {n for n in names if ignore.excludes((base / n).as_posix())}

        shutil.copytree(source, destination, dirs_exist_ok=True, symlinks=True, ignore=ignored)
    else:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def _build_env() -> dict[str, str]:
    """The host env for `uv sync`, minus anything that would point uv at another project."""
    drop = {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "UV_FROZEN", "UV_NO_SYNC", "PYTHONPATH"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def find_uv() -> str:
    found = shutil.which("uv") or str(REPO_ROOT / ".tools" / "uv" / "bin" / "uv")
    if not Path(found).exists():
        raise FileNotFoundError("uv not found: run `make sync` first")
    return found


def emulate_build(
    dockerfile: Path,
    context: Path,
    root: Path,
    build_args: Mapping[str, str] | None = None,
) -> EmulatedImage:
    stages = image_stages(dockerfile, build_args)
    ignore = DockerIgnore.load(context)
    # A stage with no instructions only names an external image (`FROM ghcr.io/... AS uv`).
    stage_names = {s.name for s in stages if s.name and s.instructions}
    skipped: list[str] = []
    uv = find_uv()
    final = stages[-1]
    env: dict[str, str] = {}
    workdir = "/"
    user = "root"
    cmd: list[str] = []
    for stage in stages:
        if stage.base not in stage_names:
            env, workdir, user, cmd = {}, "/", "root", []
        for ins in stage.instructions:
            where = f"{dockerfile.name}:{ins.line}"
            if ins.keyword == "WORKDIR":
                workdir = str(PurePosixPath(workdir) / ins.args)
                (root / workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
            elif ins.keyword == "ENV":
                variables = {"PATH": os.environ.get("PATH", ""), **env}
                env.update(env_pairs(ins, variables))
            elif ins.keyword == "USER":
                user = ins.args
            elif ins.keyword == "CMD":
                cmd = ins.exec_form()
            elif ins.keyword == "COPY":
                *sources, target = shlex.split(ins.args)
                dest = PurePosixPath(workdir) / target
                from_stage = ins.flags.get("from")
                if from_stage and from_stage not in stage_names:
                    skipped.append(f"{where} COPY --from={from_stage} (an external image)")
                    continue
                for src in sources:
                    if from_stage:
                        source = root / src.lstrip("/")
                        if not source.exists():
                            raise FileNotFoundError(f"{where}: {src} not in stage {from_stage}")
                    else:
                        if ignore.excludes(src):
                            raise FileNotFoundError(f"{where}: {src} is excluded by .dockerignore")
                        source = context / src
                        if not source.exists():
                            raise FileNotFoundError(f"{where}: {src} is not in the context")
                    many = len(sources) > 1 or target.endswith("/")
                    dest_path = root / str(dest).lstrip("/")
                    if many and not source.is_dir():
                        dest_path = dest_path / source.name
                    if from_stage and dest_path == source:
                        continue  # same path in both stages: one emulated filesystem
                    if from_stage:
                        _copy_into(source, dest_path)
                    else:
                        _copy_into(source, dest_path, context=context, ignore=ignore)
            elif ins.keyword == "RUN":
                argv = shlex.split(ins.args)
                if argv[:2] != ["uv", "sync"]:
                    skipped.append(f"{where} RUN {ins.args}")
                    continue
                run_env = {**_build_env(), **env}
                subprocess.run(
                    [uv, *argv[1:]],
                    cwd=root / workdir.lstrip("/"),
                    env=run_env,
                    check=True,
                    capture_output=True,
                )
    if stage is not final:  # pragma: no cover - the loop always ends on the final stage
        raise AssertionError("final stage not reached")
    return EmulatedImage(root=root, workdir=workdir, env=env, cmd=cmd, user=user, skipped=skipped)
