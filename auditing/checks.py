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
    suggest_alt,
    suggest_filename,
)
from records import CAPTIONED, FAILED, ImageRecord, PageReport
from scraper.rendered import is_decorative

ALT_SOURCES = frozenset({"img", "input"})
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


def audit_page(page: PageReport, settings: AuditSettings | None = None) -> None:
    """Fill ``alt_issues``, ``seo_issues``, ``suggested_alt`` and ``suggested_filename``."""
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
        if record.status == CAPTIONED and has_alt_semantics:
            record.suggested_alt = suggest_alt(
                record.caption,
                limit=settings.max_alt_length,
                in_link=record.in_link,
                link_text=record.link_text,
                link_href=record.link_href,
                figcaption=record.figcaption,
            )
        if record.status == CAPTIONED and record.caption and "non_descriptive_filename" in record.seo_issues:
            record.suggested_filename = suggest_filename(record.caption, record.source, record.format, taken)
