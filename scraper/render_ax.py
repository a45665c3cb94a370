"""Read a rendered page through the DevTools protocol: the DOM snapshot, Chromium's own accessible
names and roles, and screenshots of the elements it draws that have no image file, and of the SVG
images it draws (the browser is the safe SVG rasteriser: an SVG shown as an image runs no script and
loads nothing; what it drew had already passed the guarded route).

:func:`read_page` runs ``render_dom.js`` in the page, asks Chromium's accessibility tree
(``Accessibility.getPartialAXTree``) for the name, name source and role of every element an
image rule audits, and captures each drawn element (inline SVG, canvas, a ``role=img`` element
without a background, an object embedding a document, an ``img`` whose image the browser received
as SVG) at its rendered size with
``Page.captureScreenshot``, bounded in count, pixels and bytes. Everything stays in the guarded
browser context: a screenshot is the compositor's picture of what was already loaded.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scraper.elements import is_image_data
from scraper.sizing import effective_sizing, needs_styles

log = logging.getLogger("altscout.render")

DOM_SCRIPT = (Path(__file__).with_name("render_dom.js")).read_text(encoding="utf-8")
# Chromium's reasons for leaving a node out of the accessibility tree, by what they mean for a check.
HIDDEN_REASONS = frozenset(
    {"ariaHiddenElement", "ariaHiddenSubtree", "notRendered", "notVisible", "inertElement", "inertSubtree"}
)
PRESENTATIONAL_REASONS = frozenset({"presentationalRole", "emptyAlt", "inheritsPresentation"})
# DevTools name sources -> AltScout's name_source. Defaults Chromium invents (an image button's
# "Submit", a placeholder) are not the author's name.
_ATTRIBUTE_SOURCES = {"aria-labelledby", "aria-label", "alt", "title"}
_LABEL_SOURCES = {"label", "labelfor", "labelwrapped"}
_DEFAULT_SOURCES = {"type", "placeholder", "value"}
SCREENSHOT_KINDS = frozenset({"svg", "canvas", "role-img", "object"})
NAMES_TIME_SHARE = 0.5  # of the time left, at most this much goes to names, then screenshots
NAMES_IN_FLIGHT = 64  # DevTools requests sent before awaiting their answers (one round trip each otherwise)


@dataclass(frozen=True)
class ShotBudget:
    """Which drawn elements are captured, and how much the captures may take."""

    min_width: int = 100
    min_height: int = 100
    max_shots: int = 40
    max_pixels: int = 2048 * 2048  # larger elements are captured scaled down to this many pixels
    max_bytes: int = 16 * 1024 * 1024


def name_source(node_name: dict[str, Any]) -> str:
    """Which source gave a DevTools AX name: the first source with a value that is not superseded."""
    for source in node_name.get("sources") or []:
        if source.get("superseded") or not str((source.get("value") or {}).get("value") or "").strip():
            continue
        attribute = source.get("attribute")
        native = source.get("nativeSource")
        if attribute in _ATTRIBUTE_SOURCES:
            return str(attribute)
        if attribute in _DEFAULT_SOURCES or source.get("type") == "placeholder":
            return "none"
        if native == "title":  # an SVG <title> child
            return "title"
        if native in _LABEL_SOURCES:
            return "label"
        return "contents"
    return "none"


def ax_facts(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The role, name, name source and ignored reasons of the first node of a partial AX tree."""
    if not nodes:
        return {"ignored": True, "reasons": ["notRendered"]}
    node = nodes[0]
    name = node.get("name") or {}
    source = name_source(name)
    return {
        "role": (node.get("role") or {}).get("value"),
        "name": str(name.get("value") or "") if source != "none" else "",
        "source": source,
        "ignored": bool(node.get("ignored")),
        "reasons": [reason.get("name") for reason in node.get("ignoredReasons") or []],
    }


