"""The records every stage fills in and every report reads.

One :class:`ImageRecord` per unique image URL on a page (or per element that shows no image
file of its own: an inline SVG, a canvas, an image-map area...). It starts ``pending`` and ends in
exactly one of ``captioned``, ``skipped`` or ``failed``; skipped and failed records carry a
stable ``reason`` code and a human ``detail``. Each element that shows the image is an
:class:`ElementInfo`: its accessible name and role as a browser computes them, and a selector.
"""

from __future__ import annotations

import base64
import functools
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")

PENDING = "pending"
CAPTIONED = "captioned"
SKIPPED = "skipped"
SPACER = "spacer"  # the suggestion basis of alt="" for a tracking pixel or spacer (auditing.checks._spacer)
LINK_TARGET = "link_target"  # the suggestion basis of a name from where a link goes (auditing.link_names.link_name)
FAILED = "failed"
FINAL_STATUSES = (CAPTIONED, SKIPPED, FAILED)

_DATA_URL_SHOWN = 48
NAME_SOURCES = ("aria-labelledby", "aria-label", "alt", "title", "label", "contents", "none")
ELEMENT = "element"  # found_in marker: the record is the element itself, with no image URL of its own
SCREENSHOT = "screenshot"  # found_in marker: the bytes are the browser's rendering of the element


def display_url(url: str) -> str:
    """Shorten ``data:`` URIs for reports; leave other URLs alone."""
    if url.startswith("data:") and len(url) > _DATA_URL_SHOWN:
        return f"{url[:_DATA_URL_SHOWN]}…({len(url):,} chars)"
    return url


def element_source(page_url: str, selector: str) -> str:
    """The source of a record that is an element with no image URL: the page and the element's selector."""
    return f"{page_url}#{selector}"


@functools.cache
def field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names in order (``dataclasses.fields`` builds them anew on every call)."""
    return tuple(f.name for f in fields(cls))


@functools.cache
def known_fields(cls: type) -> frozenset[str]:
    """A dataclass's field names, for keeping the known keys of a stored dict."""
    return frozenset(field_names(cls))


def field_values(instance: Any) -> dict[str, Any]:
    """A dataclass instance's fields as a new dict: a copy of its ``__dict__``, which holds exactly its
    fields (``__init__`` and :func:`from_complete_state` assign every field and nothing else sets any other
    attribute), else field by field."""
    values, names = instance.__dict__, field_names(type(instance))
    return dict(values) if len(values) == len(names) else {name: getattr(instance, name) for name in names}


def from_complete_state(cls: type[T], values: dict[str, Any]) -> T | None:
    """An instance of a dataclass without ``__post_init__`` built from every field's value, without
    running ``__init__`` (which only assigns), its fields in declared order as ``__init__`` leaves them;
    None when ``values`` is not exactly the fields (an older version's state: ``__init__`` fills it in)."""
    names = field_names(cls)
    if hasattr(cls, "__post_init__") or len(values) != len(names):
        return None
    instance = cls.__new__(cls)
    if tuple(values) == names:  # as this version wrote it
        instance.__dict__.update(values)
    elif values.keys() == known_fields(cls):
        instance.__dict__.update({name: values[name] for name in names})
    else:
        return None
    return instance


