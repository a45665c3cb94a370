"""An ``img``'s box against its image: Lighthouse's ``unsized-images`` and ``image-size-responsive``.

Whether the page reserves an ``img``'s box before its image arrives (``unsized-images``):

An image the layout cannot size until its bytes arrive moves everything below it when they do
(Cumulative Layout Shift). Lighthouse counts an ``img`` as sized by its ``width`` and ``height``
attributes (non-negative integers), or by authored CSS: ``width`` and ``height``, or one of them
with ``aspect-ratio`` (a value other than ``auto``, ``initial``, ``unset`` or ``inherit``), from the
inline style, the attributes' presentational style or the most specific matching rule. It does not
judge an image out of the flow (``position: fixed`` or ``absolute``, of the ``<picture>`` when
there is one), a ``data:`` SVG, or one with a 0x0 box.

:func:`img_sizing` names which of these holds for one element (``ElementInfo.sizing``). In the
browser the CSS comes from Chromium's matched styles (:func:`effective_sizing` reads
``CSS.getMatchedStylesForNode``); without one, :func:`static_sizing` reads the attributes and the
inline ``style`` (stylesheet rules need the browser's cascade).

:func:`resolution_needed` is the least file size a rendered ``img``'s box needs not to look blurry
(``image-size-responsive`` at device pixel ratio 1; ``ElementInfo.resolution_needed``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from bs4 import Tag

from scraper.accname import NOT_RENDERED
from scraper.css import inline_declarations

SIZED_BY_ATTRIBUTES = "attributes"
SIZED_BY_CSS = "css"
OUT_OF_FLOW = "out_of_flow"
NOT_DISPLAYED = "not_displayed"
INLINE_SVG = "inline_svg"
STYLES_NOT_READ = "not_read"  # the render budget ran out first: not judged, as Lighthouse does
UNSIZED = "unsized"
SIZING_VALUES = (SIZED_BY_ATTRIBUTES, SIZED_BY_CSS, OUT_OF_FLOW, NOT_DISPLAYED, INLINE_SVG, STYLES_NOT_READ, UNSIZED)

SIZE_PROPERTIES = ("width", "height", "aspect-ratio")
_NOT_EXPLICIT = frozenset({"auto", "initial", "unset", "inherit"})
_DENSITY = re.compile(r" \d+(\.\d+)?x")  # a srcset density descriptor, as Lighthouse spots one
_SMALL_IMAGE = 64  # px a side: an icon needs all its pixels, a larger image _LARGE_IMAGE_SHARE of them
_LARGE_IMAGE_SHARE = 0.75


def explicit_css(value: str | None) -> bool:
    """A CSS size that fixes the box before the image loads: set, and not ``auto`` or a CSS-wide keyword."""
    text = (value or "").strip().lower()
    text = text.removesuffix("!important").strip()
    return bool(text) and text not in _NOT_EXPLICIT


def sized(width_attr: int | None, height_attr: int | None, css: Mapping[str, str | None]) -> bool:
    """Width and height are both known (attribute or CSS), or one of them with an explicit aspect-ratio."""
    width = width_attr is not None or explicit_css(css.get("width"))
    height = height_attr is not None or explicit_css(css.get("height"))
    ratio = explicit_css(css.get("aspect-ratio"))
    return (width and height) or ((width or height) and ratio)


def img_sizing(
    *,
    width_attr: int | None,
    height_attr: int | None,
    css: Mapping[str, str | None] | None,
    position: str | None,
    url: str,
    box: tuple[float, float] | None,
) -> str:
    """How one ``img`` gets its box, in Lighthouse's order of questions; ``css`` None: its styles were not read.

    ``width_attr``/``height_attr`` are the attributes as integers (None: absent or not a non-negative
    integer, which is what Lighthouse counts); ``box`` the rendered width and height (None: not rendered).
    """
    if (position or "").strip().lower() in ("fixed", "absolute"):
        return OUT_OF_FLOW
    if url.strip().lower().startswith("data:image/svg+xml"):
        return INLINE_SVG
    if width_attr is not None and height_attr is not None:
        return SIZED_BY_ATTRIBUTES
    if css is None:
        return STYLES_NOT_READ
    if sized(width_attr, height_attr, css):
        return SIZED_BY_CSS
    if box is not None and box[0] == 0 and box[1] == 0:
        return NOT_DISPLAYED
    return UNSIZED


def needs_styles(width_attr: int | None, height_attr: int | None, position: str | None, url: str) -> bool:
    """Whether only the element's CSS can tell whether it is sized (what the browser is asked for)."""
    unknown = img_sizing(width_attr=width_attr, height_attr=height_attr, css=None, position=position, url=url, box=None)
    return unknown == STYLES_NOT_READ


