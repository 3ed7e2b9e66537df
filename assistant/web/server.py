"""Run an ASGI app with uvicorn in a background thread (tests, notebooks): ``with BackgroundServer(app) as url``."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    """A free TCP port on the host."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def proxy_options(trusted_proxies: str = "") -> dict[str, Any]:
    """uvicorn's options that believe X-Forwarded-For only from the listed proxies (none when empty)."""
    trusted = [p.strip() for p in trusted_proxies.split(",") if p.strip()]
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


class BackgroundServer:
    """uvicorn serving ``app`` on ``host:port`` in a daemon thread until ``stop()``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None, trusted_proxies: str = "") -> None:
        import uvicorn

        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="on",
                                **proxy_options(trusted_proxies))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        """Start and wait until the server accepts requests; returns the URL."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web app did not start on {self.url}")
            time.sleep(0.05)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to exit and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
