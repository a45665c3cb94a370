"""Run every check on a finished page and fill each record's issues and suggestions.

Alt checks apply to images that carry an alt attribute in the page (``img``, ``input
type=image``); CSS backgrounds, ``og:image`` and posters only get the SEO checks. Nothing
here changes the page's alt text: AltScout suggests, a person decides.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath

from auditing.suggest import (
    file_name,
    is_descriptive_filename,
    overlap_score,
    suggest_filename,
    suggest_text_alternative,
)
from ocr.text import text_in_alt
from records import CAPTIONED, FAILED, ImageRecord, PageReport
from scraper.rendered import is_decorative

ALT_SOURCES = frozenset({"img", "input"})
SOCIAL_SOURCES = ("og:image", "twitter:image")
ELEMENT_SOURCES = frozenset({"style", "css", "background", "poster"})  # shown by an element without alt semantics
MIN_TEXT_CHARS = 3  # letters and digits OCR must read before the text checks look at an image
PLACEHOLDER_ALTS = re.compile(
    r"^(?:image|img|photo|photograph|picture|pic|logo|banner|untitled|alt|graphic|icon|placeholder|"
    r"thumbnail|spacer|null|none|undefined|alt text|image description)(?:[ _-]?\d+)?$",
    re.I,
)
REDUNDANT_PREFIX = re.compile(
    r"^\s*(?:an? |the )?(?:image|picture|photo|photograph|graphic|pic|illustration) of\b", re.I
)
FILENAME_ALT = re.compile(
    r"^\S+\.(?:jpe?g|png|gif|webp|avif|svg|bmp|tiff?|heic)$|"
    r"^(?:img|dsc[nf]?|pxl|gopr|mvimg|dji|sam|p)[_-]?\d{3,}(?:[_-]\d+)*$|^screenshot[ _-]\d",
    re.I,
)
CONTENT_MIN_SIDE = 150  # px: smaller images with alt="" are taken for spacers or icons


@dataclass(frozen=True)
class AuditSettings:
    """Thresholds of the checks (from AuditOptions)."""

    max_alt_length: int = 125
    large_image_bytes: int = 100 * 1024
    mismatch_threshold: float = 0.2
    oversized_min_waste_bytes: int = 4 * 1024
    text_image_coverage: float = 0.2  # image_of_text, and the text is the suggestion, from this share of the area
    prominent_text_coverage: float = 0.04  # alt_missing_text: text covering at least this share is the message


def readable_text(record: ImageRecord) -> str | None:
    """The image's OCR text when there is enough of it to matter."""
    text = record.image_text
    return text if text and sum(char.isalnum() for char in text) >= MIN_TEXT_CHARS else None


def is_text_image(record: ImageRecord, settings: AuditSettings) -> bool:
    """Text covers a large part of the image: its message is the text."""
    return readable_text(record) is not None and (record.text_coverage or 0) >= settings.text_image_coverage


def has_prominent_text(record: ImageRecord, settings: AuditSettings) -> bool:
    """The image carries text big enough that a reader of the alt must get it too."""
    return readable_text(record) is not None and (record.text_coverage or 0) >= settings.prominent_text_coverage


def _alt_issues(record: ImageRecord, settings: AuditSettings, alt_counts: dict[str, int]) -> list[str]:
    issues: list[str] = []
    alts = record.alts or [record.alt]
    no_text = record.in_link and not record.link_text
    if is_decorative(record):  # hidden from assistive technology: alt is not read
        alts = ["" if alt is None else alt for alt in alts]
    if any(alt is None for alt in alts):
        issues.append("missing_alt")
    if no_text and any(alt is None or not alt.strip() for alt in alts):
        issues.insert(0, "linked_image_no_text")
    alt = (record.alt or "").strip()
    if record.alt is not None and not alt:
        big = (record.width or 0) >= CONTENT_MIN_SIDE and (record.height or 0) >= CONTENT_MIN_SIDE
        decorative_position = record.in_link and bool(record.link_text)
        if record.status == CAPTIONED and big and not decorative_position:
            issues.append("empty_alt_on_content")
    if not alt:
        return issues
    stem = PurePosixPath(file_name(record.source)).stem.lower()
    if FILENAME_ALT.match(alt) or (stem and alt.lower() == stem):
        issues.append("filename_alt")
    elif PLACEHOLDER_ALTS.match(alt):
        issues.append("placeholder_alt")
    else:
        if REDUNDANT_PREFIX.match(alt):
            issues.append("redundant_prefix")
        if record.caption:
            record.alt_match_score = overlap_score(alt, record.caption)
            text = readable_text(record)
            if text and record.alt_match_score is not None:  # an alt that repeats the image's text matches it
                by_text = 1.0 if text_in_alt(text, alt) else (overlap_score(alt, text) or 0.0)
                record.alt_match_score = max(record.alt_match_score, by_text)
            if record.alt_match_score is not None and record.alt_match_score < settings.mismatch_threshold:
                issues.append("alt_mismatch")
    if len(alt) > settings.max_alt_length:
        issues.append("too_long")
    if alt_counts.get(alt.lower(), 0) > 1:
        issues.append("duplicate_alt")
    return issues


