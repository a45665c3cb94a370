"""A loopback HTTP server for the benchmarks: a function maps a path (and the server's base URL)
to (status, content type, body), optionally after a delay like a real network."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable

Answer = tuple[int, str, bytes]  # status, content type, body
ROBOTS_ALLOW_ALL: Answer = (200, "text/plain", b"User-agent: *\nAllow: /\n")
NOT_FOUND: Answer = (404, "text/plain", b"")


def serve(
    answer: Callable[[str, str], Answer], delay_s: Callable[[str], float] = lambda path: 0.0
) -> http.server.ThreadingHTTPServer:
    """Serve ``answer(path, base_url)`` on 127.0.0.1 in a daemon thread; stop it with ``shutdown()``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            status, content_type, body = answer(path, f"http://127.0.0.1:{self.server.server_address[1]}")
            time.sleep(delay_s(path))
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # a client killed on purpose (the resume benchmark) hangs up

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
