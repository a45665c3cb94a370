"""Render a page in headless Chromium, every request served by the guarded fetcher.

One browser per process (:func:`get_renderer`), driven by Playwright's async API on a thread
of its own, so any thread can call :meth:`Renderer.render` and several pages can render at
once. Each page gets a fresh browser context that is closed on every path.

Safety is structural: the context routes every request (document, script, style, image,
XHR/fetch, iframe, redirect hop) to :class:`scraper.net.Fetcher` with its address checks, caps
and deadlines, and fulfils it with what the fetcher read; redirects go back to the browser one
hop at a time, so each hop comes through here again. WebSockets are closed, service workers
and downloads blocked, popups closed, WebRTC removed, and media and fonts never fetched. What
Chromium would open on its own goes to a proxy on a closed port (:mod:`scraper.browser`).

Budgets per page: time, requests and bytes. Hitting one keeps what was found and says so in
``RenderResult.warnings``. Everything the browser loaded stays in a :class:`ResponseStash`
(bounded by the byte budget) so the pipeline reuses those bytes instead of downloading again.

This module is the browser session (launch, one context per page, load, scroll, restart after a
crash); :mod:`scraper.render_route` routes the page's requests, and :mod:`scraper.render_ax` reads
the rendered DOM, Chromium's accessible names and the element screenshots.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from scraper.browser import BrowserUnavailableError, find_browser, launch_args, use_sandbox
from scraper.errors import ScrapeError
from scraper.net import Fetcher, FetchResult
from scraper.render_ax import read_page
from scraper.render_route import PageRoute, RenderBudget, ResponseStash
from scraper.responses import ResponseStore
from scraper.urls import ContentTypes

log = logging.getLogger("altscout.render")

VIEWPORT = {"width": 1366, "height": 900}  # a laptop screen at device pixel ratio 1
NOT_FETCHED_TYPES = frozenset({"media", "font", "websocket", "eventsource", "manifest", "texttrack", "ping"})
FORWARDED_HEADERS = ("referer", "cookie", "accept-language")
DROPPED_RESPONSE_HEADERS = frozenset(
    {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive", "alt-svc"}
)
# Nothing a page script does may reach the network past the route: no peer connections.
INIT_SCRIPT = """
for (const name of ["RTCPeerConnection", "webkitRTCPeerConnection", "RTCDataChannel", "RTCIceTransport"]) {
  try { delete window[name]; Object.defineProperty(window, name, {value: undefined}); } catch (e) {}
}
"""
MAX_SCROLL_STEPS = 40
# One screen down, at once whatever the page's scroll-behavior; where it is now, and how long the document is.
SCROLL_STEP = """() => {
  window.scrollTo({ top: window.scrollY + window.innerHeight, left: 0, behavior: "instant" });
  return [window.scrollY + window.innerHeight, document.documentElement.scrollHeight];
}"""
SCROLL_PAUSE_S = 0.05  # a few frames: IntersectionObserver callbacks run on the next frame
QUIET_S = 0.5  # the network counts as settled after this long without a request in flight
DOM_READ_RESERVE_S = 3.0
MAX_DOM_ELEMENTS = 20_000
FETCH_THREADS = 16
PER_PAGE_CONCURRENCY = 6


@dataclass
class RenderResult:
    """What the browser showed: the DOM snapshot, the raw document, what it loaded, and notes."""

    url: str
    final_url: str
    document: FetchResult | None
    snapshot: dict[str, Any]
    stash: ResponseStash
    shots: dict[int, bytes] = field(default_factory=dict)  # PNG of drawn elements, by snapshot image index
    warnings: list[str] = field(default_factory=list)
    blocked: list[tuple[str, str]] = field(default_factory=list)  # (url, reason code)
    requests: int = 0
    elapsed_s: float = 0.0


class RenderError(ScrapeError):
    """The page could not be rendered (crash, browser gone, no DOM); the caller reads it statically."""

    code = "render_failed"


class Renderer:
    """One headless Chromium for the process; render pages from any thread."""

    def __init__(self, executable: str | None = None) -> None:
        self._explicit = executable
        self.executable: str | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="altscout-browser", daemon=True)
        self._pool = ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="altscout-render-fetch")
        self._dead_port = socket.socket()  # bound, never listening: connections to it are refused
        self._dead_port.bind(("127.0.0.1", 0))
        self._playwright: Any = None
        self._browser: Any = None
        self._lock = threading.Lock()
        self.restarts = 0
        self.broken: str | None = None  # set when the browser crashed again after its one restart
        self.unavailable: BrowserUnavailableError | None = None
        self._thread.start()

    # --- lifecycle ---------------------------------------------------------------------

    def _call(self, coroutine: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def start(self) -> None:
        """Start Playwright and launch the browser; BrowserUnavailableError if impossible (remembered)."""
        with self._lock:
            if self.unavailable is not None:
                raise self.unavailable
            if self._browser is None:
                try:
                    self._call(self._start(), timeout=120)
                except BrowserUnavailableError as exc:
                    self.unavailable = exc
                    raise

    async def _start(self) -> None:
        try:
            from playwright.async_api import async_playwright
        except ImportError as exc:
            raise BrowserUnavailableError(
                "Playwright is not installed, so pages cannot be rendered: pip install playwright"
            ) from exc
        if self._playwright is None:
            self._playwright = await async_playwright().start()
        chromium = self._playwright.chromium
        self.executable = find_browser(self._explicit, chromium.executable_path)
        await self._launch()

    async def _launch(self) -> None:
        try:
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.executable,
                headless=True,
                chromium_sandbox=use_sandbox(),
                args=launch_args(self._dead_port.getsockname()[1]),
            )
        except Exception as exc:
            log.debug("browser launch failed: %s", exc)  # Playwright's message goes on with the browser's log
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise BrowserUnavailableError(
                f"Chromium at {self.executable} did not start ({first}); point --browser at a Chromium or Chrome "
                "executable that runs here, or use --render never"
            ) from exc

    def close(self) -> None:
        """Close the browser and stop the loop thread."""
        if not self._thread.is_alive():
            return
        try:
            self._call(self._close(), timeout=30)
        except Exception as exc:  # shutting down anyway
            log.debug("renderer close: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._dead_port.close()

    async def _close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None

    def open_contexts(self) -> int:
        """How many browser contexts are open (0 between pages)."""
        return 0 if self._browser is None else len(self._browser.contexts)

    def kill_browser_for_test(self) -> None:
        """Close the browser underneath the renderer, as a crash would (tests)."""
        self._call(self._browser.close(), timeout=30)

    # --- rendering ---------------------------------------------------------------------

    def render(
        self,
        url: str,
        fetcher: Fetcher,
        budget: RenderBudget,
        redirect_guard: Callable[[str], str | None] | None = None,
        require_type: ContentTypes | None = None,
        responses: ResponseStore | None = None,
        document: FetchResult | None = None,
    ) -> RenderResult:
        """Render ``url``; ScrapeError for a page that cannot be loaded, RenderError for a browser failure.

        ``redirect_guard`` and ``require_type`` check the page's own request (each redirect hop,
        and its Content-Type before the body is read), as :meth:`Fetcher.fetch` does. Subresources
        come from ``responses`` (the run's store) when given; ``document`` is the page's own answer
        when it was read already (a re-audit's conditional request).
        """
        checks = {"redirect_guard": redirect_guard, "require_type": require_type, "responses": responses,
                  "document": document}  # fmt: skip
        if self.broken:
            raise RenderError(self.broken)
        self.start()
        try:
            return self._call(self._render(url, fetcher, budget, checks), timeout=budget.timeout_s + 60)
        except RenderError:
            if not self._browser_gone():
                raise
        with self._lock:  # the browser died: restart it once per process
            if self.restarts >= 1:
                self.broken = "the browser crashed again after a restart; pages are read statically from now on"
                raise RenderError(self.broken)
            self.restarts += 1
            log.warning("browser crashed; restarting it once")
            self._call(self._launch(), timeout=120)
        return self._call(self._render(url, fetcher, budget, checks), timeout=budget.timeout_s + 60)

    def _browser_gone(self) -> bool:
        return self._browser is None or not self._browser.is_connected()

    async def _render(self, url: str, fetcher: Fetcher, budget: RenderBudget, checks: dict[str, Any]) -> RenderResult:
        started = time.monotonic()
        deadline = started + budget.timeout_s
        work_until = deadline - min(DOM_READ_RESERVE_S, budget.timeout_s / 4)
        stash = ResponseStash(budget.max_bytes)
        router = PageRoute(fetcher, budget, stash, self._pool, work_until, **checks)
        router.first_url = url
        try:
            context = await self._browser.new_context(
                viewport=VIEWPORT,
                device_scale_factor=1,
                service_workers="block",
                accept_downloads=False,
            )
        except Exception as exc:
            raise RenderError(f"the browser could not open a page: {str(exc)[:200]}") from exc
        try:
            await context.route("**/*", router.handle)
            await context.route_web_socket("**/*", router.handle_websocket)
            await context.add_init_script(INIT_SCRIPT)
            page = await context.new_page()
            crashed: list[bool] = []
            page.on("crash", lambda _page: crashed.append(True))
            context.on("page", lambda popup: asyncio.ensure_future(_close_quietly(popup)))
            await self._load(page, url, router, work_until)
            if router.document is None:
                raise router.document_error or ScrapeError("the page did not load in the browser", code="render_failed")
            await self._scroll(page, router, work_until)
            if not await router.settle(work_until):
                router.note("time", f"render time budget ({budget.timeout_s:g} s) reached; kept what had loaded")
            if crashed:
                raise RenderError("the page crashed the browser tab")
            try:
                snapshot, shots = await asyncio.wait_for(
                    read_page(context, page, MAX_DOM_ELEMENTS, budget.shots, deadline - 0.5, stash.is_svg),
                    max(1.0, deadline - time.monotonic()),
                )
            except TimeoutError as exc:
                raise RenderError("reading the rendered page took longer than its time budget") from exc
            if any(item.get("ax_skipped") for item in snapshot.get("images") or []):
                router.note("names", "render time budget reached while reading names; later elements were named "
                            "from their attributes")
            if snapshot.get("truncated"):
                router.note(
                    "dom",
                    f"page has {snapshot['elements']:,} elements; backgrounds read from the first {MAX_DOM_ELEMENTS:,}",
                )
            return RenderResult(
                url=url,
                final_url=router.document.final_url,
                document=router.document,
                snapshot=snapshot,
                stash=stash,
                shots=shots,
                warnings=list(router.notes.values()),
                blocked=router.blocked,
                requests=router.requests,
                elapsed_s=time.monotonic() - started,
            )
        except ScrapeError:
            raise
        except Exception as exc:
            raise RenderError(f"rendering failed: {type(exc).__name__}: {str(exc)[:200]}") from exc
        finally:
            await _close_quietly(context)

    async def _load(self, page: Any, url: str, router: PageRoute, until: float) -> None:
        """Navigate and wait for the load event, within the budget."""
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        timeout_ms = max(1000.0, (until - time.monotonic()) * 1000)
        try:
            await page.goto(url, wait_until="load", timeout=timeout_ms)
        except PlaywrightTimeout:
            router.note("time", "the page did not finish loading within the render time budget; kept what had loaded")
        except PlaywrightError as exc:
            if router.document is None:  # the document itself failed: the fetcher's reason says why
                if router.document_error is not None:
                    raise router.document_error from exc
                raise RenderError(f"the browser could not load the page: {str(exc)[:200]}") from exc
            log.debug("navigation error after the document loaded: %s", exc)

    async def _scroll(self, page: Any, router: PageRoute, until: float) -> None:
        """Scroll down a screen at a time so lazy loaders fire; stop at the bottom or the budget.

        Each step jumps (``behavior: "instant"``), so a page's ``scroll-behavior: smooth`` (Bootstrap's
        default) cannot leave the position behind. The "kept growing" warning is for a document that
        really grew while scrolling; a long page that did not is said to be long.
        """
        first_height = None
        height = 0
        for _ in range(MAX_SCROLL_STEPS):
            if time.monotonic() >= until:
                router.note("time", "render time budget reached while scrolling; kept what had loaded")
                return
            position, height = await page.evaluate(SCROLL_STEP)
            first_height = height if first_height is None else first_height
            await asyncio.sleep(SCROLL_PAUSE_S)
            if position >= height:  # at the bottom: done unless loading made the page longer
                await router.settle(min(until, time.monotonic() + 2.0))
                if await page.evaluate("() => document.documentElement.scrollHeight") <= height:
                    return
        if first_height is not None and height > first_height:
            router.note(
                "scroll",
                f"the page kept growing while scrolling (from {first_height:,} to {height:,} px: infinite scroll?); "
                f"stopped after {MAX_SCROLL_STEPS} screens",
            )
        else:
            long_page = f"the page is longer than {MAX_SCROLL_STEPS} screens; what is below was not scrolled to"
            router.note("scroll", long_page)


async def _close_quietly(target: Any) -> None:
    try:
        await target.close()
    except Exception as exc:  # already closed or crashed
        log.debug("close: %s", exc)


_renderers: dict[str | None, Renderer] = {}
_renderers_lock = threading.Lock()


def get_renderer(executable: str | None = None) -> Renderer:
    """The process's renderer for ``executable`` (None: search for one); started lazily."""
    with _renderers_lock:
        renderer = _renderers.get(executable)
        if renderer is None:
            renderer = _renderers[executable] = Renderer(executable)
        return renderer


@atexit.register
def _close_all() -> None:
    for renderer in list(_renderers.values()):
        renderer.close()
    _renderers.clear()