def _declared(style: Mapping[str, Any] | None, name: str) -> str | None:
    """A DevTools ``CSSStyle``'s value for one property (the last parsed declaration), or None."""
    value = None
    for prop in (style or {}).get("cssProperties") or []:
        if prop.get("name") == name and prop.get("parsedOk", True) and not prop.get("disabled"):
            value = str(prop.get("value") or "") or value
    return value


def effective_sizing(matched: Mapping[str, Any]) -> dict[str, str | None]:
    """Width, height and aspect-ratio an element's own styles set, from ``CSS.getMatchedStylesForNode``.

    As Lighthouse reads them: the inline style first, then the attributes' presentational style, then
    the last (most specific) matching rule that declares the property; sizes are not inherited.
    """
    rules = [match.get("rule") or {} for match in matched.get("matchedCSSRules") or []]
    found: dict[str, str | None] = {}
    for name in SIZE_PROPERTIES:
        value = _declared(matched.get("inlineStyle"), name) or _declared(matched.get("attributesStyle"), name)
        for rule in reversed(rules):
            if value:
                break
            value = _declared(rule.get("style"), name)
        found[name] = value
    return found


def static_sizing(img: Tag, width_attr: int | None, height_attr: int | None, url: str) -> str:
    """:func:`img_sizing` from the HTML alone: the attributes and inline styles (``<picture>``'s position
    included); an element the markup keeps out of the layout (``hidden``, ``display: none``, inside
    ``<noscript>`` or ``<template>``) is not displayed."""
    own = inline_declarations(str(img.get("style") or ""))
    parent = img.parent
    holder = parent if isinstance(parent, Tag) and parent.name == "picture" else img
    position = inline_declarations(str(holder.get("style") or "")).get("position")
    css = {name: own.get(name) for name in SIZE_PROPERTIES}
    sizing = img_sizing(width_attr=width_attr, height_attr=height_attr, css=css, position=position, url=url, box=None)
    if sizing == UNSIZED and _kept_out_of_layout(img):
        return NOT_DISPLAYED
    return sizing


def _kept_out_of_layout(tag: Tag) -> bool:
    node: Tag | None = tag
    while isinstance(node, Tag) and node.name != "[document]":
        if node.name in NOT_RENDERED or node.has_attr("hidden"):
            return True
        style = str(node.get("style") or "")
        if "display" in style.lower() and inline_declarations(style).get("display", "").strip().lower() == "none":
            return True  # parsed only where a display is written: every unsized img walks its ancestors
        node = node.parent
    return False


def resolution_needed(item: dict[str, Any]) -> list[int] | None:
    """Lighthouse's image-size-responsive at device pixel ratio 1: the least width and height a rendered ``img``'s
    file needs not to look blurry in its box (all of it up to 64 px a side, 75% above), or None where it does not
    judge: a box of 1 px or less, larger than the window or not visible, object-fit other than fill, pixel art
    (image-rendering pixelated or crisp-edges) or a srcset with density descriptors."""
    width, height = (int(side) for side in item.get("shownSize") or (0, 0))
    if width <= 1 or height <= 1 or not item.get("visible") or not item.get("fitsViewport"):
        return None
    if item.get("objectFit") != "fill" or item.get("imageRendering") in ("pixelated", "crisp-edges"):
        return None
    if _DENSITY.search(str((item.get("srcsets") or [""])[0])):
        return None
    factor = 1.0 if width <= _SMALL_IMAGE and height <= _SMALL_IMAGE else _LARGE_IMAGE_SHARE
    return [math.ceil(factor * width), math.ceil(factor * height)]
