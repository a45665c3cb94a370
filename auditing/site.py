"""Site-level views: each distinct image with every page it appears on, and inconsistent alt text.

An image is identified by its content (SHA-256) when it was read, else by its URL, so the same
photo under two URLs is one entry. ``inconsistent_alt`` is added to every occurrence of a content
image (captioned, with alt semantics, not hidden from assistive technology) whose alt text differs
between pages (absent, empty and each distinct text count as different).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditing.a11y import silent
from auditing.checks import ALT_SOURCES
from records import CAPTIONED, ImageRecord, PageReport


def site_images(pages: Iterable[PageReport]) -> list[dict[str, Any]]:
    """The images view; flags ``inconsistent_alt`` on the records as a side effect."""
    groups: dict[str, list[tuple[str, ImageRecord]]] = {}
    for page in pages:
        if page.status != "ok":
            continue
        for record in page.images:
            groups.setdefault(image_key(record), []).append((page.url, record))
    return [image_view(occurrences) for occurrences in groups.values()]


def image_key(record: ImageRecord) -> str:
    """What identifies an image across pages: its content when read, else its URL."""
    return f"sha256:{record.sha256}" if record.sha256 else f"url:{record.source}"


def image_view(occurrences: list[tuple[str, ImageRecord]]) -> dict[str, Any]:
    """One distinct image from its ``(page URL, record)`` occurrences, in page order.

    Flags ``inconsistent_alt`` on the occurrences' records when their alt text differs between pages.
    """
    first = occurrences[0][1]
    with_alt = [(p, r) for p, r in occurrences if ALT_SOURCES & set(r.found_in) and not silent(r)]
    alts = {alt for _, r in with_alt for alt in (r.alts or [r.alt])}
    content = first.status == CAPTIONED or first.reason == "dry_run"  # a dry run reads no image: assume content
    inconsistent = content and len({p for p, _ in with_alt}) > 1 and len(alts) > 1
    if inconsistent:
        for _, record in with_alt:
            if "inconsistent_alt" not in record.alt_issues:
                record.alt_issues.append("inconsistent_alt")
    return {
        "urls": sorted({r.url for _, r in occurrences}),
        "sha256": first.sha256,
        "status": first.status,
        "reason": first.reason,
        "caption": first.caption,
        "width": first.width,
        "height": first.height,
        "bytes": first.bytes,
        "inconsistent_alt": inconsistent,
        "pages": [{"page": p, "url": r.url, "alt": r.alt} for p, r in occurrences],
    }
