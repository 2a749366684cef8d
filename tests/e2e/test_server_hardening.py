"""The server-side protections, against real server processes started as services are.

`python -m servicekit.web.serve <factory>` (what every `<service> serve` runs) and an app built
first and handed to `run_service`: both pass `servicekit.web.server.uvicorn_options` to uvicorn
explicitly. Raw sockets, because the point is what happens below HTTP clients' own limits.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from servicekit.data.embedded import free_port, wait_for_port
from tests.support.environment import clean_environ
from tests.support.processes import REPO_ROOT

# Real servers waited on until their head and body deadlines fire.
pytestmark = pytest.mark.slow

MAX_HEAD = 8192
MAX_BODY = 8192
HEAD_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
# How long a test waits for the server to act on one of those deadlines: a server that has not
# acted by then is hanging, not slow (two busy cores can add seconds, never ten deadlines).
PATIENCE_S = 10 * max(HEAD_TIMEOUT_S, BODY_TIMEOUT_S)
ENV = {
    "LIMITS_TEST_MAX_HEADER_BYTES": str(MAX_HEAD),
    "LIMITS_TEST_MAX_BODY_BYTES": str(MAX_BODY),
    "LIMITS_TEST_HEAD_TIMEOUT_S": str(HEAD_TIMEOUT_S),
    "LIMITS_TEST_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
    # Stopping each module's server waited out the 5 s drain window: 15 s per run, idle.
    "LIMITS_TEST_DRAIN_WINDOW_S": "0",
}


@dataclass
class Raw:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after answering

    def problem(self) -> dict[str, object]:
        assert self.headers["content-type"] == "application/problem+json"
        data: dict[str, object] = json.loads(self.body)
        assert data["status"] == self.status
        return data


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def read_log(self) -> str:
        return self.log.read_text(errors="replace")


FACTORY = ["-m", "servicekit.web.serve", "tests.support.limits_app:create_app"]
PREBUILT = ["-m", "tests.support.limits_app"]


@contextmanager
def _serving(tmp: Path, argv: list[str]) -> Iterator[Server]:
    port = free_port()
    log = tmp / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *argv, "--port", str(port)],
            env={**clean_environ(), **ENV},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
    server = Server(port, process, log)
    try:
        wait_for_port("127.0.0.1", port, timeout_s=60)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def httptools_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`python -m servicekit.web.serve`, on the hardened httptools protocol."""
    with _serving(tmp_path_factory.mktemp("factory"), FACTORY) as server:
        yield server


@pytest.fixture(scope="module")
def prebuilt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app built first, then handed to `uvicorn.Config` (as a programmatic runner does)."""
    with _serving(tmp_path_factory.mktemp("prebuilt"), PREBUILT) as server:
        yield server


@pytest.fixture(scope="module")
def h11_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with _serving(tmp_path_factory.mktemp("h11"), [*FACTORY, "--http", "h11"]) as server:
        yield server


def _connect(proc: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proc.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_response(sock: socket.socket) -> Raw:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"duplicate header {name}"
        headers[name.lower()] = value.strip()
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body = rest[:length]
    elif headers.get("transfer-encoding") == "chunked":  # enough for the small bodies here
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body = b"".join(rest.split(b"\r\n")[1::2])
    else:  # delimited by the end of the connection
        while chunk := sock.recv(65536):
            rest += chunk
        return Raw(status, headers, rest, closed=True)
    return Raw(status, headers, body, closed=_closed(sock))


def _closed(sock: socket.socket, wait_s: float = 0.5) -> bool:
    sock.settimeout(wait_s)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.settimeout(5)


def _request(path: str = "/search", *, headers: str = "", body: bytes = b"") -> bytes:
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    return f"GET {path} HTTP/1.1\r\nHost: t\r\n{headers}{length}\r\n".encode() + body


# Server header ---------------------------------------------------------------------------------


def _no_server_header_anywhere(proc: Server) -> None:
    answers = []
    for raw in (_request("/health/live"), _request("/nowhere"), b"NOT HTTP AT ALL\r\n\r\n"):
        with _connect(proc) as sock:
            sock.sendall(raw)
            answers.append(_read_response(sock))
    assert [a.status for a in answers] == [200, 404, 400]  # the 400 is uvicorn's own
    for answer in answers:
        assert "server" not in answer.headers
    assert answers[0].headers["x-content-type-options"] == "nosniff"


def test_no_server_header_under_uvicorn_factory(httptools_server: Server) -> None:
    _no_server_header_anywhere(httptools_server)
    assert "server hardened" in httptools_server.read_log()


def test_no_server_header_under_h11(h11_server: Server) -> None:
    _no_server_header_anywhere(h11_server)


def test_an_app_built_before_the_server_is_hardened_too(prebuilt_server: Server) -> None:
    """A runner that builds the app, then hands the instance to `run_service`."""
    _no_server_header_anywhere(prebuilt_server)
    _assert_cut_off_at_the_head_limit(prebuilt_server)
    _assert_idle_connection_closed(prebuilt_server)
    assert "HardenedHttpToolsProtocol" in prebuilt_server.read_log()


# Request head size -----------------------------------------------------------------------------


def _padded(total: int) -> bytes:
    """A request whose head (request line, headers, final CRLF) is exactly `total` bytes."""
    bare = len(_request(headers="X-Pad: \r\n"))
    return _request(headers="X-Pad: " + "p" * (total - bare) + "\r\n")


def test_a_head_at_the_limit_passes(httptools_server: Server) -> None:
    with _connect(httptools_server) as sock:
        sock.sendall(_padded(MAX_HEAD))
        answer = _read_response(sock)
    assert answer.status == 200


def test_a_head_growing_past_the_limit_is_cut_off_with_431(
    httptools_server: Server,
) -> None:
    """httptools alone reads a head of any size; the hardened protocol stops at the limit."""
    _assert_cut_off_at_the_head_limit(httptools_server)


def _assert_cut_off_at_the_head_limit(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /search HTTP/1.1\r\nHost: t\r\n")
        sent = 0
        try:
            while sent < MAX_HEAD * 50:  # far more than the limit, a line at a time
                sock.sendall(f"X-Pad-{sent}: {'p' * 500}\r\n".encode())
                sent += 512
                time.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_response(sock)
    assert answer.status == 431
    assert answer.problem()["type"] == "https://errors.example.com/problems/headers-too-large"
    assert answer.headers["connection"] == "close"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "server" not in answer.headers
    assert sent < MAX_HEAD * 50  # the server stopped reading long before the client finished


def test_h11_answers_an_oversized_head_with_its_own_400(h11_server: Server) -> None:
    """Documented: under `--http h11` the cap is h11's, and its answer is a plain-text 400."""
    with _connect(h11_server) as sock:
        sock.sendall(b"GET /search HTTP/1.1\r\nHost: t\r\n")
        try:
            for i in range(MAX_HEAD // 256 + 4):
                sock.sendall(f"X-Pad-{i}: {'p' * 240}\r\n".encode())
                time.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError):
            pass  # h11 stopped reading: its answer is already on the way
        answer = _read_response(sock)
    assert answer.status == 400
    assert "server" not in answer.headers


