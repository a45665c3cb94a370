"""Sitemaps (sitemaps.org protocol): page URLs with ``lastmod``, and nested sitemap indexes.

Bytes come from the guarded fetcher with a cap; gzip (by its magic bytes, whatever the
Content-Type) is inflated with the same cap, so a decompression bomb stops at the limit. XML is
parsed by defusedxml with DTDs forbidden, so entity expansion (billion laughs) and external
entities are refused before anything is expanded.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from scraper.errors import ScrapeError

SITEMAP_MAX_BYTES = 50 * 1024 * 1024  # the protocol's own limit, uncompressed
_GZIP_MAGIC = b"\x1f\x8b"


class SitemapError(ScrapeError):
    """A sitemap that cannot be read safely."""

    code = "bad_sitemap"


@dataclass
class Sitemap:
    """What one sitemap file lists."""

    pages: list[tuple[str, str | None]] = field(default_factory=list)  # (loc, lastmod)
    sitemaps: list[str] = field(default_factory=list)  # child sitemaps of an index


def inflate(data: bytes, max_bytes: int = SITEMAP_MAX_BYTES) -> bytes:
    """Gunzip ``data`` if it is gzip, reading at most ``max_bytes`` of output."""
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise SitemapError(f"sitemap is not valid gzip: {exc}") from exc
    if len(out) > max_bytes:
        raise SitemapError(f"sitemap inflates to more than {max_bytes:,} bytes")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _child_text(element: Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name and child.text and child.text.strip():
            return child.text.strip()
    return None


def parse_sitemap(data: bytes, max_bytes: int = SITEMAP_MAX_BYTES) -> Sitemap:
    """Read a ``urlset`` or ``sitemapindex`` (plain or gzip); SitemapError when unsafe or not a sitemap."""
    xml = inflate(data, max_bytes)
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SitemapError(f"sitemap refused: {type(exc).__name__} (DTDs and entities are not allowed)") from exc
    except ParseError as exc:
        raise SitemapError(f"sitemap is not well-formed XML: {exc}") from exc
    kind = _local(root.tag)
    result = Sitemap()
    if kind == "urlset":
        for entry in root:
            if _local(entry.tag) == "url" and (loc := _child_text(entry, "loc")):
                result.pages.append((loc, _child_text(entry, "lastmod")))
    elif kind == "sitemapindex":
        for entry in root:
            if _local(entry.tag) == "sitemap" and (loc := _child_text(entry, "loc")):
                result.sitemaps.append(loc)
    else:
        raise SitemapError(f"not a sitemap: the root element is <{kind}>")
    return result
