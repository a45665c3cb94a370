"""Request routing for a rendered page: every request the browser makes, served by the guarded fetcher.

:class:`PageRoute` is one page's router. It checks each request (address, scheme, method, type,
the crawl's redirect guard), fetches it through :class:`scraper.net.Fetcher` one redirect hop at a
time, fulfils the browser with what was read, enforces the page's request, byte and time budgets
(:class:`RenderBudget`), and keeps every response in a :class:`ResponseStash` so the pipeline
reuses those bytes instead of downloading them again. Subresources come from the run's
:class:`scraper.responses.ResponseStore` when there is one, so a logo on every page goes to the
site once per audit.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag

from scraper.errors import BlockedURLError, FetchError, ScrapeError, UnsupportedSchemeError
from scraper.images import sniff
from scraper.net import Fetcher, FetchResult, check_url
from scraper.render_ax import ShotBudget
from scraper.responses import ResponseStore
from scraper.urls import ContentTypes

log = logging.getLogger("altscout.render")

NOT_FETCHED_TYPES = frozenset({"media", "font", "websocket", "eventsource", "manifest", "texttrack", "ping"})
FORWARDED_HEADERS = ("referer", "cookie", "accept-language")
DROPPED_RESPONSE_HEADERS = frozenset(
    {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive", "alt-svc"}
)
QUIET_S = 0.5  # the network counts as settled after this long without a request in flight
PER_PAGE_CONCURRENCY = 6


@dataclass(frozen=True)
class RenderBudget:
    """What one page may spend."""

    timeout_s: float = 20.0
    max_requests: int = 400
    max_bytes: int = 64 * 1024 * 1024
    document_max_bytes: int = 10 * 1024 * 1024
    resource_max_bytes: int = 20 * 1024 * 1024
    resource_deadline_s: float = 30.0
    shots: ShotBudget = field(default_factory=ShotBudget)  # screenshots of drawn elements (SVG, canvas...)


class ResponseStash:
    """What the browser loaded for one page, by URL (fragment dropped); bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._results: dict[str, FetchResult] = {}
        self._errors: dict[str, ScrapeError] = {}  # requests the fetcher refused or could not complete
        self.image_urls: list[str] = []  # image responses, in load order
        self._lock = threading.Lock()

    @staticmethod
    def key(url: str) -> str:
        """The stash key of a URL."""
        return urldefrag(url)[0]

    def put(self, url: str, result: FetchResult, is_image: bool) -> None:
        """Keep a response while the budget allows."""
        with self._lock:
            key = self.key(url)
            if key in self._results or self.size + len(result.content) > self.max_bytes:
                return
            self._results[key] = result
            self.size += len(result.content)
            if is_image:
                self.image_urls.append(key)

    def put_error(self, url: str, error: ScrapeError) -> None:
        """Remember why a request failed, so the image stage reports it without asking again."""
        with self._lock:
            self._errors.setdefault(self.key(url), error)

    def get(self, url: str) -> FetchResult | None:
        """The stored response for ``url``, if any."""
        with self._lock:
            return self._results.get(self.key(url))

    def error(self, url: str) -> ScrapeError | None:
        """Why the browser's request for ``url`` failed, if it did."""
        with self._lock:
            return self._errors.get(self.key(url))

    def loaded(self, url: str) -> bool:
        """The browser received this URL with a 2xx status."""
        result = self.get(url)
        return result is not None and 200 <= result.status < 300

    def is_svg(self, url: str) -> bool:
        """The browser received ``url`` as an SVG image (2xx; by its media type or its bytes), or it is
        an SVG ``data:`` URI: Chromium draws it, and AltScout captions that drawing."""
        if url[:32].lower().replace(" ", "").startswith("data:image/svg+xml"):
            return True
        result = self.get(url)
        if result is None or not 200 <= result.status < 300:
            return False
        return result.content_type == "image/svg+xml" or sniff(result.content) == "svg"

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and self.get(url) is not None

    def clear(self) -> None:
        """Free the bytes."""
        with self._lock:
            self._results.clear()
            self._errors.clear()
            self.size = 0