# Slow clients ----------------------------------------------------------------------------------


def test_a_connection_that_never_sends_a_request_is_closed(
    httptools_server: Server,
) -> None:
    _assert_idle_connection_closed(httptools_server)


def _assert_idle_connection_closed(server: Server) -> None:
    started = time.monotonic()  # before connecting: the server's clock starts after this
    with _connect(server) as sock:
        sock.settimeout(PATIENCE_S)
        assert sock.recv(1) == b""  # closed, no answer
        assert time.monotonic() - started >= HEAD_TIMEOUT_S  # by the deadline, not at once


def test_a_trickling_head_gets_408(httptools_server: Server) -> None:
    with _connect(httptools_server) as sock:
        sock.sendall(b"GET /search HTTP/1.1\r\nHost: t\r\n")
        sock.settimeout(PATIENCE_S)
        answer = _read_response(sock)
    assert answer.status == 408
    assert answer.problem()["type"] == "https://errors.example.com/problems/head-timeout"
    assert answer.closed


def test_stray_line_breaks_do_not_keep_a_connection_open(
    httptools_server: Server,
) -> None:
    """Bytes that never start a request still run the head deadline."""
    with _connect(httptools_server) as sock:
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < PATIENCE_S:
            try:
                sock.sendall(b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if _closed(sock, wait_s=0.2):
                closed = True
                break
    assert closed


def test_slow_handlers_and_keep_alive_are_not_mistaken_for_slow_clients(
    httptools_server: Server,
) -> None:
    """The head deadline covers the head only: a handler slower than it, and a second request
    on the same connection after a pause, both get their answers."""
    with _connect(httptools_server) as sock:
        sock.sendall(_request(f"/slow?seconds={HEAD_TIMEOUT_S * 1.5}"))
        first = _read_response(sock)
        time.sleep(HEAD_TIMEOUT_S * 0.5)
        sock.sendall(_request("/search?q=abc"))
        second = _read_response(sock)
    assert (first.status, second.status) == (200, 200)
    assert json.loads(second.body) == {"length": 3}


def test_a_trickling_body_gets_408(httptools_server: Server) -> None:
    with _connect(httptools_server) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        sock.settimeout(PATIENCE_S)
        answer = _read_response(sock)
    assert answer.status == 408
    assert answer.problem()["type"] == "https://errors.example.com/problems/body-timeout"
    assert answer.closed


# Bodies ----------------------------------------------------------------------------------------


def _chunked(total: int, piece: int = 1000) -> Iterator[bytes]:
    yield b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    sent = 0
    while sent < total:
        size = min(piece, total - sent)
        sent += size
        yield f"{size:x}\r\n".encode() + b"z" * size + b"\r\n"
    yield b"0\r\n\r\n"


@pytest.mark.parametrize(("total", "status"), [(MAX_BODY, 200), (MAX_BODY + 1, 413)])
def test_a_chunked_body_is_counted_as_it_streams(
    httptools_server: Server, total: int, status: int
) -> None:
    with _connect(httptools_server) as sock:
        try:
            for part in _chunked(total):
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = _read_response(sock)
    assert answer.status == status
    if status == 200:
        assert json.loads(answer.body) == {"bytes": MAX_BODY}
    else:
        assert answer.problem()["type"] == "https://errors.example.com/problems/body-too-large"
        assert answer.closed
