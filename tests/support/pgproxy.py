"""A TCP proxy in front of PostgreSQL that can lose the reply to one COMMIT.

Armed, it forwards the next client chunk carrying `COMMIT` to the server, swallows the
server's answer (so the transaction is committed) and closes both sides: the client sees
its connection die after a COMMIT that did apply, the fault a failover or a network cut
produces. Plain text only (the test server has ssl off; asyncpg sends COMMIT as a simple
query).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url


class CommitReplyDropper:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._armed = threading.Event()
        self.dropped = threading.Event()
        self._closing = False

    def url_for(self, database_url: str) -> str:
        """`database_url` with its connections going through this proxy."""
        proxied = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return proxied.render_as_string(hide_password=False)

    def arm(self) -> None:
        self.dropped.clear()
        self._armed.set()

    def _serve(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            pair = _Pair(client, server)
            threading.Thread(target=self._upward, args=(pair,), daemon=True).start()
            threading.Thread(target=self._downward, args=(pair,), daemon=True).start()

    def _upward(self, pair: _Pair) -> None:
        while chunk := _recv(pair.client):
            if self._armed.is_set() and b"COMMIT" in chunk:
                self._armed.clear()
                pair.drop_next_reply = True
            with contextlib.suppress(OSError):
                pair.server.sendall(chunk)
        pair.close()

    def _downward(self, pair: _Pair) -> None:
        while chunk := _recv(pair.server):
            if pair.drop_next_reply:
                # The server answered the COMMIT: it applied. The client never hears of it.
                # Set before the close: the client may answer its own caller at once.
                self.dropped.set()
                pair.close()
                return
            with contextlib.suppress(OSError):
                pair.client.sendall(chunk)
        pair.close()

    @contextmanager
    def running(self) -> Iterator[CommitReplyDropper]:
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._closing = True
            self._listener.close()


@contextmanager
def commit_dropper_for(database_url: str) -> Iterator[CommitReplyDropper]:
    """A running CommitReplyDropper in front of `database_url`'s server."""
    url = make_url(database_url)
    with CommitReplyDropper((url.host or "127.0.0.1", url.port or 5432)).running() as proxy:
        yield proxy


class _Pair:
    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.drop_next_reply = False

    def close(self) -> None:
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""
