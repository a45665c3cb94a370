"""The guarded HTTP fetcher every network path goes through (pages, CSS, robots.txt, images).

* Only http(s), no credentials in URLs, at most ``max_redirects`` hops, each hop re-checked.
* The connection class resolves the host once, checks every address with
  :mod:`scraper.addresses`, and dials the checked address itself, so DNS rebinding between
  the check and the connect is impossible. TLS still verifies the real host name.
* Bodies are streamed with a byte cap (checked against ``Content-Length`` before reading and
  against the decoded bytes while reading) and a total deadline checked after every read.
* ``429``/``503`` with a short ``Retry-After`` are retried once.
"""

from __future__ import annotations

import email.utils
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from scraper.addresses import resolve_checked
from scraper.errors import (
    BlockedURLError,
    FetchError,
    HTTPStatusError,
    NoTLSError,
    ScrapeError,
    UnsupportedSchemeError,
)
from scraper.urls import ContentTypes

USER_AGENT = "AltScout/0.1 (alt-text audit bot; +https://github.com/altscout/altscout)"
_CHUNK = 64 * 1024
_MAX_RETRY_AFTER_S = 5.0


@dataclass(frozen=True)
class FetchPolicy:
    """How every request is made; derived once from the audit options."""

    allow_private: bool = False
    user_agent: str = USER_AGENT
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_redirects: int = 5


@dataclass
class FetchResult:
    """A completed response whose body was read within the caps."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    content: bytes
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, if any."""
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


