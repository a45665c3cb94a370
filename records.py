"""The records every stage fills in and every report reads.

One :class:`ImageRecord` per unique image URL on a page. It starts ``pending`` and ends in
exactly one of ``captioned``, ``skipped`` or ``failed``; skipped and failed records carry a
stable ``reason`` code and a human ``detail``.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

PENDING = "pending"
CAPTIONED = "captioned"
SKIPPED = "skipped"
FAILED = "failed"
FINAL_STATUSES = (CAPTIONED, SKIPPED, FAILED)

_DATA_URL_SHOWN = 48


def display_url(url: str) -> str:
    """Shorten ``data:`` URIs for reports; leave other URLs alone."""
    if url.startswith("data:") and len(url) > _DATA_URL_SHOWN:
        return f"{url[:_DATA_URL_SHOWN]}…({len(url):,} chars)"
    return url


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
    occurrences: int = 0
    rendered_width: int | None = None  # CSS px of the element's box in the rendered page (DPR 1)
    rendered_height: int | None = None
    visible: bool | None = None  # rendered pages: on screen (box > 0, not hidden); None = not rendered
    role: str | None = None  # the element's ARIA role attribute (presentation/none/img)
    aria_hidden: bool = False  # the element or an ancestor has aria-hidden="true"
    aria_label: str | None = None
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
    suggestion_basis: str | None = None  # caption, image_text, caption_and_text, link_text or figcaption
    suggested_filename: str | None = None
    translation_lang: str | None = None
    caption_translated: str | None = None
    suggested_alt_translated: str | None = None
    local_path: str | None = field(default=None, repr=False)  # folder mode: the file to read
    thumbnail: bytes | None = field(default=None, repr=False)  # small JPEG for UIs; not in JSON/CSV

    @property
    def url(self) -> str:
        """The URL as shown in reports."""
        return display_url(self.source)

    def skip(self, reason: str, detail: str) -> None:
        """Finish as skipped with a reason code and a sentence."""
        self.status, self.reason, self.detail = SKIPPED, reason, detail

    def fail(self, reason: str, detail: str) -> None:
        """Finish as failed with a reason code and a sentence."""
        self.status, self.reason, self.detail = FAILED, reason, detail

    def set_caption(self, caption: str, raw_caption: str) -> None:
        """Finish as captioned."""
        self.status, self.reason, self.detail = CAPTIONED, None, None
        self.caption, self.raw_caption = caption, raw_caption

    def to_state(self) -> dict[str, Any]:
        """Every field, JSON-safe, for the state store (``from_state`` reads it back)."""
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state["found_in"], state["alts"] = list(self.found_in), list(self.alts)
        state["alt_issues"], state["seo_issues"] = list(self.alt_issues), list(self.seo_issues)
        state["thumbnail"] = base64.b64encode(self.thumbnail).decode() if self.thumbnail else None
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ImageRecord:
        """The record ``to_state`` saved."""
        values = dict(state)
        thumbnail = values.pop("thumbnail", None)
        record = cls(**values)
        record.thumbnail = base64.b64decode(thumbnail) if thumbnail else None
        return record

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
            "occurrences": self.occurrences,
            "rendered_width": self.rendered_width,
            "rendered_height": self.rendered_height,
            "visible": self.visible,
            "role": self.role,
            "aria_hidden": self.aria_hidden,
            "aria_label": self.aria_label,
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
            "translation_lang": self.translation_lang,
            "caption_translated": self.caption_translated,
            "suggested_alt_translated": self.suggested_alt_translated,
        }


@dataclass
class PageReport:
    """One audited page (or a page that could not be audited, with ``error``)."""

    url: str
    final_url: str | None = None
    kind: str = "page"  # "page" | "folder"
    status: str = "ok"  # "ok" | "failed"
    error: str | None = None
    error_code: str | None = None
    title: str | None = None
    lang: str | None = None
    warnings: list[str] = field(default_factory=list)
    rendered: bool = False  # discovered in a headless browser (and statically), not statically alone
    images: list[ImageRecord] = field(default_factory=list)

    def to_state(self) -> dict[str, Any]:
        """Every field, JSON-safe, for the state store."""
        state = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "images"}
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
            "kind": self.kind,
            "status": self.status,
            "error": self.error,
            "error_code": self.error_code,
            "title": self.title,
            "lang": self.lang,
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

    def summary(self) -> dict[str, Any]:
        """Counts by page status, image status and skip/fail reason."""
        counter = SummaryCounter()
        for page in self.pages:
            counter.add(page)
        return counter.summary(self.elapsed_s)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report."""
        from auditing.registry import ISSUES

        report: dict[str, Any] = {"site": self.site} if self.site is not None else {}
        if self.comparison is not None:
            report["comparison"] = self.comparison
        if self.images is not None:
            report["images"] = self.images
        return report | {
            "pages": [page.to_dict() for page in self.pages],
            "summary": self.summary(),
            "model": dict(self.model),
            "issue_types": {slug: issue.to_dict() for slug, issue in ISSUES.items()},
        }
