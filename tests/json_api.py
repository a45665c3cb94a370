"""A loopback JSON API, and a way to run the written scripts, for tests of the scripts that set alts through a
platform's API: each request is handed to a platform's fake (its method, path, headers and JSON body), which
answers a status, JSON and headers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# (method, path, headers, body) -> (status, the JSON answered, more headers)
Answer = Callable[[str, str, dict[str, str], Any], tuple[int, Any, dict[str, str]]]


class JsonApi:
    """A server on 127.0.0.1 that answers by ``answer``, until :meth:`close`."""

    def __init__(self, answer: Answer) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(answer))
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(answer: Answer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_PATCH(self) -> None:
            self._answer("PATCH")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, data, headers = answer(method, self.path, dict(self.headers), body)
            encoded = json.dumps(data).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)

    return Handler


def run_python(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a written platform script as its user does (``env`` added, no proxy: the fake API is on loopback)."""
    environment = {name: value for name, value in os.environ.items() if "proxy" not in name.lower()} | env
    return subprocess.run([sys.executable, str(script), *args], env=environment, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
