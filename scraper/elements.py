"""Element facts from parsed HTML: a selector, and the name and role a browser would give.

:class:`ElementReader` builds an :class:`records.ElementInfo` for any parsed element, with the
names of :class:`scraper.accname.NameComputer`. It also lists the elements the axe-core image
rules audit that show no image file of their own (inline SVG, ``role=img`` elements, image-map
areas, objects that embed a document, canvases), so discovery records them too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag

from records import ElementInfo
from scraper.accname import (
    PRESENTATIONAL,
    TEXT_CONTAINERS,
    NameComputer,
    attributes,
    computed_role,
    explicit_role,
    has_global_aria,
    hides,
    is_focusable,
)

SVG_IMAGE_ROLES = frozenset({"img", "graphics-symbol"})
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "avif", "bmp", "tif", "tiff", "ico"})
_PLAIN_ID = re.compile(r"^-?[A-Za-z_][\w-]*$")


def css_string(value: str) -> str:
    """A CSS string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ") + '"'


def id_selector(value: str) -> str:
    """``#id``, or ``[id="…"]`` for an id that is not a plain identifier."""
    return f"#{value}" if _PLAIN_ID.match(value) else f"[id={css_string(value)}]"


class ElementReader:
    """Facts about the elements of one parsed page. Per-node answers (ids, sibling positions, hidden,
    SVG, text containers) are computed once, so a page of any depth or width costs linear time."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self.names = NameComputer(soup)
        self.id_counts = Counter(str(tag["id"]) for tag in soup.find_all(id=True))
        self._positions: dict[int, dict[int, str]] = {}  # parent -> child -> its nth-of-type step
        self._hidden: dict[int, bool] = {}
        self._svg: dict[int, bool] = {}
        self._container: dict[int, Tag | None] = {}
        self._container_text: dict[int, str | None] = {}

    def _step(self, node: Tag) -> str:
        """``tag`` or ``tag:nth-of-type(k)`` when its parent has other children of that name."""
        parent = node.parent
        if node.name == "body" or not isinstance(parent, Tag):
            return node.name
        steps = self._positions.get(id(parent))
        if steps is None:
            children = [child for child in parent.children if isinstance(child, Tag)]
            counts = Counter(child.name for child in children)
            seen: Counter[str] = Counter()
            steps = self._positions[id(parent)] = {}
            for child in children:
                seen[child.name] += 1
                many = counts[child.name] > 1
                steps[id(child)] = f"{child.name}:nth-of-type({seen[child.name]})" if many else child.name
        return steps.get(id(node), node.name)

    def selector(self, tag: Tag) -> str:
        """A selector that finds ``tag``: its unique id, or a path of ``nth-of-type`` steps from one or from body."""
        steps: list[str] = []
        node: Tag | None = tag
        while isinstance(node, Tag) and node.name not in ("html", "[document]"):
            element_id = node.get("id")
            if element_id and self.id_counts[str(element_id)] == 1:
                steps.append(id_selector(str(element_id)))
                break
            steps.append(self._step(node))
            if node.name == "body":
                break
            node = node.parent
        return " > ".join(reversed(steps))

    def _inherited(self, tag: Tag, memo: dict[int, Any], own: Callable[[Tag, Any], Any], root: Any) -> Any:
        """A fact a node inherits from its parent unless it decides it itself, memoised along the way."""
        chain: list[Tag] = []
        node: Tag | None = tag
        while isinstance(node, Tag) and node.name != "[document]" and id(node) not in memo:
            chain.append(node)
            node = node.parent
        value = memo.get(id(node), root) if isinstance(node, Tag) else root
        for member in reversed(chain):
            value = memo[id(member)] = own(member, value)
        return value

    def hidden(self, tag: Tag) -> bool:
        """Out of the accessibility tree by the markup alone (aria-hidden, hidden, an inline display:none)."""
        return bool(self._inherited(tag, self._hidden, lambda node, up: up or hides(node), False))

    def svg(self, tag: Tag) -> bool:
        """In the SVG namespace: inside an inline svg and not inside its foreignObject."""
        return bool(
            self._inherited(
                tag, self._svg, lambda node, up: node.name == "svg" or (up and node.name != "foreignobject"), False
            )
        )

    def container_text(self, tag: Tag) -> str | None:
        """Visible text of the nearest button, link, paragraph, list item or table cell (once per container)."""
        parent = tag.parent
        if not isinstance(parent, Tag):
            return None
        container = self._inherited(
            parent, self._container, lambda node, up: node if is_text_container(node) else up, None
        )
        if container is None:
            return None
        if id(container) not in self._container_text:
            self._container_text[id(container)] = self.names.visible_text(container)
        return self._container_text[id(container)]

    def info(self, tag: Tag) -> ElementInfo:
        """Everything a check needs to know about one element, without a browser."""
        attrs = attributes(tag)
        svg = self.svg(tag)
        hidden = self.hidden(tag)
        role = computed_role(tag.name, attrs, svg)
        name = self.names.name(tag, svg)
        alt = attrs.get("alt") if tag.name in ("img", "input", "area") else None
        link = enclosing_link(tag)
        return ElementInfo(
            selector=self.selector(tag),
            tag=tag.name,
            svg=svg,
            role_attr=attrs.get("role"),
            explicit_role=explicit_role(attrs.get("role")),
            role=role,
            accessible_name=name.text,
            name_source=name.source if name.text else "none",
            alt=alt,
            title=attrs.get("title"),
            hidden=hidden,
            decorative=hidden or role in PRESENTATIONAL,
            focusable=is_focusable(tag.name, attrs) and not hidden,
            global_aria=has_global_aria(attrs),
            in_map=tag.name == "area" and "href" in attrs and tag.find_parent("map") is not None,
            loaded=bool(attrs.get("data", "").strip()) if tag.name == "object" else True,
            container_text=self.container_text(tag) if tag.name == "img" else None,
            in_link=link is not None,
            link_text=link[1] if link is not None else None,
            link_href=link[0] if link is not None else None,
            name_note=name.note,
        )


def enclosing_link(element: Tag) -> tuple[str | None, str | None] | None:
    """The ``(href, own name)`` of the link or button the element is in (the name: aria-label, title or
    text, None when it has none); None outside any link."""
    link = element.find_parent(["a", "button"])
    if not isinstance(link, Tag):
        return None
    label = link.get("aria-label") or link.get("title") or link.get_text(" ", strip=True)
    return (str(link["href"]) if link.get("href") else None), (str(label).strip() or None)


def drawn_elements(soup: BeautifulSoup) -> Iterator[tuple[str, Tag]]:
    """Audited elements with no image file of their own, with their kind (linear in the page's size).

    Kinds: ``svg`` (an inline SVG root, or an SVG element with an image role), ``role-img`` (an
    HTML element with ``role=img``), ``area`` (``map area[href]``), ``object`` (``object[data]``
    embedding a document) and ``canvas``.
    """
    in_svg_tree: set[int] = set()
    for root in soup.find_all("svg"):
        if id(root) in in_svg_tree:
            continue  # a nested svg belongs to its outer root
        yield "svg", root
        html_islands = {id(tag) for island in root.find_all("foreignobject") for tag in island.find_all(True)}
        for tag in root.find_all(True):
            if id(tag) in html_islands:  # HTML inside foreignObject is audited as HTML
                continue
            in_svg_tree.add(id(tag))
            if tag.name != "svg" and explicit_role(str(tag.get("role") or "")) in SVG_IMAGE_ROLES:
                yield "svg", tag
    for tag in soup.find_all(["area", "object", "canvas"]):
        if tag.name == "area" and tag.has_attr("href") and tag.find_parent("map") is not None:
            yield "area", tag
        elif tag.name == "object" and str(tag.get("data") or "").strip() and not is_image_object(tag):
            yield "object", tag
        elif tag.name == "canvas":
            yield "canvas", tag
    for tag in soup.find_all(role=True):
        if id(tag) in in_svg_tree or tag.name in ("img", "input", "object", "area"):
            continue
        if explicit_role(str(tag.get("role") or "")) == "img":
            yield "role-img", tag


def is_text_container(tag: Tag) -> bool:
    """A button, link or text block whose visible text an image's alt must not repeat."""
    name = tag.name
    return (
        name == "button"
        or explicit_role(str(tag.get("role") or "")) == "button"
        or (name == "a" and tag.has_attr("href"))
        or name in TEXT_CONTAINERS
    )


def is_image_object(tag: Tag) -> bool:
    """An ``object`` whose data is an image file (fetched and captioned like an img)."""
    return is_image_data(str(tag.get("type") or ""), str(tag.get("data") or ""))


def is_image_data(media_type: str, data: str) -> bool:
    """An object's ``type`` and ``data`` name an image file Pillow reads (not SVG, not a document)."""
    media_type, data = media_type.strip().lower(), data.strip()
    if media_type:
        return media_type.startswith("image/") and media_type != "image/svg+xml"
    if data.lower().startswith("data:"):
        return data[5:].lower().startswith("image/") and not data[5:].lower().startswith("image/svg")
    path = urlsplit(data).path
    return "." in path and path.rsplit(".", 1)[-1].lower() in IMAGE_EXTENSIONS
