"""robots.txt for the audited page (RFC 9309), fetched through the guarded fetcher."""

from __future__ import annotations

import threading
import urllib.robotparser
from urllib.parse import urlsplit, urlunsplit

from scraper.errors import BlockedURLError, RobotsDisallowedError, ScrapeError
from scraper.net import Fetcher

ROBOTS_MAX_BYTES = 512 * 1024
ROBOTS_AGENT = "AltScout"
_HOST_DOWN = ("connection_error", "dns_error", "timeout")


class RobotsCache:
    """One parsed robots.txt per origin for the life of a run."""

    def __init__(self, fetcher: Fetcher, deadline_s: float = 10.0) -> None:
        self._fetcher = fetcher
        self._deadline_s = deadline_s
        self._parsers: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._lock = threading.Lock()

    def _parser_for(self, url: str) -> urllib.robotparser.RobotFileParser:
        parts = urlsplit(url)
        origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        with self._lock:
            cached = self._parsers.get(origin)
        if cached is not None:
            return cached
        parser = urllib.robotparser.RobotFileParser()
        try:
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
            parser.disallow_all = True  # unreachable: RFC 9309 says assume complete disallow
        else:
            if result.status >= 500:
                parser.disallow_all = True
            elif result.status >= 400:
                parser.allow_all = True
            else:
                parser.parse(result.content.decode("utf-8", errors="replace").splitlines())
        with self._lock:
            self._parsers[origin] = parser
        return parser

    def check(self, url: str) -> None:
        """Raise RobotsDisallowedError if robots.txt forbids AltScout to fetch ``url``."""
        if not self._parser_for(url).can_fetch(ROBOTS_AGENT, url):
            raise RobotsDisallowedError(
                f"robots.txt of {urlsplit(url).netloc} disallows {url} (use --ignore-robots to override)"
            )