def shot_decision(item: dict[str, Any], budget: ShotBudget) -> tuple[str, str] | None:
    """None when the element is to be captured, else (reason code, sentence) for its record."""
    width, height = int(item.get("w") or 0), int(item.get("h") or 0)
    if not item.get("visible") or width <= 0 or height <= 0:
        return "not_shown", "the element has no visible box on the rendered page, so there is nothing to caption"
    if width < budget.min_width or height < budget.min_height:
        return "too_small", f"shown at {width}x{height} px, below the {budget.min_width}x{budget.min_height} px minimum"
    return None


def wants_screenshot(item: dict[str, Any]) -> bool:
    """A drawn element, or an SVG ``img`` (``svg_image``), that AltScout captions from the browser's rendering."""
    kind = item.get("kind")
    if kind == "img":
        return bool(item.get("svg_image")) and item.get("decoded") is True  # drawn, not a broken-image icon
    if kind == "role-img":
        return not item.get("background")  # a role=img background is captioned from its image file
    if kind == "object":
        return not item.get("image_object")
    return kind in SCREENSHOT_KINDS


async def read_page(
    context: Any,
    page: Any,
    max_elements: int,
    budget: ShotBudget,
    deadline: float,
    is_svg: Callable[[str], bool] = lambda url: False,
) -> tuple[dict[str, Any], dict[int, bytes]]:
    """The DOM snapshot with Chromium's names in each audited item (``ax``) and the screenshots by item index
    (drawn elements, and ``img`` elements whose image ``is_svg``: the browser is the safe SVG rasteriser)."""
    cdp = await context.new_cdp_session(page)
    try:
        result = await cdp.send(
            "Runtime.evaluate", {"expression": f"({DOM_SCRIPT})({int(max_elements)})", "returnByValue": False}
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"the DOM script failed: {result['exceptionDetails'].get('text')}")
        handle = result["result"]["objectId"]
        data = await _call(cdp, handle, "function() { return this.data; }", by_value=True)
        element_ids = await _element_ids(cdp, handle)
        items = data.get("images") or []
        for item in items:
            if item.get("kind") == "object":
                item["image_object"] = is_image_data(str(item.get("type") or ""), str(item.get("url") or ""))
            elif item.get("kind") == "img":
                item["svg_image"] = is_svg(str(item.get("url") or ""))
        names_until = time.monotonic() + max(0.0, deadline - time.monotonic()) * NAMES_TIME_SHARE
        named = await _names(cdp, items, element_ids, names_until)
        await _styles(cdp, items, element_ids, names_until)
        shots = await _screenshots(cdp, items, budget, deadline)
        log.debug("read %d items, %d named by Chromium, %d screenshots", len(items), named, len(shots))
        return data, shots
    finally:
        try:
            await cdp.detach()
        except Exception as exc:  # the page may be gone already
            log.debug("cdp detach: %s", exc)


async def _names(cdp: Any, items: list[dict[str, Any]], element_ids: list[str], until: float) -> int:
    """Chromium's name, source and role into each item that refers to an element (``ax``), asked
    ``NAMES_IN_FLIGHT`` at a time; items left when ``until`` passes are marked ``ax_skipped``."""
    asked = [item for item in items if item.get("ref") is not None and item["ref"] < len(element_ids)]
    named = 0
    for start in range(0, len(asked), NAMES_IN_FLIGHT):
        chunk = asked[start : start + NAMES_IN_FLIGHT]
        if time.monotonic() > until:
            for item in chunk:
                item["ax_skipped"] = True
            continue
        queries = [{"objectId": element_ids[item["ref"]], "fetchRelatives": False} for item in chunk]
        trees = await asyncio.gather(*(cdp.send("Accessibility.getPartialAXTree", query) for query in queries))
        for item, tree in zip(chunk, trees, strict=True):
            item["ax"] = ax_facts(tree.get("nodes") or [])
        named += len(chunk)
    return named


