"""The ``<img>`` tags of an HTML text, found by a small scanner over the raw text, and their ``alt`` set in place.

Only the ``alt`` value changes: tags over several lines, attributes in any order, either quotes, stay as they
were. A tag is matched by the URL discovery chose for it (its ``srcset``, its ``<picture>``'s sources, lazy-loading
attributes) or any URL it names, resolved against the text's ``<base href>``; a commented-out ``<img>`` is left
alone. Used by ``--fix-patch`` for HTML files and for the HTML inside Markdown (:mod:`reports.patch_markdown`).
"""

from __future__ import annotations

import html
import re
from collections import defaultdict

from bs4 import BeautifulSoup, Tag

from records import ImageRecord
from scraper.discover import LAZY_SRC_ATTRS, LAZY_SRCSET_ATTRS, chosen_img_url, clean_url
from scraper.srcset import parse_srcset
from scraper.urls import resource_url

# The tags the scanner reads: <img> (patched), and what decides its URL: <picture> and its <source>s, <base>;
# a comment is read whole and passed over (a commented-out <img> is no image of the page).
_TAG = re.compile(
    r"(?P<comment><!--.*?(?:-->|\Z))"
    r"|<(?P<close>/)?(?P<tag>img|source|picture|base)\b(?P<attrs>(?:[^>\"']|\"[^\"]*\"|'[^']*')*)>",
    re.IGNORECASE | re.DOTALL,
)
_ATTR = re.compile(
    r"(?P<space>\s+)(?P<name>[^\s=/>\"']+)(?:\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[^\s\"'>]+)))?"
)
TAG_SOURCES = {"img", "srcset", "lazy", "picture"}  # found on an <img> the source file can hold


def patched_html(
    text: str, page_url: str, records: dict[str, tuple[ImageRecord, str]], ascii_only: bool = False
) -> tuple[str, dict[str, int]]:
    """``text`` with the alt of every matching ``<img>`` set; how many tags of each image URL changed.

    An ``<img>`` matches the record of the URL discovery chose for it (its ``srcset``, its ``<picture>``'s
    sources, lazy-loading attributes), else of any URL it names, each resolved against the file's
    ``<base href>``. ``ascii_only``: a file not in UTF-8 gets non-ASCII text as character references.
    """
    done: dict[str, int] = defaultdict(int)
    out: list[str] = []
    last = 0
    base = _base_url(text, page_url)
    picture: list[str] | None = None  # the <picture> and <source> tags of the picture the scanner is in
    for tag in _TAG.finditer(text):
        if tag.group("comment"):
            continue
        name = tag.group("tag").lower()
        if name == "picture":
            picture = None if tag.group("close") else [tag.group(0)]
            continue
        if name == "source" and picture is not None and not tag.group("close"):
            picture.append(tag.group(0))
        if name != "img" or tag.group("close"):
            continue
        attrs = {m.group("name").lower(): m for m in _ATTR.finditer(tag.group("attrs"))}
        url = next((u for u in _tag_urls(tag.group(0), picture, attrs, base) if u in records), None)
        if url is None or not eligible(records[url][0]):
            continue
        value = html.escape(records[url][1], quote=False).replace('"', "&quot;")  # ' needs no escape inside "…"
        if ascii_only:
            value = value.encode("ascii", "xmlcharrefreplace").decode("ascii")
        start = tag.start("attrs")
        alt = attrs.get("alt")
        if alt is None:  # add it right after "<img"
            out.append(text[last:start] + f' alt="{value}"')
            last = start
        else:
            group = next(name for name in ("dq", "sq", "bare") if alt.group(name) is not None)
            begin, end = start + alt.start(group), start + alt.end(group)
            quote = {"dq": '"', "sq": "'", "bare": '"'}[group]
            replacement = value.replace("'", "&#x27;") if quote == "'" else value
            if group == "bare":
                replacement = f'"{replacement}"'
            out.append(text[last:begin] + replacement)
            last = end
        done[url] += 1
    out.append(text[last:])
    return "".join(out), dict(done)


def eligible(record: ImageRecord) -> bool:
    return bool(TAG_SOURCES & set(record.found_in))


def is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _base_url(text: str, page_url: str) -> str:
    """What the file's relative URLs resolve against: its first ``<base href>``, else the page's URL."""
    for tag in _TAG.finditer(text):
        if not tag.group("comment") and tag.group("tag").lower() == "base" and not tag.group("close"):
            href = {m.group("name").lower(): _value(m) for m in _ATTR.finditer(tag.group("attrs"))}.get("href")
            if href:
                return resource_url(page_url, href)
    return page_url


def _tag_urls(img_tag: str, picture: list[str] | None, attrs: dict[str, re.Match[str]], base: str) -> list[str]:
    """The image URLs an ``<img>`` can stand for: discovery's choice first, then every URL it names."""
    markup = ("".join(picture or []) + img_tag).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    img = BeautifulSoup(markup, "lxml").find("img")
    raw: list[str] = []
    if isinstance(img, Tag):
        raw.append(chosen_img_url(img)[0])
    raw += [_value(attrs[name]) for name in ("src", *LAZY_SRC_ATTRS) if name in attrs]
    for name in ("srcset", *LAZY_SRCSET_ATTRS):
        if name in attrs:
            raw += [candidate.url for candidate in parse_srcset(_value(attrs[name]))]
    urls = [resource_url(base, clean_url(value)) for value in raw if clean_url(value)]
    return list(dict.fromkeys(urls))


def _value(match: re.Match[str]) -> str:
    """An attribute's value as the browser reads it (entities decoded)."""
    return html.unescape(match.group("dq") or match.group("sq") or match.group("bare") or "")


def audited_url(src: str, bases: tuple[str, ...], records: dict[str, tuple[ImageRecord, str]]) -> str | None:
    """The audited image an address names (resolved against each base in turn), if it has a text to set."""
    for base in dict.fromkeys(bases):
        url = resource_url(base, clean_url(src)) if clean_url(src) else ""
        if url in records and eligible(records[url][0]):
            return url
    return None
