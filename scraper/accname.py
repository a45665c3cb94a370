"""Accessible names and roles of image elements, as browsers compute them (HTML-AAM, accname 1.2).

Two halves:

* Attribute-level semantics shared by both modes: the explicit role (the first valid ARIA role
  token), the implicit role of each element, presentational-role conflict resolution (a focusable
  element or one with a global ARIA attribute keeps its implicit role), and focusability. With a
  browser these read the attributes the DOM snapshot carries; without one, the parsed HTML's.
* :func:`static_name`: the text alternative computed over the parsed HTML when no browser ran.
  Hidden means ``aria-hidden``, the ``hidden`` attribute or an inline ``display:none`` /
  ``visibility:hidden``; a name that stylesheets could change says so in ``name_note``.

With a browser, names come from Chromium's accessibility tree instead (:mod:`scraper.render_ax`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


PRESENTATIONAL = frozenset({"none", "presentation"})
# ARIA 1.2, Graphics ARIA and DPUB roles (DPUB by prefix): a role token outside these is ignored.
ARIA_ROLES = _words(
    """alert alertdialog application article banner blockquote button caption cell checkbox code columnheader
    combobox comment complementary contentinfo definition deletion dialog directory document emphasis feed figure
    form generic grid gridcell group heading img insertion link list listbox listitem log main mark marquee math
    menu menubar menuitem menuitemcheckbox menuitemradio meter navigation none note option paragraph presentation
    progressbar radio radiogroup region row rowgroup rowheader scrollbar search searchbox separator slider
    spinbutton status strong subscript suggestion superscript switch tab table tablist tabpanel term textbox time
    timer toolbar tooltip tree treegrid treeitem graphics-document graphics-object graphics-symbol image"""
)
# Roles whose elements need an accessible name (axe-core's standards, ARIA 1.2 "name required").
NAME_REQUIRED_ROLES = _words(
    """alertdialog application button checkbox combobox dialog graphics-document graphics-symbol img link listbox
    menuitem menuitemcheckbox menuitemradio meter option progressbar radio searchbox slider spinbutton switch
    textbox toolbar treeitem"""
)
GLOBAL_ARIA = _words(
    """aria-atomic aria-braillelabel aria-brailleroledescription aria-busy aria-controls aria-current
    aria-describedby aria-description aria-details aria-disabled aria-dropeffect aria-errormessage aria-flowto
    aria-grabbed aria-haspopup aria-hidden aria-invalid aria-keyshortcuts aria-label aria-labelledby aria-live
    aria-owns aria-relevant aria-roledescription"""
)
DISABLEABLE = frozenset({"button", "input", "select", "textarea", "fieldset", "optgroup", "option"})
NOT_RENDERED = frozenset({"script", "style", "template", "noscript", "head", "title", "meta", "link"})
# Containers whose visible text an image's alt must not repeat (axe-core's image-redundant-alt):
# buttons, links with an href, and these.
TEXT_CONTAINERS = frozenset({"p", "li", "td", "th"})
STYLES_NOTE = "computed without a browser: text hidden by the page's stylesheets would not count in a browser"
_SPACE = re.compile(r"\s+")
_HIDING_STYLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse))\s*(?:!important)?\s*(?:;|$)", re.I
)


def sanitize(text: str | None) -> str:
    """Whitespace folded and trimmed (axe-core's sanitize)."""
    return _SPACE.sub(" ", text or "").strip()


def explicit_role(role_attr: str | None) -> str | None:
    """The first valid ARIA role of a role attribute (``image`` is an alias of ``img``)."""
    for token in (role_attr or "").lower().split():
        if token in ARIA_ROLES or token.startswith("doc-"):
            return "img" if token == "image" else token
    return None


def implicit_role(tag: str, attrs: Mapping[str, str], svg: bool) -> str | None:
    """The role HTML-AAM gives the element without a role attribute (None: generic or none)."""
    if svg:
        return "graphics-document" if tag == "svg" else None
    if tag == "img":
        return "presentation" if attrs.get("alt") == "" else "img"
    if tag == "input" and attrs.get("type", "").lower() == "image":
        return "button"
    if tag == "area":
        return "link" if "href" in attrs else None
    if tag in ("a", "button"):
        return "link" if tag == "a" and "href" in attrs else ("button" if tag == "button" else None)
    return None


def has_global_aria(attrs: Mapping[str, str]) -> bool:
    """The element carries a global ARIA attribute (which cancels a presentational role)."""
    return any(name in GLOBAL_ARIA for name in attrs)


def is_focusable(tag: str, attrs: Mapping[str, str]) -> bool:
    """Focusable by the keyboard or by script: natively focusable and not disabled, or a tabindex."""
    if tag in DISABLEABLE and "disabled" in attrs:
        return False
    if re.fullmatch(r"\s*[+-]?\d+\s*", attrs.get("tabindex") or ""):
        return True
    if tag in ("a", "area"):
        return "href" in attrs
    if tag == "input":
        return attrs.get("type", "").lower() != "hidden"
    if tag in ("button", "select", "textarea", "iframe", "summary"):
        return True
    if tag in ("audio", "video"):
        return "controls" in attrs
    return attrs.get("contenteditable", "false").lower() in ("", "true", "plaintext-only")


def computed_role(tag: str, attrs: Mapping[str, str], svg: bool) -> str | None:
    """The role after conflict resolution: a presentational role (explicit, or an img's ``alt=""``) is
    ignored on a focusable element or one with a global ARIA attribute (ARIA 1.2 §9.3)."""
    role = explicit_role(attrs.get("role")) or implicit_role(tag, attrs, svg)
    if role in PRESENTATIONAL and (is_focusable(tag, attrs) or has_global_aria(attrs)):
        fallback = implicit_role(tag, attrs, svg)
        return "img" if tag == "img" and not svg else fallback if fallback not in PRESENTATIONAL else None
    return role


def presentational(tag: str, attrs: Mapping[str, str], svg: bool) -> bool:
    """Presentational by its computed role (a valid none/presentation role, or ``alt=""`` on an img)."""
    return computed_role(tag, attrs, svg) in PRESENTATIONAL


# --------------------------------------------------------------------------- static names


@dataclass(frozen=True)
class StaticName:
    """A name computed from the HTML: the text (None: no name), where it came from, and a caveat."""

    text: str | None
    source: str
    note: str | None = None


def attribute_name(tag: str, attrs: Mapping[str, str], labelledby_text: str | None) -> StaticName:
    """A name from the attributes alone (and the text of the labelledby targets): for elements the
    browser's accessibility tree leaves out, such as the areas of a map no image uses."""
    if attrs.get("aria-labelledby") and sanitize(labelledby_text):
        return StaticName(sanitize(labelledby_text), "aria-labelledby")
    for name, source in (("aria-label", "aria-label"), ("alt", "alt"), ("title", "title")):
        if name == "alt" and tag not in ("img", "input", "area"):
            continue
        if sanitize(attrs.get(name)):
            return StaticName(sanitize(attrs.get(name)), source)
    return StaticName(None, "none")


def attributes(tag: Tag) -> dict[str, str]:
    """A parsed element's attributes as strings (class lists joined)."""
    return {name: " ".join(value) if isinstance(value, list) else str(value) for name, value in tag.attrs.items()}


def in_svg(tag: Tag) -> bool:
    """The element is in the SVG namespace (inside an inline ``svg``, outside ``foreignObject``)."""
    node: Tag | None = tag
    while isinstance(node, Tag):
        if node.name == "foreignobject":
            return False
        if node.name == "svg":
            return True
        node = node.parent
    return False


def hides(tag: Tag) -> bool:
    """The element itself takes its subtree out of the accessibility tree (by markup, not stylesheets)."""
    if tag.name in NOT_RENDERED:
        return True
    if str(tag.get("aria-hidden") or "").strip().lower() == "true" or tag.has_attr("hidden"):
        return True
    return bool(_HIDING_STYLE.search(str(tag.get("style") or "")))


def hidden_by_markup(tag: Tag) -> bool:
    """Out of the accessibility tree by the markup alone: aria-hidden, ``hidden``, inline display:none."""
    node: Tag | None = tag
    while isinstance(node, Tag) and node.name != "[document]":
        if hides(node):
            return True
        node = node.parent
    return False


class NameComputer:
    """accname 1.2 over one parsed document (ids indexed once)."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self.soup = soup
        self.ids: dict[str, Tag] = {}
        for element in soup.find_all(id=True):
            self.ids.setdefault(str(element["id"]), element)
        self.styled = bool(soup.find("style") or soup.find("link", rel="stylesheet"))
        self._labels_for: dict[str, list[Tag]] | None = None

    def name(self, tag: Tag, svg: bool | None = None) -> StaticName:
        """The element's accessible name and its source (``svg``: in the SVG namespace, if known)."""
        attrs = attributes(tag)
        svg = in_svg(tag) if svg is None else svg
        labelled = self._labelledby(attrs)
        if labelled is not None and labelled.text:
            return labelled
        label = sanitize(attrs.get("aria-label"))
        if label:
            return StaticName(label, "aria-label")
        native = self._native(tag, attrs, svg)
        if native is not None:
            return native
        title = sanitize(attrs.get("title"))
        if title:
            return StaticName(title, "title")
        return StaticName(None, "none")

    def _labelledby(self, attrs: Mapping[str, str]) -> StaticName | None:
        refs = [self.ids[ref] for ref in (attrs.get("aria-labelledby") or "").split() if ref in self.ids]
        if not refs:
            return None
        text = sanitize(" ".join(self.text_of(ref, allow_hidden=hidden_by_markup(ref)) for ref in refs))
        return StaticName(text or None, "aria-labelledby", self._note(refs))

    def _native(self, tag: Tag, attrs: Mapping[str, str], svg: bool) -> StaticName | None:
        """The host language's own label: alt, <label>, an SVG <title> child."""
        if svg:
            title = next((c for c in tag.children if isinstance(c, Tag) and c.name == "title"), None)
            text = sanitize(title.get_text(" ")) if title is not None else ""
            return StaticName(text, "title") if text else None
        if tag.name == "input" and attrs.get("type", "").lower() == "image":
            labels = self._labels(tag)
            text = sanitize(" ".join(self.text_of(label, skip=tag) for label in labels))
            if text:
                return StaticName(text, "label", self._note(labels))
        if tag.name in ("img", "input", "area") and "alt" in attrs:
            alt = sanitize(attrs["alt"])
            return StaticName(alt, "alt") if alt else None
        return None

    def _labels(self, tag: Tag) -> list[Tag]:
        """The element's wrapping <label> and the labels that name it by ``for`` (indexed once)."""
        wrapping = tag.find_parent("label")
        if self._labels_for is None:
            self._labels_for = {}
            for label in self.soup.find_all("label", attrs={"for": True}):
                self._labels_for.setdefault(str(label["for"]), []).append(label)
        element_id = tag.get("id")
        return ([wrapping] if wrapping is not None else []) + self._labels_for.get(str(element_id or ""), [])

    def _note(self, roots: list[Tag]) -> str | None:
        """A caveat when text under ``roots`` could be hidden by a stylesheet this mode did not apply."""
        if self.styled and any(root.find(True) is not None or root.get("class") for root in roots):
            return STYLES_NOTE
        return None

    def text_of(self, node: Tag, allow_hidden: bool = False, skip: Tag | None = None) -> str:
        """The text a subtree contributes to a name: its text, and its elements' own names (aria-label, an
        image's alt) in their place; hidden parts left out unless ``allow_hidden``."""
        parts: list[str] = []
        stack: list[Tag | NavigableString] = list(reversed(list(node.children)))
        while stack:
            child = stack.pop()
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not a comment or CDATA
                    parts.append(str(child))
                continue
            if child is skip or child.name in NOT_RENDERED or (not allow_hidden and hides(child)):
                continue
            child_attrs = attributes(child)
            label = sanitize(child_attrs.get("aria-label"))
            if label:
                parts.append(label)
            elif child.name in ("img", "area") or (
                child.name == "input" and child_attrs.get("type", "").lower() == "image"
            ):
                parts.append(child_attrs.get("alt") or "")
            else:
                stack.extend(reversed(list(child.children)))
        return " ".join(parts)

    def visible_text(self, node: Tag) -> str | None:
        """The text a visitor sees in a subtree (not images' alt, not hidden parts), folded; None if empty."""
        parts: list[str] = []
        stack: list[Tag | NavigableString] = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, NavigableString):
                if type(current) is NavigableString:
                    parts.append(str(current))
            elif current is node or not hides(current):
                stack.extend(reversed(list(current.children)))
        return sanitize(" ".join(parts)) or None