class PageRoute:
    """The request router of one page: budgets, the guarded fetcher, the stash."""

    def __init__(
        self,
        fetcher: Fetcher,
        budget: RenderBudget,
        stash: ResponseStash,
        pool: ThreadPoolExecutor,
        deadline: float,
        redirect_guard: Callable[[str], str | None] | None = None,
        require_type: ContentTypes | None = None,
        responses: ResponseStore | None = None,
        document: FetchResult | None = None,
    ) -> None:
        self.redirect_guard = redirect_guard
        self.responses = responses  # the run's store: subresources go to the site once per audit
        self.prefetched = document  # the page's own answer, already read (a re-audit's conditional request)
        self.require_type = require_type
        self.fetcher = fetcher
        self.budget = budget
        self.stash = stash
        self.pool = pool
        self.deadline = deadline
        self.requests = 0
        self.bytes = 0
        self.in_flight = 0
        self.last_activity = time.monotonic()
        self.first_url: str | None = None  # the page's own URL; later main-frame hops are redirects
        self.document: FetchResult | None = None
        self.document_error: ScrapeError | None = None
        self.blocked: list[tuple[str, str]] = []
        self.notes: dict[str, str] = {}  # one warning per kind
        self.slots = asyncio.Semaphore(PER_PAGE_CONCURRENCY)

    def note(self, kind: str, message: str) -> None:
        """Remember one warning per kind."""
        self.notes.setdefault(kind, message)

    def over_bytes(self) -> None:
        """Note that the byte budget stopped a request."""
        self.note("bytes", f"byte budget ({self.budget.max_bytes:,} bytes) reached; later requests were refused")

    async def handle(self, route: Any) -> None:
        """Serve one intercepted request through the guarded fetcher, or refuse it."""
        try:
            await self._handle(route)
        except Exception as exc:  # the context may close under a late request: refuse it, never raise
            log.debug("route for %s ended: %s", route.request.url, exc)
            await abort_quietly(route)

    async def _handle(self, route: Any) -> None:
        request = route.request
        url = request.url
        main_navigation = request.is_navigation_request() and request.frame.parent_frame is None
        if main_navigation and self.document is not None:
            # The page is loaded; a later top-level navigation (meta refresh, script) would
            # replace what we read. 204 keeps the current document.
            self.note("navigation", f"the page tried to navigate to {url[:200]}; not followed")
            await route.fulfill(status=204)
            return
        try:
            check_url(url)
            refusal = self.redirect_guard(url) if main_navigation and self.redirect_guard else None
            if url != self.first_url and refusal is not None:
                raise FetchError(f"redirects to {url}: {refusal}", code="redirect_out_of_scope")
        except ScrapeError as exc:
            if main_navigation:
                self.document_error = exc
            else:
                self.blocked.append((url[:200], exc.code))
            await route.abort("blockedbyclient")
            return
        if request.method not in ("GET", "HEAD"):
            self.blocked.append((url[:200], "method_not_allowed"))
            await route.abort("blockedbyclient")
            return
        if request.resource_type in NOT_FETCHED_TYPES:
            await route.abort("blockedbyclient")
            return
        if self.requests >= self.budget.max_requests:
            self.note("requests", f"request budget ({self.budget.max_requests}) reached; later requests were refused")
            await route.abort("blockedbyclient")
            return
        if self.bytes >= self.budget.max_bytes:
            self.over_bytes()
            await route.abort("blockedbyclient")
            return
        remaining_s = self.deadline - time.monotonic()
        if remaining_s <= 0:
            await route.abort("timedout")
            return
        self.requests += 1
        self.in_flight += 1
        try:
            async with self.slots:
                result = await self._fetch(request, main_navigation, remaining_s)
        except ScrapeError as exc:
            if main_navigation:
                self.document_error = exc
            self.stash.put_error(url, exc)
            if isinstance(exc, BlockedURLError | UnsupportedSchemeError):
                self.blocked.append((url[:200], exc.code))
            elif exc.code == "too_large" and self.budget.max_bytes - self.bytes < self.budget.resource_max_bytes:
                self.over_bytes()
            await route.abort("blockedbyclient" if exc.code == "blocked_address" else "failed")
            return
        finally:
            self.in_flight -= 1
            self.last_activity = time.monotonic()
        self.bytes += len(result.content)
        if self.bytes >= self.budget.max_bytes:  # later requests are refused; the few in flight finish
            self.over_bytes()
        is_image = request.resource_type == "image" or result.content_type.startswith("image/")
        if not 300 <= result.status < 400:
            self.stash.put(url, result, is_image and result.status < 300)
        if main_navigation and not 300 <= result.status < 400:
            self.document = result
        headers = {k: v for k, v in result.headers.items() if k not in DROPPED_RESPONSE_HEADERS}
        await route.fulfill(status=result.status, headers=headers, body=result.content)

    async def _fetch(self, request: Any, main_navigation: bool, remaining_s: float) -> FetchResult:
        budget = self.budget
        cap = budget.document_max_bytes if main_navigation else budget.resource_max_bytes
        cap = max(1, min(cap, budget.max_bytes - self.bytes))
        sent = request.headers
        forwarded = {k: sent[k] for k in FORWARDED_HEADERS if k in sent}
        prefetched = self.prefetched
        if main_navigation and prefetched is not None and request.url == self.first_url and not prefetched.redirects:
            self.prefetched = None  # served once: a reload goes to the site
            return prefetched
        common = {"max_bytes": cap, "deadline_s": min(budget.resource_deadline_s, remaining_s),
                  "accept": sent.get("accept", "*/*"), "headers": forwarded}  # fmt: skip
        if self.responses is not None and not main_navigation and request.method == "GET":
            call = functools.partial(self.responses.fetch_hop, request.url, **common)  # the run's store
        else:
            call = functools.partial(
                self.fetcher.fetch, request.url, raise_for_status=False, follow_redirects=False,
                require_type=self.require_type if main_navigation else None, **common,
            )  # fmt: skip
        return await asyncio.get_running_loop().run_in_executor(self.pool, call)

    async def handle_websocket(self, socket_route: Any) -> None:
        """WebSockets are never connected: the fetcher cannot guard them."""
        self.blocked.append((socket_route.url[:200], "websocket"))
        try:
            await socket_route.close(code=1008, reason="refused by AltScout")
        except Exception as exc:  # the page may be gone already
            log.debug("websocket close: %s", exc)

    async def settle(self, until: float) -> bool:
        """Wait until nothing has been in flight for QUIET_S, or ``until``; True when settled."""
        while time.monotonic() < until:
            if self.in_flight == 0 and time.monotonic() - self.last_activity >= QUIET_S:
                return True
            await asyncio.sleep(0.05)
        return False


async def abort_quietly(route: Any) -> None:
    try:
        await route.abort("failed")
    except Exception as exc:  # already handled, or the page is gone
        log.debug("abort: %s", exc)
