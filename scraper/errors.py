"""Typed errors raised inside the scraping stage.

Each carries a stable ``code`` (used as a record's ``reason``) and a message for a person.
The pipeline converts them to records at the stage boundary; they never become captions.
"""

from __future__ import annotations


class ScrapeError(Exception):
    """Base class: something about one URL could not be done."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The human-readable sentence."""
        return str(self.args[0]) if self.args else self.code


class BlockedURLError(ScrapeError):
    """The URL or an address it resolves to is refused by the safety policy."""

    code = "blocked_address"


class UnsupportedSchemeError(ScrapeError):
    """The URL's scheme is not http(s) (or data: where allowed)."""

    code = "unsupported_scheme"


class FetchError(ScrapeError):
    """Network-level failure: timeout, reset, too many redirects, oversize body."""

    code = "fetch_error"


class NoTLSError(FetchError):
    """An https:// connection failed before any certificate was shown: it was refused, or the server
    answered in plain HTTP (a typed address without a scheme is then tried at http://, as browsers do)."""

    code = "connection_error"


class HTTPStatusError(FetchError):
    """The server answered with a 4xx/5xx status."""

    code = "http_error"

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} for {url}")
        self.status = status


class RobotsDisallowedError(ScrapeError):
    """robots.txt forbids fetching the page."""

    code = "robots_disallowed"


class ImageDecodeError(ScrapeError):
    """The bytes are not a decodable, allowed, safe image."""

    code = "decode_error"