async def _styles(cdp: Any, items: list[dict[str, Any]], element_ids: list[str], until: float) -> None:
    """The width, height and aspect-ratio each ``img`` that its attributes leave unsized gets from its own
    styles (``cssSizing``, as Lighthouse reads them: ``CSS.getMatchedStylesForNode``), asked
    ``NAMES_IN_FLIGHT`` at a time; an ``img`` not reached by ``until`` has none."""
    asked = [
        item
        for item in items
        if item.get("kind") == "img"
        and item.get("ref") is not None
        and item["ref"] < len(element_ids)
        and needs_styles(item.get("widthAttr"), item.get("heightAttr"), item.get("position"), str(item.get("url", "")))
    ]
    if not asked or time.monotonic() > until:
        return
    try:
        for method in ("DOM.enable", "CSS.enable", "DOM.getDocument"):
            await cdp.send(method)
    except Exception as exc:  # no styles to read: every asked img stays unread (not judged)
        log.debug("styles not read: %s", exc)
        return
    for start in range(0, len(asked), NAMES_IN_FLIGHT):
        if time.monotonic() > until:
            break
        chunk = asked[start : start + NAMES_IN_FLIGHT]
        await asyncio.gather(*(_matched_sizing(cdp, item, element_ids[item["ref"]]) for item in chunk))


async def _matched_sizing(cdp: Any, item: dict[str, Any], object_id: str) -> None:
    try:
        node = await cdp.send("DOM.requestNode", {"objectId": object_id})
        matched = await cdp.send("CSS.getMatchedStylesForNode", {"nodeId": node["nodeId"]})
    except Exception as exc:  # a node gone from the document: its sizing stays unread
        log.debug("matched styles: %s", exc)
        return
    item["cssSizing"] = effective_sizing(matched)


async def _call(cdp: Any, object_id: str, function: str, by_value: bool) -> Any:
    reply = await cdp.send(
        "Runtime.callFunctionOn",
        {"objectId": object_id, "functionDeclaration": function, "returnByValue": by_value},
    )
    value = reply["result"]
    return value.get("value") if by_value else value.get("objectId")


async def _element_ids(cdp: Any, handle: str) -> list[str]:
    """The remote object ids of the snapshot's ``elements`` array, in order."""
    array = await _call(cdp, handle, "function() { return this.elements; }", by_value=False)
    if array is None:
        return []
    props = await cdp.send("Runtime.getProperties", {"objectId": array, "ownProperties": True})
    indexed = [
        (int(prop["name"]), prop["value"]["objectId"])
        for prop in props.get("result") or []
        if prop.get("name", "").isdigit() and "objectId" in (prop.get("value") or {})
    ]
    return [object_id for _, object_id in sorted(indexed)]


async def _screenshots(cdp: Any, items: list[dict[str, Any]], budget: ShotBudget, deadline: float) -> dict[int, bytes]:
    """PNG captures of the drawn elements, in document order, within the budget; a refusal is noted on the item."""
    shots: dict[int, bytes] = {}
    spent = 0
    for index, item in enumerate(items):
        if not wants_screenshot(item):
            continue
        refusal = shot_decision(item, budget)
        if refusal is None and (len(shots) >= budget.max_shots or spent >= budget.max_bytes):
            refusal = ("screenshot_limit", f"more than {budget.max_shots} drawn elements on the page were captured")
        if refusal is None and time.monotonic() >= deadline:
            refusal = ("render_budget", "the render time budget ran out before this element was captured")
        if refusal is not None:
            item["shot_refused"] = list(refusal)
            continue
        width, height = float(item["w"]), float(item["h"])
        scale = min(1.0, math.sqrt(budget.max_pixels / (width * height)))
        clip = {"x": float(item["x"]), "y": float(item["y"]), "width": width, "height": height, "scale": scale}
        try:
            reply = await asyncio.wait_for(
                cdp.send("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}),
                max(0.5, deadline - time.monotonic()),
            )
        except Exception as exc:  # a failed capture leaves this element uncaptioned, with why
            item["shot_refused"] = ["screenshot_failed", f"the browser could not capture the element: {str(exc)[:150]}"]
            continue
        data = base64.b64decode(reply["data"])
        spent += len(data)
        shots[index] = data
    return shots
