"""Turn what the browser showed into image records, and merge them with static discovery.

* :func:`records_from_snapshot`: one record per URL from the DOM snapshot of
  ``render_dom.js`` (``found_in`` gains ``rendered``), with rendered box size, visibility, link
  and figure context, and per element the accessible name and role Chromium computed
  (:func:`element_from_item`); drawn elements with no image file are records of their own,
  with the browser's screenshot of them.
* :func:`merge_static`: static finds for the same image (same URL, or a ``src``/``srcset``
  candidate of a rendered ``img``) join the rendered record; static-only finds stay.
* :func:`add_network_images`: images the browser loaded that no element explains
  (``found_in: network``).
* :func:`client_rendered_signs`: why a statically read page probably needs a browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

from bs4 import Tag

from records import ELEMENT, SCREENSHOT, ElementInfo, ImageRecord
from scraper.accname import (
    ARIA_ROLES,
    PRESENTATIONAL,
    attribute_name,
    computed_role,
    explicit_role,
    has_global_aria,
    is_focusable,
    sanitize,
)
from scraper.discover import (
    LAZY_BACKGROUND_ATTRS,
    NOT_CAPTIONED,
    PLACEHOLDER_NAME,
    UNDECODABLE_TYPES,
    Collector,
    ParsedPage,
)
from scraper.elements import SVG_IMAGE_ROLES
from scraper.render_ax import HIDDEN_REASONS, PRESENTATIONAL_REASONS
from scraper.sizing import img_sizing, resolution_needed
from scraper.srcset import largest, parse_srcset
from scraper.urls import resource_url

FOUND_IN_BY_KIND = {"img": ["img"], "input": ["input"], "poster": ["poster"], "background": ["background"]}
DRAWN_KINDS = frozenset({"svg", "role-img", "area", "object", "canvas"})
FRAMEWORK_ROOTS = (
    ("#app", "#app root (Vue and others)"),
    ("#root", "#root element (React)"),
    ("#__next", "Next.js root"),
    ("#__nuxt", "Nuxt root"),
    ("[data-reactroot]", "React root"),
    ("[ng-version], app-root, [ng-app]", "Angular root"),
    ("[data-v-app]", "Vue root"),
    ("#svelte", "Svelte root"),
)
_TEXT_FEW = 200  # characters of visible text in an "almost empty" body
_SCRIPT_LARGE = 20_000  # bytes of inline script, or any external bundle, counts as a large script


def _fill_from_dom(record: ImageRecord, item: dict[str, Any]) -> None:
    record.title = item.get("title")
    record.width_attr = item.get("widthAttr")
    record.height_attr = item.get("heightAttr")
    record.in_link = bool(item.get("inLink"))
    record.link_href = item.get("linkHref")
    record.link_text = item.get("linkText")
    record.in_figure = bool(item.get("inFigure"))
    record.figcaption = item.get("figcaption")


def element_from_item(item: dict[str, Any]) -> ElementInfo | None:
    """One snapshot item's element: Chromium's name and role (``ax``), and the facts its attributes decide."""
    facts = item.get("facts")
    if not facts:
        return None
    tag, svg = str(facts.get("tag") or ""), bool(facts.get("svg"))
    attrs = {str(key).lower(): str(value) for key, value in (facts.get("attrs") or {}).items()}
    ax = item.get("ax")
    reasons = set(ax.get("reasons") or []) if ax else set()
    hidden = bool(item.get("ariaHidden")) or bool(reasons & HIDDEN_REASONS)
    role = computed_role(tag, attrs, svg)
    if ax and not ax.get("ignored"):
        name, source = sanitize(ax.get("name")) or None, str(ax.get("source") or "none")
        role = chromium_role(ax.get("role"), role)
    else:  # not in Chromium's tree (or not asked): the author's attributes
        fallback = attribute_name(tag, attrs, facts.get("labelledbyText"))
        name, source = fallback.text, fallback.source
    return ElementInfo(
        selector=facts.get("selector"),
        tag=tag,
        svg=svg,
        role_attr=attrs.get("role"),
        explicit_role=explicit_role(attrs.get("role")),
        role=role,
        accessible_name=name,
        name_source=source if name else "none",
        alt=attrs.get("alt") if tag in ("img", "input", "area") else None,
        title=attrs.get("title"),
        hidden=hidden,
        decorative=hidden or bool(reasons & PRESENTATIONAL_REASONS) or computed_role(tag, attrs, svg) in PRESENTATIONAL,
        focusable=is_focusable(tag, attrs) and not hidden,
        global_aria=has_global_aria(attrs),
        in_map=bool(facts.get("inMap")),
        loaded=bool(facts.get("loaded", True)),
        container_text=sanitize(facts.get("containerText")) or None,
        in_link=bool(item.get("inLink")),
        link_text=sanitize(item.get("linkText")) or None if item.get("inLink") else None,
        link_href=item.get("linkHref") if item.get("inLink") else None,
        sizing=_sizing(item) if item.get("kind") == "img" else None,
        shown_size=[int(side) for side in item["shownSize"]] if item.get("shownSize") else None,
        object_fit=item.get("objectFit"),
        resolution_needed=resolution_needed(item) if item.get("kind") == "img" else None,
    )


def _sizing(item: dict[str, Any]) -> str:
    """How the page sizes a rendered ``img`` (Lighthouse's unsized-images): its attributes, its matched styles
    (``cssSizing``, read only when the attributes do not size it), its position and its box."""
    return img_sizing(
        width_attr=item.get("widthAttr"),
        height_attr=item.get("heightAttr"),
        css=item.get("cssSizing"),
        position=item.get("position"),
        url=str(item.get("url") or ""),
        box=(float(item.get("w") or 0), float(item.get("h") or 0)),
    )


def chromium_role(role: Any, fallback: str | None) -> str | None:
    """Chromium's role in ARIA's words (its internal roles, such as PluginObject, give way to ``fallback``)."""
    name = str(role or "")
    if name == "image":
        return "img"
    return name if name in ARIA_ROLES else fallback


def _update_rendered(record: ImageRecord, item: dict[str, Any]) -> None:
    """Rendered size and visibility over every occurrence: the largest visible box wins."""
    visible = bool(item.get("visible"))
    width, height = int(item.get("w") or 0), int(item.get("h") or 0)
    if record.visible is None or (visible and not record.visible):
        record.visible = visible
        record.rendered_width, record.rendered_height = width, height
    elif visible == record.visible and width * height > (record.rendered_width or 0) * (record.rendered_height or 0):
        record.rendered_width, record.rendered_height = width, height


def _img_url(item: dict[str, Any], base_url: str) -> tuple[str, list[str]]:
    """The URL an ``img`` shows, and how: a placeholder with a lazy attribute stands for the lazy image.

    A lazy loader the scroll did not trigger (one that waits for a click, say) still means the
    page has that image; static discovery makes the same choice.
    """
    url = str(item.get("url") or "")
    if fallback := _decodable_picture_choice(item, url, base_url):
        return fallback, ["srcset"]
    placeholder = (
        not url
        or url.startswith("data:")
        or int(item.get("naturalWidth") or 0) <= 1
        or bool(PLACEHOLDER_NAME.search(urlsplit(url).path))
    )
    if not placeholder:
        return url, []
    best = largest([c for srcset in item.get("lazySrcsets") or [] for c in parse_srcset(srcset)])
    if best is not None:
        return urljoin(base_url, best.url), ["lazy", "srcset"]
    lazy = item.get("lazy") or []
    return (str(lazy[0]), ["lazy"]) if lazy else (url, [])


def _decodable_picture_choice(item: dict[str, Any], url: str, base_url: str) -> str | None:
    """When the browser chose a ``<picture>`` source AltScout cannot decode (SVG, JPEG XL...), the
    largest decodable candidate of the same picture, as static discovery picks it."""
    sources = item.get("sources") or []
    chosen = [s for s in sources if url in {urljoin(base_url, c.url) for c in parse_srcset(s.get("srcset") or "")}]
    if not chosen or not str(chosen[0].get("type") or "").lower().startswith(UNDECODABLE_TYPES):
        return None
    decodable = [s for s in sources if not str(s.get("type") or "").lower().startswith(UNDECODABLE_TYPES)]
    best = largest([c for s in decodable for c in parse_srcset(s.get("srcset") or "")])
    if best is not None:
        return urljoin(base_url, best.url)
    return str(item.get("src") or "") or None


def _aliases(item: dict[str, Any], base_url: str) -> set[str]:
    """The URLs static discovery may have chosen for this ``img``: src, lazy attributes, srcset candidates."""
    urls = {item.get("src") or "", item.get("url") or "", *(item.get("lazy") or [])}
    for srcset in [*(item.get("srcsets") or []), *(item.get("lazySrcsets") or [])]:
        urls.update(urljoin(base_url, candidate.url) for candidate in parse_srcset(srcset))
    return {resource_url(base_url, url) for url in urls if url}


def records_from_snapshot(
    snapshot: dict[str, Any], shots: dict[int, bytes] | None = None
) -> tuple[list[ImageRecord], dict[str, ImageRecord]]:
    """Records in document order, and the map from every alias URL to its record."""
    base_url = snapshot.get("baseURI") or snapshot.get("url") or ""
    collector = Collector(base_url, snapshot.get("url"))
    undrawn: dict[int, tuple[ImageRecord, tuple[str, str]]] = {}  # SVG images not drawn where met, and why
    aliases: dict[str, ImageRecord] = {}
    for index, item in enumerate(snapshot.get("images") or []):
        kind = str(item.get("kind") or "img")
        element = element_from_item(item)
        if kind in DRAWN_KINDS:
            if element is not None:
                _add_drawn(collector, kind, item, element, (shots or {}).get(index))
            continue
        found_in = [*FOUND_IN_BY_KIND.get(kind, [kind]), "rendered"]
        if item.get("picture"):
            found_in.insert(1, "picture")
        alt = item.get("alt") if kind in ("img", "input") else None
        url, how = str(item.get("url") or ""), []
        if kind == "img":
            url, how = _img_url(item, base_url)
            found_in[1:1] = how
        fill = lambda r, item=item: _fill_from_dom(r, item)  # noqa: E731
        if kind in ("img", "input") and element is not None and collector.shows_no_image(url):
            drawn = collector.add_drawn(kind, found_in, element, fill)  # no image URL: the element is its record
            if drawn.status == "pending":
                drawn.skip(*NOT_CAPTIONED[kind])
            continue
        record = collector.add(url, found_in, alt, fill, element)
        if record is None:
            continue
        # The box is the image's size only when the browser showed that very image: not a placeholder
        # a lazy image stands in for, not a broken-image icon.
        if not how and item.get("decoded") is not False:
            _update_rendered(record, item)
        if kind == "img" and item.get("svg_image"):
            why_not = _svg_drawing(record, item, (shots or {}).get(index))
            if why_not is not None:
                undrawn.setdefault(id(record), (record, why_not))
        if kind == "img":
            for alias in _aliases(item, base_url):
                aliases.setdefault(alias, record)
    for record, (code, detail) in undrawn.values():  # no occurrence of the image was drawn: say why
        if record.status == "pending" and record.screenshot is None:
            record.skip(code, detail)
    records = list(collector.records.values())
    for record in records:
        aliases.setdefault(record.source, record)
    return records, aliases


NOT_DRAWN = (
    "the browser did not draw this SVG image (browsers draw an SVG only when it is served as image/svg+xml), "
    "so visitors do not see it either"
)


def _svg_drawing(record: ImageRecord, item: dict[str, Any], shot: bytes | None) -> tuple[str, str] | None:
    """An SVG image is captioned from the browser's drawing of it (``screenshot``), never decoded from its
    file; when this occurrence was not drawn, why (the record says it if no other occurrence is drawn:
    the same logo hidden in a closed menu and shown in the header is captioned from the header's)."""
    if record.status != "pending" or record.screenshot is not None:
        return None
    if item.get("decoded") is not True:
        return "svg_not_supported", NOT_DRAWN
    if shot is None:
        code, detail = item.get("shot_refused") or ("not_shown", "the browser did not capture the image")
        return str(code), str(detail)
    record.screenshot = shot
    if SCREENSHOT not in record.found_in:
        record.found_in.append(SCREENSHOT)
    _update_rendered(record, item)  # an SVG may have no intrinsic size: its box is what was drawn
    return None


def _add_drawn(collector: Collector, kind: str, item: dict[str, Any], element: ElementInfo, shot: bytes | None) -> None:
    """A drawn element: an object's image file, or the element itself, captioned from its screenshot."""
    fill = lambda r: _fill_from_dom(r, item)  # noqa: E731
    if kind == "svg" and element.tag != "svg" and element.explicit_role not in SVG_IMAGE_ROLES:
        return
    if kind == "role-img" and (element.explicit_role != "img" or item.get("background")):
        return  # a role=img element with a background is that image's record (the background item)
    if kind == "object" and item.get("image_object"):
        record = collector.add(str(item.get("url") or ""), ["object", "rendered"], None, fill, element)
        if record is not None:
            _update_rendered(record, item)
        return
    record = collector.add_drawn(kind, [kind, "rendered", *([SCREENSHOT] if shot else [])], element, fill)
    _update_rendered(record, item)
    if record.status != "pending" or record.screenshot is not None:
        return
    if shot is not None:
        record.screenshot = shot
    elif kind == "area":
        record.skip(*NOT_CAPTIONED["area"])
    else:
        code, detail = item.get("shot_refused") or ("not_shown", "the element was not captured")
        record.skip(str(code), str(detail))


def merge_static(
    rendered: list[ImageRecord], aliases: dict[str, ImageRecord], static: Iterable[ImageRecord]
) -> list[ImageRecord]:
    """Rendered records first; a static find of the same image adds how it was found; static-only finds stay."""
    merged = list(rendered)
    for record in static:
        if ELEMENT in record.found_in:  # the rendered DOM is the truth about elements without an image file
            continue
        twin = aliases.get(record.source)
        if twin is None:
            merged.append(record)
            continue
        for where in record.found_in:
            if where not in twin.found_in:
                twin.found_in.append(where)
        if twin.width_attr is None and twin.height_attr is None:
            twin.width_attr, twin.height_attr = record.width_attr, record.height_attr
        if twin.subject is None:  # what the page's HTML says the image shows, and the heading above it
            twin.subject, twin.subject_source = record.subject, record.subject_source
        twin.heading = twin.heading or record.heading
        twin.wp_attachment_id = twin.wp_attachment_id or record.wp_attachment_id
    return merged


def add_network_images(records: list[ImageRecord], aliases: dict[str, ImageRecord], loaded: Iterable[str]) -> None:
    """Append a ``network`` record for every loaded image that no element accounts for."""
    known = {record.source for record in records} | set(aliases)
    for url in loaded:
        if url not in known:
            known.add(url)
            records.append(ImageRecord(source=url, found_in=["network"], occurrences=0))


def client_rendered_signs(page: ParsedPage, found_images: int) -> list[str]:
    """Why this statically read page probably builds its content with JavaScript (empty: it doesn't)."""
    soup = page.soup
    body = soup.find("body")
    if not isinstance(body, Tag):
        return []
    scripts = soup.find_all("script")
    external = [s for s in scripts if s.get("src")]
    inline_bytes = sum(len(s.get_text()) for s in scripts if not s.get("src"))
    large_script = bool(external) or inline_bytes >= _SCRIPT_LARGE
    text = " ".join(
        t.strip() for t in body.find_all(string=True) if t.parent is None or t.parent.name not in ("script", "style")
    )
    text = re.sub(r"\s+", " ", text).strip()
    signs: list[str] = []
    if len(text) < _TEXT_FEW and large_script:
        signs.append(f"an almost empty body ({len(text)} characters of text) next to {len(scripts)} script(s)")
    for selector, label in FRAMEWORK_ROOTS:
        root = soup.select_one(selector)
        if isinstance(root, Tag) and len(root.get_text(" ", strip=True)) < _TEXT_FEW and not root.find("img"):
            signs.append(f"an empty {label}")
            break
    placeholders = [tag for tag in soup.find_all(True) if any(tag.get(name) for name in LAZY_BACKGROUND_ATTRS)]
    if placeholders:
        attrs = sorted({name for tag in placeholders for name in LAZY_BACKGROUND_ATTRS if tag.get(name)})
        signs.append(f"{len(placeholders)} element(s) whose image a script sets from {', '.join(attrs)}")
    if not signs and found_images == 0 and large_script:
        signs.append("no images in the HTML, only scripts")
    return signs
