"""Every issue AltScout reports: slug, severity, a one-line explanation, where to read more, and the
axe-core rule and Lighthouse audit it corresponds to (None where neither has one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

SEVERITIES = ("minor", "moderate", "serious", "critical")  # axe-core's impact levels, lowest first

_WCAG_TEXT_ALT = "https://www.w3.org/WAI/WCAG22/Understanding/non-text-content.html"
_H37 = "https://www.w3.org/WAI/WCAG22/Techniques/html/H37"
_H30 = "https://www.w3.org/WAI/WCAG22/Techniques/html/H30"
_F30 = "https://www.w3.org/WAI/WCAG22/Techniques/failures/F30"
_F39 = "https://www.w3.org/WAI/WCAG22/Techniques/failures/F39"
_G94 = "https://www.w3.org/WAI/WCAG22/Techniques/general/G94"
_WEB_DEV_IMAGES = "https://web.dev/learn/images"
_SIZE_IMAGES = "https://developer.chrome.com/docs/lighthouse/performance/uses-responsive-images"
_CLS = "https://web.dev/articles/optimize-cls#images-without-dimensions"
_ASPECT_RATIO = "https://developer.chrome.com/docs/lighthouse/best-practices/image-aspect-ratio"
_RESOLUTION = "https://developer.chrome.com/docs/lighthouse/best-practices/image-size-responsive"
_IMAGES_OF_TEXT = "https://www.w3.org/WAI/WCAG22/Understanding/images-of-text.html"
_TEXT_IN_ALT = "https://www.w3.org/WAI/tutorials/images/textual/"
_OG_ALT = "https://ogp.me/#structured"
_AXE = "https://dequeuniversity.com/rules/axe/4.11/"


@dataclass(frozen=True)
class Issue:
    """One kind of problem."""

    slug: str
    kind: str  # "alt" or "seo"
    severity: str
    title: str
    explanation: str
    help_url: str
    axe_rule: str | None = None  # the axe-core rule that makes the same finding
    lighthouse: str | None = None  # the Lighthouse audit id that reports it (Lighthouse runs axe-core)

    def to_dict(self) -> dict[str, str]:
        """Plain values for reports."""
        return asdict(self)


ISSUES: dict[str, Issue] = {
    issue.slug: issue
    for issue in (
        Issue(
            "linked_image_no_text",
            "alt",
            "critical",
            "Linked image without text",
            "The image is the only content of a link or button and has no name: the link has no accessible name.",
            _H30,
            "link-name",
            "link-name",
        ),
        Issue(
            "missing_alt",
            "alt",
            "critical",
            "Image without a name",
            "The img has no accessible name: no alt attribute, aria-label, aria-labelledby or title, and no "
            'presentational role (WCAG 1.1.1); screen readers may read the file name. alt="" marks a decorative '
            'image; alt=" " is no name.',
            _AXE + "image-alt",
            "image-alt",
            "image-alt",
        ),
        Issue(
            "image_button_no_name",
            "alt",
            "critical",
            "Image button without a name",
            'The input type="image" has no accessible name (alt, aria-label, aria-labelledby, title or a <label>); '
            'screen readers announce only "button" (WCAG 1.1.1, 4.1.2). alt="" is no name for a button.',
            _AXE + "input-image-alt",
            "input-image-alt",
            "input-image-alt",
        ),
        Issue(
            "svg_no_name",
            "alt",
            "serious",
            "SVG image without a name",
            'The SVG has role="img" (or graphics-document/graphics-symbol) but no accessible name: add a <title> '
            "as its first child, or aria-label / aria-labelledby (WCAG 1.1.1).",
            _AXE + "svg-img-alt",
            "svg-img-alt",
            "svg-img-alt",
        ),
        Issue(
            "role_img_no_name",
            "alt",
            "serious",
            'role="img" without a name',
            'The element is marked role="img" but has no aria-label, aria-labelledby or title (alt does not apply '
            "to it) (WCAG 1.1.1).",
            _AXE + "role-img-alt",
            "role-img-alt",
        ),
        Issue(
            "area_no_name",
            "alt",
            "critical",
            "Image-map area without a name",
            "The clickable <area> of an image map has no alt, aria-label, aria-labelledby or title: its link has no "
            "name (WCAG 1.1.1, 2.4.4, 4.1.2).",
            _AXE + "area-alt",
            "area-alt",
        ),
        Issue(
            "object_no_name",
            "alt",
            "serious",
            "Object without a name",
            "The <object> has no aria-label, aria-labelledby or title (its fallback content is not read while the "
            'object loads); mark it role="presentation" if it is decorative (WCAG 1.1.1).',
            _AXE + "object-alt",
            "object-alt",
            "object-alt",
        ),
        Issue(
            "presentational_role_ignored",
            "alt",
            "minor",
            "Presentational role ignored",
            'role="presentation"/"none" (or alt="") is ignored because the element is focusable or carries a global '
            "ARIA attribute, so assistive technology still announces it; remove the tabindex or the ARIA attribute, or "
            "give it a name.",
            _AXE + "presentation-role-conflict",
            "presentation-role-conflict",
            "presentation-role-conflict",
        ),
        Issue(
            "redundant_alt",
            "alt",
            "minor",
            "Alt repeats the text beside it",
            "The image's name repeats the visible text of its link, button, paragraph, list item or table cell, so a "
            'screen reader says it twice; use alt="" or describe what the image adds.',
            _AXE + "image-redundant-alt",
            "image-redundant-alt",
            "image-redundant-alt",
        ),
        Issue(
            "filename_alt",
            "alt",
            "serious",
            "File name as alt",
            "The alt text is a file or camera name, which tells a reader nothing about the image.",
            _F30,
        ),
        Issue(
            "placeholder_alt",
            "alt",
            "serious",
            "Placeholder alt",
            "The image's name is only a generic word such as 'image' or 'photo', or punctuation such as '...'.",
            _F30,
        ),
        Issue(
            "empty_alt_on_content",
            "alt",
            "moderate",
            "Empty alt on a content image",
            'alt="" marks the image as decorative, but it looks like content: decorative? verify.',
            _F39,
        ),
        Issue(
            "alt_mismatch",
            "alt",
            "moderate",
            "Alt does not match the image",
            "The alt text shares (almost) no words with what the image shows; check that it describes this image.",
            _G94,
        ),
        Issue(
            "redundant_prefix",
            "alt",
            "minor",
            "Redundant 'image of'",
            "Screen readers already announce an image; drop 'image of', 'picture of', 'photo of'.",
            _H37,
        ),
        Issue(
            "too_long",
            "alt",
            "minor",
            "Alt text too long",
            "Long alt text is tiring to listen to; keep it short and move details to the page text.",
            _WCAG_TEXT_ALT,
        ),
        Issue(
            "duplicate_alt",
            "alt",
            "minor",
            "Same alt on different images",
            "Different images share the same alt text, so a reader cannot tell them apart.",
            _H37,
        ),
        Issue(
            "empty_src",
            "seo",
            "serious",
            "Image without a source",
            'The img (or image button) has no image URL: src is missing, empty, or "#" (the page itself), so '
            "browsers show a broken image or fetch the page again; AltScout fetches nothing for it.",
            _WEB_DEV_IMAGES,
        ),
        Issue(
            "broken_image",
            "seo",
            "serious",
            "Broken image",
            "The image URL answers with an HTTP error (4xx/5xx).",
            _WEB_DEV_IMAGES,
        ),
        Issue(
            "large_file",
            "seo",
            "minor",
            "Large image file",
            "The image file is larger than the size budget and slows the page down.",
            _WEB_DEV_IMAGES,
        ),
        Issue(
            "modern_format",
            "seo",
            "minor",
            "Use a modern format",
            "A large JPEG or PNG is usually much smaller as WebP or AVIF.",
            _WEB_DEV_IMAGES,
        ),
        Issue(
            "missing_dimensions",
            "seo",
            "minor",
            "Missing width/height",
            "Nothing reserves the img's box before it loads (width and height attributes, or CSS width and height "
            "or one of them with aspect-ratio), so the layout shifts when it arrives (CLS).",
            _CLS,
            lighthouse="unsized-images",
        ),
        Issue(
            "oversized_image",
            "seo",
            "minor",
            "Image larger than shown",
            "The file is more than twice as wide as the space it is shown in; serve a smaller size (srcset).",
            _SIZE_IMAGES,
            lighthouse="uses-responsive-images",
        ),
        Issue(
            "distorted_image",
            "seo",
            "minor",
            "Image shown stretched",
            "The img's box has another aspect ratio than its file and object-fit is fill, so the image is shown "
            "stretched or squashed; give the box the file's ratio, or use object-fit: cover or contain.",
            _ASPECT_RATIO,
            lighthouse="image-aspect-ratio",
        ),
        Issue(
            "low_resolution_image",
            "seo",
            "minor",
            "Image blurry at its size",
            "The file has fewer pixels than the box it is shown in (under 75% of its width or height; under all of "
            "it for an icon of 64 px or less), so it looks blurry; serve a larger file (srcset).",
            _RESOLUTION,
            lighthouse="image-size-responsive",
        ),
        Issue(
            "inconsistent_alt",
            "alt",
            "minor",
            "Same image, different alt",
            "Site audits: the same image carries different alt text on different pages; check which one is right.",
            _WCAG_TEXT_ALT,
        ),
        Issue(
            "alt_missing_text",
            "alt",
            "serious",
            "Alt misses the image's text",
            "The image carries prominent text that its alt text does not repeat (WCAG 1.1.1): a screen reader user "
            "misses the message; put the text in the alt.",
            _TEXT_IN_ALT,
        ),
        Issue(
            "image_of_text",
            "alt",
            "moderate",
            "Image of text",
            "Text covers a large part of the image (a banner, a menu); use real text styled with CSS where you can "
            "(WCAG 1.4.5; logos are exempt), so it can be resized, translated and read.",
            _IMAGES_OF_TEXT,
        ),
        Issue(
            "social_image_no_alt",
            "seo",
            "minor",
            "Social image without alt",
            "The page declares og:image (or twitter:image) without og:image:alt: shared links show the image with no "
            "text alternative; add the suggested one.",
            _OG_ALT,
        ),
        Issue(
            "non_descriptive_filename",
            "seo",
            "minor",
            "Non-descriptive file name",
            "The file name says nothing about the image; a descriptive name helps image search.",
            _WEB_DEV_IMAGES,
        ),
    )
}


def issue_types() -> dict[str, dict[str, str | None]]:
    """Every issue as the reports describe it (the JSON's ``issue_types``)."""
    return {slug: issue.to_dict() for slug, issue in ISSUES.items()}


def severity_at_least(severity: str, threshold: str) -> bool:
    """True when ``severity`` is ``threshold`` or worse."""
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


# Findings only the image itself shows (its caption, its text, its bytes, its answer): a dry run, which
# reads no image, cannot make them, so a comparison with one does not count them as new or fixed.
NEEDS_THE_IMAGE = frozenset(
    {"alt_mismatch", "empty_alt_on_content", "alt_missing_text", "image_of_text", "broken_image", "large_file",
     "modern_format", "oversized_image", "distorted_image", "low_resolution_image",
     "non_descriptive_filename"}
)  # fmt: skip


def at_least(counts: Mapping[str, int], threshold: str) -> dict[str, int]:
    """The issues of ``counts`` (slug -> count) of ``threshold`` severity or worse, worst first (a CI gate's why)."""
    kept = [
        (slug, n)
        for slug, n in counts.items()
        if n and slug in ISSUES and severity_at_least(ISSUES[slug].severity, threshold)
    ]
    kept.sort(key=lambda item: (-SEVERITIES.index(ISSUES[item[0]].severity), -item[1], item[0]))
    return dict(kept)
