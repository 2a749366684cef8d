"""nginx in front of local replicas, configured from the charts' Ingress objects.

What ingress-nginx would do with the rendered Ingress rules, done with Debian's nginx: one
`server` per host, one `location` per path (Prefix `/p` -> `location = /p` and `location /p/`,
Exact -> `location = /p`), proxied to an upstream holding the Service's endpoints, here the
loopback replicas a test started. The proxy settings are ingress-nginx's defaults: retry the
next endpoint on a connection error or timeout (never a non-idempotent request already sent),
upstream keep-alive, and `X-Forwarded-For` set to the peer address (use-forwarded-headers off:
whatever a client puts there itself is replaced). Each Service also gets a listener of its own,
standing in for the cluster's Service address (orders reaches auth's JWKS through it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servicekit.data.embedded import free_port

NGINX = "/usr/sbin/nginx"

# ingress-nginx ConfigMap defaults (docs: user-guide/nginx-configuration/configmap).
PROXY_CONNECT_TIMEOUT_S = 5
PROXY_READ_TIMEOUT_S = 60
PROXY_NEXT_UPSTREAM = "error timeout"
PROXY_NEXT_UPSTREAM_TRIES = 3
# Below uvicorn's 5 s keep-alive: nginx must never reuse a connection the app is closing.
UPSTREAM_KEEPALIVE_TIMEOUT_S = 4


@dataclass(frozen=True)
class Route:
    """One path of an Ingress rule and the Service port it sends to."""

    host: str
    path: str
    path_type: str
    service: str
    port: str | int


def ingress_routes(manifests: Iterable[Mapping[str, Any]]) -> list[Route]:
    """Every (host, path) -> Service port of the Ingress objects among `manifests`."""
    routes: list[Route] = []
    for manifest in manifests:
        if manifest.get("kind") != "Ingress":
            continue
        for rule in manifest["spec"].get("rules", []):
            for path in rule["http"]["paths"]:
                service = path["backend"]["service"]
                port = service["port"].get("name") or service["port"]["number"]
                routes.append(
                    Route(
                        rule.get("host", ""), path["path"], path["pathType"], service["name"], port
                    )
                )
    return routes


def _locations(route: Route) -> list[str]:
    path = route.path
    if route.path_type == "Exact":
        return [f"= {path}"]
    if route.path_type == "Prefix":
        # Kubernetes Prefix matches whole path elements: /oauth matches /oauth and /oauth/token,
        # never /oauthx.
        trimmed = path.rstrip("/")
        return ["/"] if not trimmed else [f"= {trimmed}", f"{trimmed}/"]
    return [path]  # ImplementationSpecific: nginx's own prefix match, as ingress-nginx does


def upstream_name(service: str) -> str:
    # One port per Service here (`http`), so the Service name names its endpoints.
    return f"service-{service}"


_PROXY_HEADERS = """
        proxy_set_header Host $host;
        proxy_set_header X-Request-ID $request_id;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Host $host;
        proxy_set_header X-Forwarded-Port $server_port;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Scheme $scheme;
        proxy_set_header Connection "";"""


def render_config(
    routes: Sequence[Route],
    endpoints: Mapping[str, Sequence[int]],
    *,
    listen_port: int,
    service_ports: Mapping[str, int],
    prefix: Path,
    generation: int = 1,
) -> str:
    """The nginx.conf for `routes`; `endpoints` maps each Service name to its replicas' ports
    on 127.0.0.1, `service_ports` each Service name to the port of its cluster-address listener.
    `generation` is served at /_generation, so a reload can be seen to have taken effect."""
    upstreams: list[str] = []
    # max_fails=0: like ingress-nginx's balancer, never take an endpoint out on a failure of
    # its own; the endpoints list decides, and a refused connection goes to the next one.
    for service, ports in sorted(endpoints.items()):
        members = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in ports)
        upstreams.append(
            f"    upstream {upstream_name(service)} {{\n{members}\n"
            f"        keepalive 32;\n"
            f"        keepalive_timeout {UPSTREAM_KEEPALIVE_TIMEOUT_S}s;\n    }}"
        )
    by_host: dict[str, list[Route]] = {}
    for route in routes:
        if route.service not in endpoints:
            raise KeyError(f"no endpoints for Service {route.service}")
        by_host.setdefault(route.host, []).append(route)
    servers: list[str] = []
    for host, host_routes in sorted(by_host.items()):
        locations = [
            f"        location {where} {{\n"
            f"            proxy_pass http://{upstream_name(r.service)};\n        }}"
            for r in host_routes
            for where in _locations(r)
        ]
        name = host or "_"
        servers.append(
            f"    server {{\n        listen 127.0.0.1:{listen_port};\n"
            f"        server_name {name};\n{_PROXY_HEADERS}\n" + "\n".join(locations) + "\n    }"
        )
    for service, port in sorted(service_ports.items()):
        servers.append(
            f"    server {{\n        listen 127.0.0.1:{port};\n{_PROXY_HEADERS}\n"
            f"        location / {{\n            proxy_pass http://{upstream_name(service)};"
            "\n        }\n    }"
        )
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    log_format upstreams '$remote_addr "$host" "$request" $status '
                         'upstream=$upstream_addr upstream_status=$upstream_status';
    access_log {prefix}/access.log upstreams;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    # Requests for a host no Ingress names get ingress-nginx's default backend answer.
    server {{
        listen 127.0.0.1:{listen_port} default_server;
        location / {{
            return 404;
        }}
        location = /_generation {{
            return 200 "{generation}";
        }}
    }}

    proxy_http_version 1.1;
    proxy_connect_timeout {PROXY_CONNECT_TIMEOUT_S}s;
    proxy_send_timeout {PROXY_READ_TIMEOUT_S}s;
    proxy_read_timeout {PROXY_READ_TIMEOUT_S}s;
    proxy_next_upstream {PROXY_NEXT_UPSTREAM};
    proxy_next_upstream_tries {PROXY_NEXT_UPSTREAM_TRIES};
    proxy_buffering off;
    client_max_body_size 1m;

{chr(10).join(upstreams)}

{chr(10).join(servers)}
}}
"""


