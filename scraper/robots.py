"""robots.txt (RFC 9309) through the guarded fetcher, parsed by Protego (Scrapy's parser).

Protego follows the RFC where ``urllib.robotparser`` does not: the longest matching rule wins
(``Allow: /private/public`` beats ``Disallow: /private``), ``*`` and ``$`` are patterns, and
``Crawl-delay`` and ``Sitemap:`` lines are read. Status semantics are the RFC's: a 4xx
robots.txt allows everything; a 5xx or an unreachable one disallows everything. Once the run's
response store is open (``RobotsCache.responses``), robots.txt is read through it, so a re-audit asks
whether it changed (a 304 costs no body).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from scraper.errors import BlockedURLError, RobotsDisallowedError, ScrapeError
from scraper.net import Fetcher

if TYPE_CHECKING:
    from scraper.responses import ResponseStore

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks parsers to read at least 500 KiB
ROBOTS_AGENT = "AltScout"
MAX_CRAWL_DELAY_S = 30.0  # a larger Crawl-delay is honoured as this (and said in the report)
_HOST_DOWN = ("connection_error", "dns_error", "timeout")


@dataclass(frozen=True)
class Robots:
    """The rules for one origin: a parser, or allow-all / disallow-all."""

    parser: Protego | None = None
    allow_all: bool = False
    sitemaps: tuple[str, ...] = field(default=())

    def allowed(self, url: str) -> bool:
        """May AltScout fetch ``url``."""
        if self.parser is None:
            return self.allow_all
        return bool(self.parser.can_fetch(url, ROBOTS_AGENT))

    def crawl_delay(self) -> float | None:
        """Seconds between requests asked for AltScout (or ``*``), capped; None when none."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(ROBOTS_AGENT)
        return None if delay is None else min(float(delay), MAX_CRAWL_DELAY_S)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


class RobotsCache:
    """One robots.txt per origin for the life of a run."""

    def __init__(self, fetcher: Fetcher, deadline_s: float = 10.0) -> None:
        self._fetcher = fetcher
        self._deadline_s = deadline_s
        self._rules: dict[str, Robots] = {}
        self._lock = threading.Lock()
        self.responses: ResponseStore | None = None  # the run's store, once open: conditional across runs

    def rules_for(self, url: str) -> Robots:
        """The rules of ``url``'s origin (fetched once); raises for a refused or unreachable host."""
        origin = origin_of(url)
        with self._lock:
            cached = self._rules.get(origin)
        if cached is not None:
            return cached
        try:
            if self.responses is not None:  # any status, each redirect hop from the store
                result = self.responses.fetch(
                    origin + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES, deadline_s=self._deadline_s, accept="text/plain"
                )
            else:
                result = self._fetcher.fetch(
                    origin + "/robots.txt",
                    max_bytes=ROBOTS_MAX_BYTES,
                    deadline_s=self._deadline_s,
                    accept="text/plain",
                    raise_for_status=False,
                )
        except BlockedURLError:
            raise  # the page itself would be refused: say so, not "robots"
        except ScrapeError as exc:
            if exc.code in _HOST_DOWN:
                raise  # nothing is fetched either way (RFC 9309); the true cause is the better message
            rules = Robots(allow_all=False)  # unreachable: RFC 9309 says assume complete disallow
        else:
            if result.status >= 500:
                rules = Robots(allow_all=False)
            elif result.status >= 400:
                rules = Robots(allow_all=True)
            else:
                parser = Protego.parse(result.content.decode("utf-8", errors="replace"))
                rules = Robots(parser=parser, sitemaps=tuple(parser.sitemaps))
        with self._lock:
            self._rules.setdefault(origin, rules)
        return rules

    def check(self, url: str) -> None:
        """Raise RobotsDisallowedError if robots.txt forbids AltScout to fetch ``url``."""
        if not self.rules_for(url).allowed(url):
            raise RobotsDisallowedError(
                f"robots.txt of {urlsplit(url).netloc} disallows {url} (use --ignore-robots to override)"
            )
