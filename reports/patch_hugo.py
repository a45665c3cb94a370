"""Hugo's shortcodes in a Markdown file, for ``--fix-patch``: the ``alt`` parameter of the one that draws an image,
set in place.

``{{< figure src="/img/shop.jpg" caption="Our shop" >}}`` builds ``<figure><img src="/img/shop.jpg" alt="…">``;
its ``alt`` parameter (else its caption) is the image's alt. The parameter is replaced, or added after
``figure``: ``{{< figure alt="A bakery's shop window" src="/img/shop.jpg" caption="Our shop" >}}``. Any other
shortcode that names the image in a named parameter (``src``, ``image``, ``img``, ``url``, ``file``, ``path``,
``source``: a theme's ``{{< img src="…" alt="…" >}}``) and has an ``alt`` parameter gets it set; one with no
``alt`` is left alone, since what it does with another parameter is its own. Hugo reads
shortcodes before Markdown, wherever they are, so every one in the file counts; a commented call
(``{{</* figure … */>}}``, how Hugo's own docs show one) is no call. A quoted value escapes ``"`` as ``\\"``,
as Hugo reads it; a raw string (`` `…` ``) stays one where the text allows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlsplit

from records import ImageRecord
from reports.patch_html import audited_url, eligible
from scraper.discover import clean_url
from scraper.urls import resource_url

_SHORTCODE = re.compile(
    r"\{\{(?P<open>[<%])-?\s*(?P<name>[\w./-]+)\s(?P<params>(?:\"(?:\\.|[^\"\\])*\"|`[^`]*`|[^\"`>%])*?)\s*-?(?P<close>[>%])\}\}"
)
IMAGE_PARAMS = ("src", "image", "img", "url", "file", "path", "source")  # where a shortcode or include names its image
_PARAM = re.compile(r"(?P<name>\w+)\s*=\s*(?:\"(?P<dq>(?:\\.|[^\"\\])*)\"|`(?P<raw>[^`]*)`|(?P<bare>[^\s\"`]+))")


def patched_figures(
    text: str, bases: tuple[str, ...], records: dict[str, tuple[ImageRecord, str]]
) -> tuple[str, dict[str, int]]:
    """``text`` with the ``alt`` of every shortcode call that draws an audited image with a text set (see the
    module); how many calls of each image URL changed."""
    done: dict[str, int] = defaultdict(int)
    out: list[str] = []
    last = 0
    for call in _SHORTCODE.finditer(text):
        if call.group("open") != {">": "<", "%": "%"}[call.group("close")]:
            continue
        params = {match.group("name").lower(): match for match in _PARAM.finditer(call.group("params"))}
        figure = call.group("name") == "figure"
        src = params.get("src") if figure else next((params[name] for name in IMAGE_PARAMS if name in params), None)
        url = source_or_copy(_value(src), bases, records) if src else None
        alt = params.get("alt")
        if url is None or (alt is None and not figure):
            continue
        value = records[url][1]
        start = call.start("params")
        if alt is None:
            out.append(text[last:start] + f"alt={quoted(value)} ")
            last = start
        else:
            out.append(text[last : start + alt.start()] + f"{alt.group('name')}={quoted(value, alt.group('raw'))}")
            last = start + alt.end()
        done[url] += 1
    out.append(text[last:])
    return "".join(out), dict(done)


def quoted(value: str, raw: str | None = None) -> str:
    """A shortcode parameter's value: a raw string where it was one and the text allows, else quoted."""
    if raw is not None and "`" not in value:
        return f"`{value}`"
    return '"' + value.replace('"', '\\"') + '"'


def _value(match: re.Match[str]) -> str:
    if match.group("dq") is not None:
        return match.group("dq").replace('\\"', '"')
    return match.group("raw") if match.group("raw") is not None else match.group("bare")


def source_or_copy(src: str, bases: tuple[str, ...], records: dict[str, tuple[ImageRecord, str]]) -> str | None:
    """The audited image an address in the Markdown names: itself (:func:`audited_url`), else the one copy Hugo's
    image processing made of it beside it (a render hook or shortcode that resizes ``cake.jpg`` shows
    ``cake_hu3d03a0…_800x0_resize_q75_box.jpg``, or ``cake_hu_7c1e….webp``; fingerprinted, ``cake.3ef0e0….jpg``)."""
    url = audited_url(src, bases, records)
    if url is not None or not clean_url(src):
        return url
    for base in dict.fromkeys(bases):
        parts = urlsplit(resource_url(base, clean_url(src)))
        folder, _, name = parts.path.rpartition("/")
        stem = name.rsplit(".", 1)[0]
        copy = re.compile(re.escape(stem) + r"(?:[_-]hu[_-]?[0-9a-f]|\.[0-9a-f]{16,}\.)", re.IGNORECASE)
        copies = [key for key, (record, _) in records.items()
                  if eligible(record) and _beside(key, parts.netloc, folder, copy)]  # fmt: skip
        if stem and len(copies) == 1:
            return copies[0]
    return None


def _beside(url: str, host: str, folder: str, copy: re.Pattern[str]) -> bool:
    """Whether ``url`` is on ``host``, in ``folder``, with a name that ``copy`` matches."""
    parts = urlsplit(url)
    own_folder, _, name = parts.path.rpartition("/")
    return parts.netloc == host and own_folder == folder and bool(copy.match(name))