@dataclass
class Nginx:
    """An nginx master process in the foreground with a generated configuration."""

    prefix: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.prefix / "nginx.conf"

    def start(self, config: str, *, timeout_s: float = 10) -> Nginx:
        self.prefix.mkdir(parents=True, exist_ok=True)
        self._write(config)
        self.process = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(self.config_path), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_s
        while not _accepts(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nginx exited: {self.process.stderr and self.process.stderr.read()!r}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"nginx not listening on {self.port} in {timeout_s}s")
            time.sleep(0.05)
        return self

    def _write(self, config: str) -> None:
        candidate = self.prefix / "nginx.conf.new"
        candidate.write_text(config)
        check = subprocess.run(
            [NGINX, "-t", "-q", "-p", str(self.prefix), "-c", str(candidate)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused its config:\n{check.stderr}\n{config}")
        candidate.replace(self.config_path)

    def reload(self, config: str, generation: int, *, timeout_s: float = 30) -> None:
        """What ingress-nginx does when a Service's endpoints change: load the new config
        (SIGHUP: new workers take new requests, old ones finish theirs) and return once new
        requests see it (its /_generation answers `generation`)."""
        assert self.process is not None
        self._write(config)
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                    sock.sendall(b"GET /_generation HTTP/1.0\r\nHost: _\r\n\r\n")
                    answer = sock.recv(4096)
                if answer.endswith(f"\r\n\r\n{generation}".encode()):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"nginx did not load generation {generation}")
            time.sleep(0.02)

    def access_log(self) -> str:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, *, timeout_s: float = 10) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGQUIT)  # graceful: finish requests in flight
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_ONE_UPSTREAM = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {upstream};
            proxy_bind {bind_address};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def one_upstream_config(proxy: Nginx, upstream: str, *, bind_address: str = "127.0.0.1") -> str:
    """A proxy in front of one process, setting `X-Forwarded-For` as an ingress does (what the
    client sent, then the address it connected from); `bind_address` is the source address
    nginx connects upstream from, so the upstream sees a proxy that is not 127.0.0.1."""
    return _ONE_UPSTREAM.format(
        prefix=proxy.prefix, port=proxy.port, upstream=upstream, bind_address=bind_address
    )


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