@dataclass
class ElementInfo:
    """One element that shows an image, or is one: what assistive technology gets from it.

    Filled at discovery (from the browser's accessibility tree when the page was rendered, else
    computed from the HTML); ``issues`` are the name findings the audit makes on this element.
    """

    selector: str | None = None  # a CSS selector that finds the element on the page
    tag: str | None = None  # local name: img, input, svg, circle, div, area, object, canvas, video...
    svg: bool = False  # in the SVG namespace
    role_attr: str | None = None  # the role attribute as written (None: absent)
    explicit_role: str | None = None  # its first valid ARIA role
    role: str | None = None  # the computed role (img, none, button, graphics-document...)
    accessible_name: str | None = None  # None: no name
    name_source: str = "none"  # one of NAME_SOURCES
    alt: str | None = None  # the alt attribute (img, input, area); None: absent
    title: str | None = None  # the title attribute
    hidden: bool = False  # out of the accessibility tree: aria-hidden, or not rendered
    decorative: bool = False  # hidden, presentational by a valid role, or alt=""
    focusable: bool = False
    global_aria: bool = False  # carries a global ARIA attribute (it cancels a presentational role)
    in_map: bool = False  # area: inside a <map>, with an href
    loaded: bool = True  # object: its data is shown (not its fallback content)
    container_text: str | None = None  # visible text of the nearest button, link, p, li, td or th
    in_link: bool | None = None  # inside a link or button (None: recorded by a version without this fact)
    link_text: str | None = None  # that link's own name: aria-label, title or text (None: none, or no link)
    link_href: str | None = None  # that link's href as written (None: none, or no link)
    name_note: str | None = None  # why a browser may compute another name (styles were not computed)
    sizing: str | None = None  # img: how its box is reserved before it loads (scraper.sizing; None: not an img)
    shown_size: list[int] | None = None  # a rendered img: its laid-out width and height (HTMLImageElement.width)
    object_fit: str | None = None  # a rendered img: its computed object-fit
    resolution_needed: list[int] | None = None  # a rendered img: least file width, height not to blur (Lighthouse)
    issues: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON report and state)."""
        values = field_values(self)
        values["issues"] = list(self.issues)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ElementInfo:
        """The element ``to_dict`` wrote (unknown keys of other versions are ignored)."""
        element = from_complete_state(cls, values)  # what this version wrote
        if element is None:
            known = known_fields(cls)
            element = cls(**{key: value for key, value in values.items() if key in known})
        return element


# Fields an image's download, decoding and caption decide; copied to every record of the same URL.
SHARED_FIELDS = (
    "status", "reason", "detail", "width", "height", "bytes", "format", "sha256", "caption",
    "raw_caption", "image_text", "text_coverage", "thumbnail",
)  # fmt: skip


@dataclass
class ImageRecord:
    """Everything known about one image of a page."""

    source: str  # absolute URL or full data: URI, used for fetching and deduplication
    found_in: list[str] = field(default_factory=list)
    alt: str | None = None  # first occurrence; None = attribute absent, "" = empty
    alts: list[str | None] = field(default_factory=list)
    title: str | None = None
    width_attr: int | None = None
    height_attr: int | None = None
    in_link: bool = False
    link_href: str | None = None
    link_text: str | None = None
    in_figure: bool = False
    figcaption: str | None = None
    heading: str | None = None  # the nearest heading above it (static discovery)
    subject: str | None = None  # what the page says it shows: a schema.org item's name, or the og:title
    subject_source: str | None = None  # jsonld or og_title
    wp_attachment_id: int | None = None  # WordPress: the attachment of class="wp-image-<id>"
    occurrences: int = 0
    rendered_width: int | None = None  # CSS px of the element's box in the rendered page (DPR 1)
    rendered_height: int | None = None
    visible: bool | None = None  # rendered pages: on screen (box > 0, not hidden); None = not rendered
    elements: list[ElementInfo] = field(default_factory=list)  # every element showing it, in document order
    shown_size_applies: bool = field(default=False, repr=False)  # visible and loaded: the size filter uses the box
    status: str = PENDING
    reason: str | None = None
    detail: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None
    format: str | None = None
    sha256: str | None = None
    caption: str | None = None
    raw_caption: str | None = None
    image_text: str | None = None  # OCR: the text in the image, in reading order; None when none was read
    text_coverage: float | None = None  # OCR: share of the image's area inside text boxes (None without text)
    alt_issues: list[str] = field(default_factory=list)
    seo_issues: list[str] = field(default_factory=list)
    alt_match_score: float | None = None
    suggested_alt: str | None = None
    suggestion_for: str | None = None  # where the suggested text goes: alt, og:image:alt, twitter:image:alt, aria-label
    # caption, image_text, caption_and_text, link_text, figcaption, spacer, link_target; "S+": a subject first
    suggestion_basis: str | None = None
    suggested_filename: str | None = None
    decision: str | None = None  # a review (--decisions): accepted, edited or rejected; None: not reviewed
    translation_lang: str | None = None
    caption_translated: str | None = None
    suggested_alt_translated: str | None = None
    local_path: str | None = field(default=None, repr=False)  # folder mode: the file to read
    thumbnail: bytes | None = field(default=None, repr=False)  # small JPEG for UIs; not in JSON/CSV
    screenshot: bytes | None = field(default=None, repr=False)  # the browser's PNG of the element, until decoded

    @property
    def url(self) -> str:
        """The URL as shown in reports."""
        return display_url(self.source)

    @property
    def primary(self) -> ElementInfo | None:
        """The element the record's name fields describe: the first with a finding, else the first shown."""
        if not self.elements:
            return None
        for element in self.elements:
            if element.issues:
                return element
        return next((element for element in self.elements if not element.hidden), self.elements[0])

    @property
    def decorative(self) -> bool:
        """Every element showing it is out of the accessibility tree or marked decorative."""
        return bool(self.elements) and all(element.decorative for element in self.elements)

    def add_element(self, element: ElementInfo) -> None:
        """One more element showing this image."""
        self.elements.append(element)

    def skip(self, reason: str, detail: str) -> None:
        """Finish as skipped with a reason code and a sentence."""
        self.status, self.reason, self.detail = SKIPPED, reason, detail
        self.screenshot = None

    def fail(self, reason: str, detail: str) -> None:
        """Finish as failed with a reason code and a sentence."""
        self.status, self.reason, self.detail = FAILED, reason, detail
        self.screenshot = None

    def set_caption(self, caption: str, raw_caption: str) -> None:
        """Finish as captioned."""
        self.status, self.reason, self.detail = CAPTIONED, None, None
        self.caption, self.raw_caption = caption, raw_caption

    def to_state(self) -> dict[str, Any]:
        """Every field, JSON-safe, for the state store (``from_state`` reads it back)."""
        state = field_values(self)
        state["found_in"], state["alts"] = list(self.found_in), list(self.alts)
        state["alt_issues"], state["seo_issues"] = list(self.alt_issues), list(self.seo_issues)
        state["elements"] = [element.to_dict() for element in self.elements]
        for name in ("thumbnail", "screenshot"):
            data = getattr(self, name)
            state[name] = base64.b64encode(data).decode() if data else None
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ImageRecord:
        """The record ``to_state`` saved (keys an older version wrote and this one dropped are ignored)."""
        values = dict(state)
        values["elements"] = [ElementInfo.from_dict(element) for element in state.get("elements") or []]
        for name in ("thumbnail", "screenshot"):
            data = values.get(name)
            values[name] = base64.b64decode(data) if data else None
        record = from_complete_state(cls, values)  # a report's read-back
        if record is None:  # an older version's state: __init__ fills in what it lacks
            known = known_fields(cls)
            record = cls(**{key: value for key, value in values.items() if key in known})
        return record

    def name_fields(self) -> dict[str, Any]:
        """The primary element's name, role and selector (empty values for an image no element shows)."""
        primary = self.primary
        return {
            "element": primary.tag if primary else None,
            "selector": primary.selector if primary else None,
            "role": primary.role if primary else None,
            "accessible_name": primary.accessible_name if primary else None,
            "name_source": primary.name_source if primary else "none",
            "decorative": self.decorative,
            "focusable": any(element.focusable for element in self.elements),
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON/CSV view of the record."""
        return {
            "url": self.url,
            "found_in": list(self.found_in),
            "alt": self.alt,
            "alts": list(self.alts),
            "title": self.title,
            "width_attr": self.width_attr,
            "height_attr": self.height_attr,
            "in_link": self.in_link,
            "link_href": self.link_href,
            "link_text": self.link_text,
            "in_figure": self.in_figure,
            "figcaption": self.figcaption,
            "heading": self.heading,
            "subject": self.subject,
            "subject_source": self.subject_source,
            "wp_attachment_id": self.wp_attachment_id,
            "occurrences": self.occurrences,
            "rendered_width": self.rendered_width,
            "rendered_height": self.rendered_height,
            "visible": self.visible,
            **self.name_fields(),
            "elements": [element.to_dict() for element in self.elements],
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
            "width": self.width,
            "height": self.height,
            "bytes": self.bytes,
            "format": self.format,
            "sha256": self.sha256,
            "caption": self.caption,
            "raw_caption": self.raw_caption,
            "image_text": self.image_text,
            "text_coverage": self.text_coverage,
            "alt_issues": list(self.alt_issues),
            "seo_issues": list(self.seo_issues),
            "alt_match_score": self.alt_match_score,
            "suggested_alt": self.suggested_alt,
            "suggestion_for": self.suggestion_for,
            "suggestion_basis": self.suggestion_basis,
            "suggested_filename": self.suggested_filename,
            "decision": self.decision,
            "translation_lang": self.translation_lang,
            "caption_translated": self.caption_translated,
            "suggested_alt_translated": self.suggested_alt_translated,
        }


@dataclass
class PageReport:
    """One audited page (or a page that could not be audited, with ``error``)."""

    url: str
    final_url: str | None = None
    base_url: str | None = None  # where its relative addresses resolve: its <base href>, when not its own address
    kind: str = "page"  # "page" | "folder"
    status: str = "ok"  # "ok" | "failed"
    error: str | None = None
    error_code: str | None = None
    title: str | None = None
    lang: str | None = None
    subject: str | None = None  # what the page is about: its schema.org item's name, else its first h1
    site_name: str | None = None  # what the site calls itself (og:site_name, schema.org, the title)
    generator: str | None = None  # what built it, as its <meta name="generator"> says ("Hugo 0.121.0")
    warnings: list[str] = field(default_factory=list)
    rendered: bool = False  # discovered in a headless browser (and statically), not statically alone
    images: list[ImageRecord] = field(default_factory=list)

    def to_state(self) -> dict[str, Any]:
        """Every field, JSON-safe, for the state store."""
        state = {name: getattr(self, name) for name in field_names(type(self)) if name != "images"}
        state["warnings"] = list(self.warnings)
        state["images"] = [image.to_state() for image in self.images]
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PageReport:
        """The page ``to_state`` saved."""
        values = dict(state)
        images = [ImageRecord.from_state(image) for image in values.pop("images", [])]
        return cls(**values, images=images)

    def to_dict(self) -> dict[str, Any]:
        """The JSON view of the page."""
        return {
            "url": self.url,
            "final_url": self.final_url,
            "base_url": self.base_url,
            "kind": self.kind,
            "status": self.status,
            "error": self.error,
            "error_code": self.error_code,
            "title": self.title,
            "lang": self.lang,
            "subject": self.subject,
            "site_name": self.site_name,
            "generator": self.generator,
            "warnings": list(self.warnings),
            "rendered": self.rendered,
            "images": [image.to_dict() for image in self.images],
        }


class SummaryCounter:
    """A report's summary, counted page by page (so a report streamed from shards gets the same one)."""

    def __init__(self) -> None:
        self.pages = 0
        self.pages_failed = 0
        self.images = 0
        self.by_status: Counter[str] = Counter()
        self.reasons: dict[str, Counter[str]] = {SKIPPED: Counter(), FAILED: Counter()}
        self.issues: Counter[str] = Counter()

    def add(self, page: PageReport) -> None:
        """Count one page and its records."""
        self.pages += 1
        self.pages_failed += page.status != "ok"
        for image in page.images:
            self.images += 1
            self.by_status[image.status] += 1
            if image.status in self.reasons and image.reason:
                self.reasons[image.status][image.reason] += 1
            self.issues.update(image.alt_issues)
            self.issues.update(image.seo_issues)

    def summary(self, elapsed_s: float) -> dict[str, Any]:
        """The summary block of the JSON report."""
        return {
            "pages": self.pages,
            "pages_failed": self.pages_failed,
            "images": self.images,
            "captioned": self.by_status[CAPTIONED],
            "skipped": self.by_status[SKIPPED],
            "failed": self.by_status[FAILED],
            "skipped_by_reason": dict(sorted(self.reasons[SKIPPED].items())),
            "failed_by_reason": dict(sorted(self.reasons[FAILED].items())),
            "issues": dict(sorted(self.issues.items())),
            "elapsed_s": round(elapsed_s, 3),
        }


@dataclass
class AuditReport:
    """The result of a whole run: pages in input order plus how it was made."""

    pages: list[PageReport] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    site: dict[str, Any] | None = None  # site audits: start URLs, scope, every URL met with its status
    comparison: dict[str, Any] | None = None  # --compare: findings new, fixed, persisting, not comparable
    images: list[dict[str, Any]] | None = None  # site audits: distinct images with every page they are on
    issue_types: dict[str, Any] = field(default_factory=dict)  # slug -> severity, explanation, axe rule... (registry)

    def summary(self) -> dict[str, Any]:
        """Counts by page status, image status and skip/fail reason."""
        counter = SummaryCounter()
        for page in self.pages:
            counter.add(page)
        return counter.summary(self.elapsed_s)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report."""
        report: dict[str, Any] = {"site": self.site} if self.site is not None else {}
        if self.comparison is not None:
            report["comparison"] = self.comparison
        if self.images is not None:
            report["images"] = self.images
        return report | {
            "pages": [page.to_dict() for page in self.pages],
            "summary": self.summary(),
            "model": dict(self.model),
            "issue_types": dict(self.issue_types),
        }
