"""Run every check on a finished page and fill each record's issues and suggestions.

Name checks apply to the elements axe-core's image rules audit (``img``, ``input type=image``,
SVG images, ``role=img``, image-map areas, objects; :mod:`auditing.a11y`), on their accessible
names; decorative and hidden elements get none. The text checks (file name, placeholder, mismatch,
length, duplicates) read the accessible name. CSS backgrounds of other elements, ``og:image`` and
posters only get the SEO checks. Nothing here changes the page: AltScout suggests, a person decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath

from auditing.a11y import NAME_FINDINGS, element_findings, naming_rule, silent
from auditing.link_names import image_link_purpose, link_name
from auditing.suggest import (
    file_name,
    is_descriptive_filename,
    overlap_score,
    suggest_filename,
    suggest_text_alternative,
    with_keyword,
    with_subject,
)
from ocr.text import text_in_alt
from records import (
    CAPTIONED,
    ELEMENT,
    FAILED,
    LINK_TARGET,
    SCREENSHOT,
    SPACER,
    ElementInfo,
    ImageRecord,
    PageReport,
)
from scraper.accname import sanitize
from scraper.sizing import UNSIZED

ALT_SOURCES = frozenset({"img", "input"})
ASPECT_TOLERANCE_PX = 2  # Lighthouse's image-aspect-ratio threshold
SOCIAL_SOURCES = ("og:image", "twitter:image")
ELEMENT_SOURCES = frozenset({"style", "css", "background", "poster"})  # shown by an element without alt semantics
DRAWN_SOURCES = frozenset({"svg", "role-img", "object", "canvas"})  # elements named with aria-label (and role=img)
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
SPACER_MAX_SIDE = 2  # px: an image no larger is a tracking pixel or a spacer, never content
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
    keywords: tuple[str, ...] = ()  # used in a suggestion at most once, only where the image or its context says so


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


def legacy_elements(record: ImageRecord) -> list[ElementInfo]:
    """Elements for a record made without them (an older state, a hand-made record): one per alt."""
    if not ALT_SOURCES & set(record.found_in):
        return []
    tag = "img" if "img" in record.found_in else "input"
    elements = []
    for alt in record.alts or [record.alt]:
        name = sanitize(alt) or None
        decorative = tag == "img" and alt == ""
        elements.append(
            ElementInfo(
                tag=tag,
                role="presentation" if decorative else ("img" if tag == "img" else "button"),
                accessible_name=name,
                name_source="alt" if name else "none",
                alt=alt,
                decorative=decorative,
            )
        )
    return elements


def _link_facts(record: ImageRecord, element: ElementInfo) -> tuple[bool, str | None]:
    """(in a link or button, that link's own name) for one element; the record's first occurrence stands in
    for elements recorded before links were per element."""
    if element.in_link is None:
        return record.in_link, record.link_text
    return element.in_link, element.link_text


def _names_no_link(record: ImageRecord, element: ElementInfo) -> bool:
    """axe-core's link-name, for an image: the element is its link's only content and has no name itself."""
    in_link, link_text = _link_facts(record, element)
    return in_link and not link_text and not sanitize(element.accessible_name)


def _unnamed_link_graphic(record: ImageRecord) -> bool:
    """An inline SVG without a role (no image rule covers it) that is its link's only content, shown and
    nameless: the link has no name (axe-core's link-name), as a linked ``img`` without alt leaves it."""
    return any(
        element.tag == "svg" and not element.hidden and not element.decorative and _names_no_link(record, element)
        for element in record.elements
    )


def named_elements(record: ImageRecord) -> list[ElementInfo]:
    """The record's elements that an axe naming rule covers (img, image button, SVG, role=img, area, object)."""
    return [element for element in record.elements or legacy_elements(record) if naming_rule(element) is not None]


def alt_text(record: ImageRecord) -> str | None:
    """The name the text checks read: the first name given by an element that is not decorative."""
    for element in named_elements(record):
        if not element.decorative and sanitize(element.accessible_name):
            return sanitize(element.accessible_name)
    return None


def _alt_issues(record: ImageRecord, settings: AuditSettings, name_counts: dict[str, int]) -> list[str]:
    issues: list[str] = []
    elements = named_elements(record)
    for element in elements:
        element.issues = element_findings(element)
        issues.extend(slug for slug in element.issues if slug not in issues)
    shown = [element for element in elements if not element.hidden]
    if any(_names_no_link(record, element) for element in shown):
        issues.insert(0, "linked_image_no_text")  # the image is the link's only content and names nothing
    if not shown or all(element.decorative for element in shown):
        if any(e.tag == "img" and e.alt == "" and not e.hidden and e.decorative for e in shown):
            big = (record.width or 0) >= CONTENT_MIN_SIDE and (record.height or 0) >= CONTENT_MIN_SIDE
            decorative_position = any(all(_link_facts(record, e)) for e in shown)  # in a link that has text
            if record.status == CAPTIONED and big and not decorative_position:
                issues.append("empty_alt_on_content")
        return issues  # hidden from assistive technology or decorative: its text is never read
    name = alt_text(record)
    if not name:
        return issues
    stem = PurePosixPath(file_name(record.source)).stem.lower()
    if FILENAME_ALT.match(name) or (stem and name.lower() == stem):
        issues.append("filename_alt")
    elif PLACEHOLDER_ALTS.match(name) or _only_punctuation(name):
        issues.append("placeholder_alt")
    else:
        if REDUNDANT_PREFIX.match(name):
            issues.append("redundant_prefix")
        if record.caption:
            record.alt_match_score = overlap_score(name, record.caption)
            text = readable_text(record)
            if text and record.alt_match_score is not None:  # a name that repeats the image's text matches it
                by_text = 1.0 if text_in_alt(text, name) else (overlap_score(name, text) or 0.0)
                record.alt_match_score = max(record.alt_match_score, by_text)
            if record.alt_match_score is not None and record.alt_match_score < settings.mismatch_threshold:
                issues.append("alt_mismatch")
    if len(name) > settings.max_alt_length:
        issues.append("too_long")
    if name_counts.get(name.lower(), 0) > 1:
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
    if record.reason == "no_source":
        issues.append("empty_src")
    if ELEMENT in record.found_in:  # no image file: nothing to size, compress or rename
        return issues
    if _unsized(record):
        issues.append("missing_dimensions")
    if _oversized(record, settings):
        issues.append("oversized_image")
    if _distorted(record):
        issues.append("distorted_image")
    if _blurry(record):
        issues.append("low_resolution_image")
    inline = record.source.startswith("data:")  # an inline data: image has no file to name
    if record.status == CAPTIONED and not inline and not is_descriptive_filename(record.source):
        issues.append("non_descriptive_filename")
    return issues


def _unsized(record: ImageRecord) -> bool:
    """Lighthouse's unsized-images: an ``img`` element of this image that the page gives no box before the image
    loads (``ElementInfo.sizing``); a record made before elements knew it reads its first img's attributes."""
    sizings = [element.sizing for element in record.elements if element.tag == "img" and element.sizing]
    if sizings:
        return UNSIZED in sizings
    return "img" in record.found_in and (record.width_attr is None or record.height_attr is None)


def _distorted(record: ImageRecord) -> bool:
    """Lighthouse's image-aspect-ratio: a rendered img (object-fit fill, not SVG) whose laid-out box differs from
    the file's aspect ratio by 2 px or more, measured on the side the file's ratio fits in the smaller length."""
    file_w, file_h = record.width or 0, record.height or 0
    if record.format == "SVG" or file_w <= 5 or file_h <= 5:
        return False
    for element in record.elements:
        if element.tag != "img" or element.object_fit != "fill" or not element.shown_size:
            continue
        shown_w, shown_h = element.shown_size
        if not (shown_w and shown_h):
            continue
        fit_h, fit_w = shown_w * file_h / file_w, shown_h * file_w / file_h
        if (abs(fit_h - shown_h) if fit_h < fit_w else abs(fit_w - shown_w)) >= ASPECT_TOLERANCE_PX:
            return True
    return False


def _blurry(record: ImageRecord) -> bool:
    """Lighthouse's image-size-responsive: the file is smaller than a rendered img's box needs
    (``ElementInfo.resolution_needed``)."""
    if record.format == "SVG" or not (record.width and record.height):
        return False
    return any(
        element.tag == "img" and element.resolution_needed is not None
        and (record.width < element.resolution_needed[0] or record.height < element.resolution_needed[1])
        for element in record.elements
    )  # fmt: skip


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
    if ALT_SOURCES & found or {"file", "upload", "url", "area"} & found:
        return "alt"
    for source in SOCIAL_SOURCES:
        if source in found:
            return f"{source}:alt"
    if ELEMENT_SOURCES & found or DRAWN_SOURCES & found:
        return "aria-label"  # with role="img" on the element: a background, SVG, canvas or object that is content
    return None


def _looks_like_content(record: ImageRecord) -> bool:
    """A background or poster big enough to be content, not hidden from assistive technology."""
    big = (record.width or 0) >= CONTENT_MIN_SIDE and (record.height or 0) >= CONTENT_MIN_SIDE
    return big and record.visible is not False and not record.decorative


def _text_issues(record: ImageRecord, settings: AuditSettings, has_alt_semantics: bool) -> list[str]:
    """alt_missing_text (images with alt semantics) and image_of_text (any captioned image)."""
    issues: list[str] = []
    text = readable_text(record)
    if record.status != CAPTIONED or text is None:
        return issues
    if has_alt_semantics and has_prominent_text(record, settings) and not silent(record):
        name = alt_text(record) if alt_text(record) is not None else record.suggested_alt
        if not text_in_alt(text, name or ""):
            issues.append("alt_missing_text")
    if is_text_image(record, settings):
        issues.append("image_of_text")
    return issues


def _only_punctuation(name: str) -> bool:
    """A name of punctuation alone ("...", "-", "|"): no word, and no symbol a screen reader announces by
    name (an emoji, as WordPress writes its emoji images, "★", "©")."""
    return all(not char.isalnum() and unicodedata.category(char) != "So" for char in name)


def audit_page(page: PageReport, settings: AuditSettings | None = None) -> None:
    """Fill ``alt_issues``, ``seo_issues``, the suggested text alternative and ``suggested_filename``."""
    settings = settings or AuditSettings()
    name_counts: dict[str, int] = defaultdict(int)
    for record in page.images:
        name = alt_text(record)
        if name:
            name_counts[name.lower()] += 1
    taken: set[str] = set()
    for record in page.images:
        has_alt_semantics = bool(named_elements(record))
        record.alt_issues = _alt_issues(record, settings, name_counts) if has_alt_semantics else []
        if not has_alt_semantics and _unnamed_link_graphic(record):
            record.alt_issues = ["linked_image_no_text"]
        record.seo_issues = _seo_issues(record, settings)
        target = suggestion_target(record)
        if target == "aria-label" and not (
            _looks_like_content(record) or _needs_name(record) or _nameless(record) or record.alt_issues
        ):
            target = None
        if record.status == CAPTIONED and target is not None:
            record.suggested_alt, record.suggestion_basis = suggest_text_alternative(
                record.caption,
                limit=settings.max_alt_length,
                in_link=record.in_link,
                link_text=record.link_text,
                link_purpose=image_link_purpose(record, page),
                figcaption=record.figcaption,
                image_text=readable_text(record),
                text_dominant=is_text_image(record, settings),
            )
            if record.suggested_alt:
                _in_page_words(record, settings)
            if record.suggested_alt and _repeats_visible_text(record, record.suggested_alt):
                record.suggested_alt = ""  # the text beside it already says it (WCAG H2): alt="" avoids saying it twice
            record.suggestion_for = target if record.suggested_alt is not None else None
        elif target == "alt" and "missing_alt" in record.alt_issues and _spacer(record):
            record.suggested_alt, record.suggestion_basis, record.suggestion_for = "", SPACER, "alt"
        elif target is not None and record.status != CAPTIONED and "linked_image_no_text" in record.alt_issues:
            name = link_target_name(record, page, page.site_name)
            if name:  # a small logo or icon that is a link's only content: named by where the link goes
                record.suggested_alt, record.suggestion_basis, record.suggestion_for = name, LINK_TARGET, target
        for slug in _text_issues(record, settings, has_alt_semantics):
            if slug not in record.alt_issues:
                record.alt_issues.append(slug)
        if target in ("og:image:alt", "twitter:image:alt") and record.alt is None and not has_alt_semantics:
            record.seo_issues.append("social_image_no_alt")
        if (
            record.status == CAPTIONED
            and record.caption
            and "non_descriptive_filename" in record.seo_issues
        ):
            record.suggested_filename = suggest_filename(record.caption, record.source, record.format, taken)


def link_target_name(record: ImageRecord, page: PageReport, site_name: str | None) -> str | None:
    """The name of where the image's links go (:func:`link_name`, with ``site_name``), when every shown
    occurrence of it is the only content of a link and all go to one place: one text serves every tag
    the fix exports change."""
    shown = [element for element in record.elements if not element.hidden]
    if not shown or not all(_names_no_link(record, element) for element in shown):
        return None
    page_url = page.final_url or page.url
    names = {link_name(element.link_href, page_url, site_name, page.base_url) for element in shown}
    return names.pop() if len(names) == 1 else None


def _spacer(record: ImageRecord) -> bool:
    """A tracking pixel or spacer: at most SPACER_MAX_SIDE px a side however it is measured, in no link
    and not focusable; alt="" is all it needs (axe-core's image-alt still fails it without one)."""
    sides = [record.width, record.height, record.width_attr, record.height_attr, record.rendered_width,
             record.rendered_height]  # fmt: skip
    known = [side for side in sides if side is not None]
    tiny = bool(known) and max(known) <= SPACER_MAX_SIDE
    return tiny and not record.in_link and not any(element.focusable for element in record.elements)


def _in_page_words(record: ImageRecord, settings: AuditSettings) -> None:
    """The page's subject first, then one keyword the image or its context supports (see ``suggestion_basis``)."""
    assert record.suggested_alt is not None and record.suggestion_basis is not None
    text, basis = with_subject(
        record.suggested_alt, record.suggestion_basis, record.subject, record.subject_source, settings.max_alt_length
    )
    context = [record.caption, record.subject, record.figcaption, record.heading, record.link_text, record.image_text]
    support = " ".join(part for part in context if part)
    record.suggested_alt = with_keyword(text, settings.keywords, support, settings.max_alt_length)
    record.suggestion_basis = basis


def _repeats_visible_text(record: ImageRecord, text: str) -> bool:
    """``text`` is the visible text of the link, button, paragraph or cell around one of the record's elements."""
    return any(sanitize(e.container_text).lower() == sanitize(text).lower() for e in named_elements(record))


def _nameless(record: ImageRecord) -> bool:
    """A drawn element (captioned from the browser's screenshot) that assistive technology gets no name for."""
    return SCREENSHOT in record.found_in and not record.decorative and alt_text(record) is None


def _needs_name(record: ImageRecord) -> bool:
    """An element the audit found without a name (whatever its size): it gets a suggestion."""
    return any(slug in NAME_FINDINGS for slug in record.alt_issues)
