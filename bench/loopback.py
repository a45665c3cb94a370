"""A loopback HTTP server for the benchmarks: a function maps a path (and the server's base URL)
to (status, content type, body), optionally after a delay like a real network. Every answer has
an ETag (a matching If-None-Match gets a 304, as real servers do), and the server counts the
requests and the bodies it sent per path (``server.requests``, ``server.bodies``)."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections import Counter
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
        # TCP_NODELAY, as real servers set: headers and body are two writes, and with Nagle's algorithm
        # the body waits for the client's delayed ACK (40 ms per small response on Linux)
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:
            return

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            status, content_type, body = answer(path, f"http://127.0.0.1:{self.server.server_address[1]}")
            time.sleep(delay_s(path))
            etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
            with lock:
                server.requests[path] += 1
                if self.headers.get("If-None-Match") != etag:
                    server.bodies[path] += 1
            try:
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("ETag", etag)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # a client killed on purpose (the resume benchmark) hangs up

    lock = threading.Lock()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests = Counter()  # type: ignore[attr-defined]
    server.bodies = Counter()  # type: ignore[attr-defined]
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