def _seo_issues(record: ImageRecord, settings: AuditSettings) -> list[str]:
    issues: list[str] = []
    if record.status == FAILED and record.reason == "http_error":
        issues.append("broken_image")
    if record.bytes is not None and record.bytes > settings.large_image_bytes:
        issues.append("large_file")
        if record.format in ("JPEG", "PNG"):
            issues.append("modern_format")
    if ALT_SOURCES & set(record.found_in) and (record.width_attr is None or record.height_attr is None):
        issues.append("missing_dimensions")
    if _oversized(record, settings):
        issues.append("oversized_image")
    if record.status == CAPTIONED and not is_descriptive_filename(record.source):
        issues.append("non_descriptive_filename")
    return issues


def _oversized(record: ImageRecord, settings: AuditSettings) -> bool:
    """Lighthouse's "properly size images" at device pixel ratio 1: natural width over twice the
    rendered width, and the bytes a fitting file would save (by area) at least the threshold."""
    shown_w, shown_h = record.rendered_width or 0, record.rendered_height or 0
    if not (record.visible and shown_w and shown_h and record.width and record.height and record.bytes):
        return False
    if record.width <= 2 * shown_w:
        return False
    shown_share = min(1.0, (shown_w * shown_h) / (record.width * record.height))
    return record.bytes * (1 - shown_share) >= settings.oversized_min_waste_bytes


def suggestion_target(record: ImageRecord) -> str | None:
    """Where a text alternative for this image goes, or None (an image no element shows)."""
    found = set(record.found_in)
    if ALT_SOURCES & found or "file" in found or "upload" in found:
        return "alt"
    for source in SOCIAL_SOURCES:
        if source in found:
            return f"{source}:alt"
    if ELEMENT_SOURCES & found:
        return "aria-label"  # with role="img" on the element: a background that is content
    return None


def _looks_like_content(record: ImageRecord) -> bool:
    """A background or poster big enough to be content, not hidden from assistive technology."""
    big = (record.width or 0) >= CONTENT_MIN_SIDE and (record.height or 0) >= CONTENT_MIN_SIDE
    return big and record.visible is not False and not is_decorative(record)


def _text_issues(record: ImageRecord, settings: AuditSettings, has_alt_semantics: bool) -> list[str]:
    """alt_missing_text (images with alt semantics) and image_of_text (any captioned image)."""
    issues: list[str] = []
    text = readable_text(record)
    if record.status != CAPTIONED or text is None:
        return issues
    if has_alt_semantics and has_prominent_text(record, settings) and not is_decorative(record):
        alt = record.alt if record.alt is not None else record.suggested_alt
        if not text_in_alt(text, alt or ""):
            issues.append("alt_missing_text")
    if is_text_image(record, settings):
        issues.append("image_of_text")
    return issues


def audit_page(page: PageReport, settings: AuditSettings | None = None) -> None:
    """Fill ``alt_issues``, ``seo_issues``, the suggested text alternative and ``suggested_filename``."""
    settings = settings or AuditSettings()
    alt_counts: dict[str, int] = defaultdict(int)
    for record in page.images:
        if ALT_SOURCES & set(record.found_in) and record.alt and record.alt.strip():
            alt_counts[record.alt.strip().lower()] += 1
    taken: set[str] = set()
    for record in page.images:
        has_alt_semantics = bool(ALT_SOURCES & set(record.found_in))
        record.alt_issues = _alt_issues(record, settings, alt_counts) if has_alt_semantics else []
        record.seo_issues = _seo_issues(record, settings)
        target = suggestion_target(record)
        if target == "aria-label" and not _looks_like_content(record):
            target = None
        if record.status == CAPTIONED and target is not None:
            record.suggested_alt, record.suggestion_basis = suggest_text_alternative(
                record.caption,
                limit=settings.max_alt_length,
                in_link=record.in_link,
                link_text=record.link_text,
                link_href=record.link_href,
                figcaption=record.figcaption,
                image_text=readable_text(record),
                text_dominant=is_text_image(record, settings),
            )
            record.suggestion_for = target if record.suggested_alt is not None else None
        for slug in _text_issues(record, settings, has_alt_semantics):
            if slug not in record.alt_issues:
                record.alt_issues.append(slug)
        if target in ("og:image:alt", "twitter:image:alt") and record.alt is None and not has_alt_semantics:
            record.seo_issues.append("social_image_no_alt")
        if record.status == CAPTIONED and record.caption and "non_descriptive_filename" in record.seo_issues:
            record.suggested_filename = suggest_filename(record.caption, record.source, record.format, taken)
