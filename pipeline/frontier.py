"""The crawl frontier: which URLs are pages to audit, in which order, and how politely.

Every URL the crawl meets goes into the state store once (normalised) with a decision:
``queued``, or ``skipped`` with a reason (``out_of_scope``, ``non_html``, ``max_depth``,
``max_pages``); the engine later moves queued URLs to ``audited``, ``failed`` or ``skipped``
(``robots``, ``canonical_duplicate``, ``redirect_duplicate``, ``redirect_out_of_scope``). Pages are
found from the start URLs, the sitemaps of their hosts (``Sitemap:`` lines of robots.txt, else
``/sitemap.xml`` where robots.txt allows it; indexes and gzip followed) and the links of audited
pages. :class:`HostGate` keeps at most ``per_host`` page requests per host in flight and honours ``Crawl-delay``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from options import AuditOptions
from options.preflight import plain_http
from scraper.errors import HTTPStatusError, NoTLSError, ScrapeError
from scraper.net import Fetcher
from scraper.responses import ResponseStore
from scraper.robots import RobotsCache, origin_of
from scraper.sitemaps import SitemapError, parse_sitemap
from scraper.urls import Scope, looks_non_html, normalise_url
from state.store import QUEUED, SKIPPED, AuditStore, UrlRow

log = logging.getLogger("altscout.crawl")

MAX_SITEMAP_FILES = 50
SITEMAP_DEADLINE_S = 30.0
SITEMAP_MAX_BYTES = 10 * 1024 * 1024  # one sitemap file as sent (gzip included); 50 MB after gunzip
_WINDOW = 256
# Links (as found) whose offer is done, so a link met again costs a set lookup: a site's menu is on every
# page, and normalising a URL and asking the store about it cost some 13 us an offer, a page's 80 menu
# links 1 ms on the engine's thread. Cleared when full, so memory stays bounded whatever the site.
_MET = 8192


class Frontier:
    """Admission and order of pages, backed by the store."""

    def __init__(self, store: AuditStore, scope: Scope, options: AuditOptions) -> None:
        self.store = store
        self.scope = scope
        self.max_pages = options.max_pages
        self.max_depth = options.max_depth
        self.obey_robots = not options.ignore_robots
        self.admitted = store.count() - store.count(SKIPPED)  # queued, audited or failed so far
        self._window: deque[UrlRow] = deque()
        self._last_seq = 0
        self._taken: set[str] = set()
        self._given_back: deque[str] = deque()  # URLs done since: each checked once by next()
        self._drained = False  # the last read found nothing queued after the window, and offer() queued none since
        self._page_hashes: dict[str, str] = {}  # host and HTML hash -> the first page with them
        self._met: set[str] = set()  # URLs as offered that the store holds (it forgets none): nothing to do again
        self.warnings: list[str] = []

    def offer(self, url: str, depth: int, via: str, found_on: str | None = None, lastmod: str | None = None) -> None:
        """Meet a URL: record it once, queued or skipped with the reason."""
        if url in self._met:
            return
        if len(self._met) >= _MET:
            self._met.clear()
        self._met.add(url)
        try:
            url = normalise_url(url)
        except ValueError:
            return
        if self.store.knows(url):
            return
        status, reason, detail = QUEUED, None, None
        if (why := self.scope.why_out(url)) is not None:
            status, reason, detail = SKIPPED, "out_of_scope", why
        elif via != "start" and looks_non_html(url):  # a start URL's answer says what it is (an image is audited)
            status, reason, detail = SKIPPED, "non_html", "the link's extension says it is not a page"
        elif self.max_depth is not None and depth > self.max_depth:
            detail = f"{depth} links from a start URL (--max-depth {self.max_depth})"
            status, reason = SKIPPED, "max_depth"
        elif self.admitted >= self.max_pages:
            status, reason, detail = SKIPPED, "max_pages", f"the crawl reached --max-pages {self.max_pages}"
        if self.store.add_url(url, depth, via, found_on, status, reason, detail, lastmod) and status == QUEUED:
            self.admitted += 1
            self._drained = False

    def next(self) -> UrlRow | None:
        """The next queued URL not yet handed out, in discovery order (a URL given back still queued first)."""
        while self._given_back:
            row = self.store.url(self._given_back.popleft())
            if row is not None and row.status == QUEUED and row.url not in self._taken:
                self._taken.add(row.url)
                return row
        while True:
            if not self._window:
                if self._drained:  # only offer() queues URLs once the crawl runs: no query while it has not
                    return None
                rows = self.store.queued(_WINDOW, self._last_seq)
                if not rows:
                    self._drained = True
                    return None
                self._window.extend(rows)
                self._last_seq = rows[-1].seq
            row = self._window.popleft()
            if row.url not in self._taken:
                self._taken.add(row.url)
                return row

    def done(self, url: str) -> None:
        """A handed-out URL reached its outcome (one that left it queued hands it out again).

        Only this makes a URL behind the window's position due again (new URLs come after it), so
        :meth:`next` reads one row per page rather than every queued row while many pages are open.
        """
        self._taken.discard(url)
        self._given_back.append(url)

    def skip(self, url: str, reason: str, detail: str | None) -> None:
        """A handed-out URL is no page to audit after all (robots.txt, not HTML, a duplicate): skipped with
        why, and no longer counted against ``--max-pages`` or in the progress total, as a resumed run counts."""
        self.store.set_status(url, SKIPPED, reason, detail)
        self.admitted -= 1
        self.done(url)

    def duplicate(
        self, row: UrlRow, final_url: str | None, canonical: str | None, content_sha256: str | None
    ) -> tuple[str, str] | None:
        """(reason, detail) when a fetched page is another URL's duplicate: its redirect's target
        audited on its own, a canonical URL (offered here), or the same HTML as another URL of the host."""
        url = row.url
        final = normalise_url(final_url or url)
        if final != url:
            known = self.store.url(final)
            if known is not None and known.status != SKIPPED:
                return "redirect_duplicate", f"redirects to {final}, audited on its own"
            detail = f"reached by a redirect from {url} and audited there"
            self.store.add_url(final, row.depth, "redirect", url, SKIPPED, "redirect_target", detail)
        if canonical:
            canonical = normalise_url(canonical)
            if canonical not in (url, final) and self.scope.why_out(canonical) is None:
                known = self.store.url(canonical)
                if known is None or known.reason != "canonical_duplicate":
                    self.offer(canonical, row.depth, "canonical", url)
                    return "canonical_duplicate", f"its canonical URL is {canonical}"
        twin = self._page_hashes.setdefault(f"{urlsplit(url).netloc} {content_sha256}", url) if content_sha256 else url
        if twin != url:  # the same HTML at another URL of the host: / and /index.html, a tracking parameter...
            return "duplicate_content", f"its HTML is the same as {twin}'s, audited there"
        return None

    def read_sitemaps(
        self,
        start_url: str,
        fetcher: Fetcher,
        robots: RobotsCache,
        typed: bool = False,
        responses: ResponseStore | None = None,
    ) -> None:
        """Queue the pages the sitemaps of ``start_url``'s host list (at depth 1); ``typed``: a start URL
        typed without a scheme, whose host is read at http:// where nothing speaks TLS (as its page is).
        Through ``responses`` (the run's store), a re-audit asks whether each sitemap changed."""
        origin = origin_of(start_url)
        try:
            declared = list(robots.rules_for(start_url).sitemaps)
        except NoTLSError:
            if typed:
                return self.read_sitemaps(plain_http(start_url), fetcher, robots, responses=responses)
            declared = []
        except ScrapeError:
            declared = []
        guessed = origin + "/sitemap.xml"
        if not declared and self.obey_robots and not _allowed(robots, guessed):
            return  # a sitemap robots.txt names is an invitation; one guessed at is a URL like any other
        pending = deque(declared or [guessed])
        seen: set[str] = set()
        while pending:
            sitemap_url = pending.popleft()
            if sitemap_url in seen:
                continue
            if len(seen) >= MAX_SITEMAP_FILES:
                self.warnings.append(f"sitemap limit ({MAX_SITEMAP_FILES} files) reached; {sitemap_url} not read")
                continue
            seen.add(sitemap_url)
            try:
                if responses is not None:  # conditional across runs: an unchanged sitemap is not sent again
                    result = responses.fetch(sitemap_url, max_bytes=SITEMAP_MAX_BYTES, deadline_s=SITEMAP_DEADLINE_S)
                    if result.status >= 400:
                        raise HTTPStatusError(result.status, sitemap_url)
                else:
                    result = fetcher.fetch(sitemap_url, max_bytes=SITEMAP_MAX_BYTES, deadline_s=SITEMAP_DEADLINE_S)
                sitemap = parse_sitemap(result.content)
            except (ScrapeError, SitemapError) as exc:
                if declared or sitemap_url != guessed or exc.code != "http_error":
                    self.warnings.append(f"sitemap {sitemap_url} not read: {exc.message}")
                continue
            pending.extend(sitemap.sitemaps)
            for loc, lastmod in sitemap.pages:
                self.offer(loc, 1, "sitemap", sitemap_url, lastmod)


def _allowed(robots: RobotsCache, url: str) -> bool:
    """May ``url`` be fetched by robots.txt (a host whose robots.txt cannot be read: no)."""
    try:
        return robots.rules_for(url).allowed(url)
    except ScrapeError:
        return False


class HostGate:
    """At most ``limit`` page requests per host at once; ``Crawl-delay`` seconds between starts."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}

    def acquire(self, url: str, crawl_delay: float | None) -> None:
        """Take a slot of ``url``'s host (blocking); with a crawl delay, one request at a time, spaced."""
        host = urlsplit(url).netloc.lower()
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.Semaphore(1 if crawl_delay else self._limit))
        semaphore.acquire()
        if crawl_delay:
            with self._lock:
                wait = self._next_start.get(host, 0.0) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with self._lock:
                self._next_start[host] = time.monotonic() + crawl_delay

    def release(self, url: str) -> None:
        """Give back the slot taken by :meth:`acquire`."""
        with self._lock:
            semaphore = self._slots[urlsplit(url).netloc.lower()]
        semaphore.release()

    @contextmanager
    def slot(self, url: str, crawl_delay: float | None) -> Iterator[None]:
        """Hold a slot of ``url``'s host for the duration of the block."""
        self.acquire(url, crawl_delay)
        try:
            yield
        finally:
            self.release(url)


class HostLimiter:
    """A semaphore per host, so one site never gets more than ``limit`` parallel image downloads."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._semaphores: dict[str, threading.Semaphore] = {}
        self._lock = threading.Lock()

    def __call__(self, url: str) -> threading.Semaphore:
        host = urlsplit(url).netloc.lower()
        with self._lock:
            return self._semaphores.setdefault(host, threading.Semaphore(self._limit))
