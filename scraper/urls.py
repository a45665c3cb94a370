"""Page URLs for a crawl: normalisation, scope, and links that are not pages.

Normalisation is w3lib's ``canonicalize_url`` (Scrapy's: lower-case scheme and host, ``..`` and
``.`` resolved, percent-encoding made uniform, query arguments sorted, fragment dropped) plus the
default port removed. Scope is the start URLs' hosts, or with ``domain`` every host under their
registered domains (the Public Suffix List, bundled with ``publicsuffixlist``), then
``--include``/``--exclude`` regular expressions on the normalised URL.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

from publicsuffixlist import PublicSuffixList
from w3lib.url import canonicalize_url, safe_url_string

DEFAULT_PORTS = {"http": 80, "https": 443}
# Links with these extensions are never fetched as pages (documents, media, archives, images, feeds).
NON_HTML_EXTENSIONS = frozenset(
    (
        ".pdf",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".odt",
        ".ods",
        ".odp",
        ".rtf",
        ".txt",
        ".csv",
        ".json",
        ".xml",
        ".rss",
        ".atom",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".7z",
        ".rar",
        ".tar",
        ".dmg",
        ".exe",
        ".msi",
        ".apk",
        ".iso",
        ".bin",
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".avif",
        ".svg",
        ".bmp",
        ".ico",
        ".tif",
        ".tiff",
        ".heic",
        ".mp3",
        ".wav",
        ".ogg",
        ".m4a",
        ".flac",
        ".mp4",
        ".m4v",
        ".mov",
        ".avi",
        ".mkv",
        ".webm",
        ".wmv",
        ".css",
        ".js",
        ".mjs",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".ics",
        ".vcf",
        ".epub",
    )
)
HTML_TYPES = ("text/html", "application/xhtml+xml")


class ScopeError(ValueError):
    """An ``--include``/``--exclude`` pattern is not a valid regular expression."""


def resource_url(base: str, raw: str) -> str:
    """The one spelling of a resource URL (an image, a stylesheet) that AltScout fetches and compares:
    absolute, fragment dropped, spaces and non-ASCII characters percent-encoded as browsers send them
    (w3lib's ``safe_url_string``), so ``café menu.png`` in the HTML and the browser's
    ``caf%C3%A9%20menu.png`` are one image. ``data:`` URIs are left as they are."""
    if raw.lower().startswith("data:"):
        return raw
    return safe_url_string(urldefrag(urljoin(base, raw))[0])


def normalise_url(url: str) -> str:
    """One spelling per page: canonicalised, default port and fragment dropped."""
    canonical = canonicalize_url(url.strip(), keep_fragments=False)
    parts = urlsplit(canonical)
    netloc = parts.netloc
    if parts.port is not None and DEFAULT_PORTS.get(parts.scheme) == parts.port:
        netloc = netloc.rsplit(":", 1)[0]
    path = parts.path or "/"
    return urlunsplit((parts.scheme, netloc, path, parts.query, ""))


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def registered_domain(host: str) -> str:
    """``shop.example.co.uk`` -> ``example.co.uk``; an IP address or a bare name is its own domain."""
    host = host.lower().strip("[]")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    return _suffixes().privatesuffix(host) or host


def bare_host(url: str) -> str:
    """A URL's host as a person names the site: lower case, without ``www.`` or a trailing dot; "" for
    what is no URL (an address a page states may be anything)."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def looks_non_html(url: str) -> bool:
    """The path's extension says this is a document, media file or download, not a page."""
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    return suffix in NON_HTML_EXTENSIONS


def is_html_type(content_type: str) -> bool:
    """A Content-Type a page can have (an empty one is given the benefit of the doubt)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return not media or media in HTML_TYPES


def is_page_or_image_type(content_type: str) -> bool:
    """A Content-Type a URL a person typed can have (a target, a crawl's start): a page, or an image (audited
    as itself)."""
    return is_html_type(content_type) or content_type.strip().lower().startswith("image/")


@dataclass(frozen=True)
class ContentTypes:
    """The Content-Types a page request accepts, and what a refusal calls them."""

    accepts: Callable[[str], bool]
    wanted: str  # "a page"

    def refusal(self, content_type: str, redirected_to: str | None = None) -> str | None:
        """None when ``content_type`` is accepted, else the sentence that refuses it (naming where a redirect
        led: the address asked for is named beside it wherever it is said)."""
        if self.accepts(content_type):
            return None
        what = f"it redirects to {redirected_to}, which" if redirected_to else "it"
        return f"{what} is {content_type.split(';', 1)[0].strip()}, not {self.wanted}"


PAGE_TYPES = ContentTypes(is_html_type, "a page")  # a URL a crawl found
PAGE_OR_IMAGE_TYPES = ContentTypes(is_page_or_image_type, "a web page or an image")  # a URL a person typed


def _compile(patterns: Sequence[str], flag: str) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ScopeError(f"{flag} {pattern!r} is not a valid regular expression: {exc}") from exc
    return tuple(compiled)


@dataclass(frozen=True)
class Scope:
    """Which page URLs a crawl may visit."""

    hosts: frozenset[str]
    domains: frozenset[str]
    by_domain: bool = False
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def for_start(
        cls,
        start_urls: Iterable[str],
        by_domain: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> Scope:
        """The scope of a crawl from ``start_urls``."""
        hosts = frozenset((urlsplit(url).hostname or "").lower() for url in start_urls)
        return cls(
            hosts=hosts,
            domains=frozenset(registered_domain(host) for host in hosts),
            by_domain=by_domain,
            include=_compile(include, "--include"),
            exclude=_compile(exclude, "--exclude"),
        )

    def why_out(self, url: str) -> str | None:
        """None when ``url`` is in scope, else a sentence saying why not."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return f"not an http(s) link ({parts.scheme or 'no scheme'})"
        host = (parts.hostname or "").lower()
        if self.by_domain:
            if registered_domain(host) not in self.domains:
                return f"{host} is outside {', '.join(sorted(self.domains))}"
        elif host not in self.hosts:
            return f"{host} is not {' or '.join(sorted(self.hosts))} (--scope domain takes in subdomains)"
        if self.include and not any(p.search(url) for p in self.include):
            return "matches no --include pattern"
        for pattern in self.exclude:
            if pattern.search(url):
                return f"matches --exclude {pattern.pattern!r}"
        return None
