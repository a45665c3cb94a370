"""Liquid includes in a Markdown file (Jekyll's, Eleventy's), for ``--fix-patch``: the ``alt`` parameter of the
include that draws an image, set in place.

``{% include image.html src="/img/shop.jpg" alt="IMG_0042" %}`` and ``{% render 'image', src: '/img/shop.jpg',
alt: '' %}`` hand their parameters to a template that writes the ``<img>``: where one names an audited image in a
named parameter (``src``, ``image``, ``url``...: :data:`reports.patch_hugo.IMAGE_PARAMS`) and has an ``alt``
parameter, that parameter's value is set. One with no ``alt`` parameter is left alone, since what its template
does with another is its own, and so is one whose image is a variable or an expression (``{{ site.baseurl }}``),
and one inside ``{% raw %}`` (shown, not run).
Liquid strings have no escapes: a value is written in the quotes the text does not hold, and a text that holds
both is left to a person.
"""

from __future__ import annotations

import re
from collections import defaultdict

from records import ImageRecord
from reports.patch_hugo import IMAGE_PARAMS, source_or_copy

_INCLUDE = re.compile(
    r"\{%-?\s*(?:include|include_relative|render)\s+(?P<params>(?:\"[^\"]*\"|'[^']*'|[^\"'%]|%(?!\}))*?)\s*-?%\}"
)
_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}.*?(?:\{%-?\s*endraw\s*-?%\}|\Z)", re.DOTALL)
_PARAM = re.compile(r"(?P<name>[\w-]+)\s*[=:]\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[^\s,\"'%]+))")


def patched_includes(
    text: str, bases: tuple[str, ...], records: dict[str, tuple[ImageRecord, str]]
) -> tuple[str, dict[str, int]]:
    """``text`` with the ``alt`` parameter of every include that draws an audited image with a text set (see the
    module); how many includes of each image URL changed."""
    done: dict[str, int] = defaultdict(int)
    out: list[str] = []
    last = 0
    raw = [span.span() for span in _RAW.finditer(text)]  # shown as written, not run
    for call in _INCLUDE.finditer(text):
        if any(start <= call.start() < end for start, end in raw):
            continue
        params = {match.group("name").lower(): match for match in _PARAM.finditer(call.group("params"))}
        src = next((params[name] for name in IMAGE_PARAMS if name in params), None)
        literal = None if src is None or src.group("bare") is not None else src.group("dq") or src.group("sq")
        url = source_or_copy(literal, bases, records) if literal and "{{" not in literal else None
        alt = params.get("alt")
        if url is None or alt is None or alt.group("bare") is not None:
            continue
        value, group = records[url][1], "dq" if alt.group("dq") is not None else "sq"
        own = '"' if group == "dq" else "'"
        quote = next((mark for mark in (own, "'" if own == '"' else '"') if mark not in value), None)
        if quote is None:  # both quotes: no Liquid string holds it
            continue
        start = call.start("params")
        out.append(text[last : start + alt.start(group) - 1] + quote + value + quote)
        last = start + alt.end()
        done[url] += 1
    out.append(text[last:])
    return "".join(out), dict(done)