def check_url(url: str) -> str:
    """Validate scheme, host and userinfo of an http(s) URL; return it unchanged."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise FetchError(f"malformed URL: {url!r}", code="bad_url") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsupportedSchemeError(f"only http and https URLs are fetched, not {parts.scheme or 'none'}:")
    if not host:
        raise FetchError(f"URL has no host: {url!r}", code="bad_url")
    if parts.username is not None or parts.password is not None:
        raise BlockedURLError("refused for safety: URLs with credentials are not fetched")
    return url


def _guarded_connection(base: type[HTTPConnection], allow_private: bool) -> type[HTTPConnection]:
    """Subclass ``base`` so that it only ever dials addresses the policy allows."""

    class Guarded(base):  # type: ignore[valid-type, misc]
        def _new_conn(self) -> Any:
            addresses = resolve_checked(self._dns_host, self.port, allow_private=allow_private)
            last_error: OSError | None = None
            for ip in addresses:
                try:
                    return urllib3_connection.create_connection(
                        (str(ip), self.port),
                        self.timeout,
                        source_address=self.source_address,
                        socket_options=self.socket_options,
                    )
                except TimeoutError as exc:
                    raise ConnectTimeoutError(self, f"connection to {self.host} timed out") from exc
                except OSError as exc:
                    last_error = exc
            raise NewConnectionError(self, f"failed to connect: {last_error}") from last_error

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose pools use the guarded connection classes."""

    def __init__(self, allow_private: bool, **kwargs: Any) -> None:
        self._allow_private = allow_private
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Install pool classes whose connections are guarded."""
        super().init_poolmanager(*args, **kwargs)
        allow = self._allow_private

        class HTTPPool(HTTPConnectionPool):
            ConnectionCls = _guarded_connection(HTTPConnection, allow)

        class HTTPSPool(HTTPSConnectionPool):
            ConnectionCls = _guarded_connection(HTTPSConnection, allow)

        self.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}


def _retry_after_seconds(value: str | None) -> float | None:
    """Parse Retry-After (seconds or HTTP date) into seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Fetcher:
    """Fetch URLs under a :class:`FetchPolicy`; safe to share between threads."""

    def __init__(self, policy: FetchPolicy | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxies or .netrc from the environment
            adapter = GuardedAdapter(self.policy.allow_private, pool_maxsize=8, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update({"User-Agent": self.policy.user_agent, "Accept-Encoding": "gzip, deflate"})
            self._local.session = session
        return session

    def fetch(
        self,
        url: str,
        *,
        max_bytes: int,
        deadline_s: float,
        accept: str = "*/*",
        raise_for_status: bool = True,
        follow_redirects: bool = True,
        headers: dict[str, str] | None = None,
        redirect_guard: Callable[[str], str | None] | None = None,
        require_type: ContentTypes | None = None,
    ) -> FetchResult:
        """GET ``url`` following safe redirects; raise a ScrapeError subclass on failure.

        With ``follow_redirects=False`` a redirect is returned as it is (status 3xx, empty body,
        ``location`` made absolute and checked), so a caller such as the browser can follow it
        itself, hop by hop, each hop coming back here. ``headers`` adds request headers
        (``Accept`` and ``User-Agent`` stay the fetcher's). ``redirect_guard(url)`` may refuse a
        redirect hop with a sentence (a crawl's scope); ``require_type`` may refuse a 2xx response by
        its Content-Type before its body is read (a crawl's non-HTML links).
        """
        deadline = time.monotonic() + deadline_s
        current = check_url(url)
        redirects: list[str] = []
        retried = False
        while True:
            response = self._send(current, accept, deadline, headers)
            try:
                if response.is_redirect and not follow_redirects:
                    location = check_url(urljoin(current, response.headers.get("location", "")))
                    found = {k.lower(): v for k, v in response.headers.items()}
                    found["location"] = location
                    return FetchResult(url, current, response.status_code, found, b"", redirects)
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    if len(redirects) >= self.policy.max_redirects:
                        raise FetchError(f"more than {self.policy.max_redirects} redirects", code="too_many_redirects")
                    current = check_url(urljoin(current, location))
                    if redirect_guard is not None and (refusal := redirect_guard(current)) is not None:
                        raise FetchError(f"redirects to {current}: {refusal}", code="redirect_out_of_scope")
                    redirects.append(current)
                    continue
                if response.status_code in (429, 503) and not retried:
                    wait = _retry_after_seconds(response.headers.get("retry-after"))
                    if wait is not None and wait <= _MAX_RETRY_AFTER_S and time.monotonic() + wait < deadline:
                        retried = True
                        time.sleep(wait)
                        continue
                if raise_for_status and response.status_code >= 400:
                    raise HTTPStatusError(response.status_code, current)
                if require_type is not None and response.status_code < 300:
                    redirected_to = current if redirects else None
                    refusal = require_type.refusal(response.headers.get("content-type", ""), redirected_to)
                    if refusal is not None:
                        raise FetchError(refusal, code="not_html")
                content = self._read_capped(response, max_bytes, deadline)
                return FetchResult(
                    url=url,
                    final_url=current,
                    status=response.status_code,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    content=content,
                    redirects=redirects,
                )
            finally:
                response.close()

    def _send(
        self, url: str, accept: str, deadline: float, extra_headers: dict[str, str] | None = None
    ) -> requests.Response:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("download deadline exceeded", code="timeout")
        timeout = (
            min(self.policy.connect_timeout, remaining),
            min(self.policy.read_timeout, remaining),
        )
        try:
            headers = {**(extra_headers or {}), "Accept": accept}
            return self._session().get(url, headers=headers, stream=True, allow_redirects=False, timeout=timeout)
        except ScrapeError:
            raise
        except requests.ConnectTimeout as exc:
            seconds = f"{timeout[0]:g}"
            raise FetchError(
                f"{urlsplit(url).hostname} did not accept the connection within {seconds} s", code="connect_timeout"
            ) from exc
        except requests.Timeout as exc:  # connected, but the answer did not start in time
            raise FetchError(
                f"{urlsplit(url).hostname} accepted the connection but did not answer within {timeout[1]:g} s",
                code="timeout",
            ) from exc
        except requests.RequestException as exc:
            cause = _unwrap_guard_error(exc)
            if cause is not None:
                raise cause from exc
            error = NoTLSError if url.lower().startswith("https:") and no_tls_here(exc) else FetchError
            raise error(
                f"could not connect to {urlsplit(url).hostname}: {connection_failure(exc)}",
                code="connection_error",
            ) from exc

    @staticmethod
    def _read_capped(response: requests.Response, max_bytes: int, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(
                f"response of {int(declared):,} bytes exceeds the {max_bytes:,}-byte limit", code="too_large"
            )
        chunks: list[bytes] = []
        total = 0
        raw = response.raw
        try:
            while True:
                if time.monotonic() > deadline:
                    raise FetchError("download deadline exceeded", code="timeout")
                chunk = raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(f"response exceeds the {max_bytes:,}-byte limit", code="too_large")
                chunks.append(chunk)
        except ScrapeError:
            raise
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            if "timed out" in str(exc).lower():
                raise FetchError("the answer stopped coming (read timed out)", code="timeout") from exc
            raise FetchError(f"connection broke while reading: {connection_failure(exc)}", code="incomplete") from exc
        return b"".join(chunks)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps (cause, context, urllib3's ``reason``, exceptions in its args)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        stack.extend(link for link in linked if isinstance(link, BaseException))  # an SSL reason may be a string


def _unwrap_guard_error(exc: BaseException) -> ScrapeError | None:
    """Find a ScrapeError raised by the guard inside urllib3/requests wrappers."""
    return next((current for current in _chain(exc) if isinstance(current, ScrapeError)), None)


HTTP_ADVICE = " (give the address with http://)"  # after a plain-HTTP answer to https://
# OpenSSL's reasons when the server's first bytes are plain HTTP, not a TLS record
PLAIN_HTTP_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE"}
)


def connection_failure(exc: BaseException) -> str:
    """Why a connection failed or broke, in words and without addresses (the class name as a last resort)."""
    chain = list(_chain(exc))
    for current in chain:
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"its TLS certificate was not accepted ({current.verify_message or current.reason})"
        if isinstance(current, ssl.SSLError) and current.reason in PLAIN_HTTP_REASONS:
            return "the server answers in plain HTTP, not HTTPS" + HTTP_ADVICE
        if isinstance(current, ssl.SSLError):
            return f"the TLS handshake failed ({current.reason or type(current).__name__})"
    for kind, words in _CONNECTION_WORDS:  # the most telling first, however deep it is wrapped
        if any(isinstance(current, kind) for current in chain):
            return words
    return type(exc).__name__


def no_tls_here(exc: BaseException) -> bool:
    """Whether nothing speaks TLS where a connection went: refused, or a handshake that failed before any
    certificate (a plain-HTTP answer); a certificate that was not accepted is a TLS site's own fault."""
    chain = list(_chain(exc))
    if any(isinstance(current, ssl.SSLCertVerificationError) for current in chain):
        return False
    return any(isinstance(current, (ssl.SSLError, ConnectionRefusedError)) for current in chain)


_CONNECTION_WORDS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "the connection was refused (nothing listens on that port)"),
    (ConnectionResetError, "the server reset the connection"),
    (ConnectionAbortedError, "the connection was aborted"),
    (BrokenPipeError, "the server closed the connection"),
    (socket.gaierror, "the name does not resolve"),
    (http.client.IncompleteRead, "the answer ended before its announced length"),
    (urllib3.exceptions.ProtocolError, "the server broke the HTTP exchange"),
)
