"""Site-level views: each distinct image with every page it appears on, inconsistent alt text, and
one site name for the link-target names of every page.

An image is identified by its content (SHA-256) when it was read, else by its URL, so the same
photo under two URLs is one entry. ``inconsistent_alt`` is added to every occurrence of a content
image (captioned, with alt semantics, not hidden from assistive technology) whose alt text differs
between pages (absent, empty and each distinct text count as different).

A page that states no site name (its ``<title>`` is "Our story") names a linked logo by the name its
site's other pages state: "Crumb & Co home page" on every page, not "Home page" on some, so the fix
exports set one text for the one logo.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from auditing.a11y import silent
from auditing.checks import ALT_SOURCES, link_target_name
from records import CAPTIONED, LINK_TARGET, ImageRecord, PageReport
from scraper.urls import bare_host


def site_images(pages: Iterable[PageReport]) -> list[dict[str, Any]]:
    """The images view; flags ``inconsistent_alt`` on the records as a side effect."""
    audited = [page for page in pages if page.status == "ok"]
    read = {record.source: image_key(record) for page in audited for record in page.images if record.sha256}
    groups: dict[str, list[tuple[str, ImageRecord]]] = {}
    for page in audited:
        for record in page.images:
            key = image_key(record)
            groups.setdefault(read.get(record.source, key), []).append((page.url, record))
    return [image_view(occurrences) for occurrences in groups.values()]


def image_key(record: ImageRecord) -> str:
    """What identifies an image across pages: its content when read, else its URL (an occurrence skipped
    before it was read, by its declared size, joins its URL's content where another page read it)."""
    return f"sha256:{record.sha256}" if record.sha256 else f"url:{record.source}"


def image_view(occurrences: list[tuple[str, ImageRecord]]) -> dict[str, Any]:
    """One distinct image from its ``(page URL, record)`` occurrences, in page order.

    Flags ``inconsistent_alt`` on the occurrences' records when their alt text differs between pages.
    """
    first = next((r for _, r in occurrences if r.status == CAPTIONED), None) or next(
        (r for _, r in occurrences if r.sha256), occurrences[0][1]
    )  # the facts of an occurrence that was read, not of one skipped unread
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


class SiteNames:
    """The site name each host's pages state most often (the first stated wins a tie), counted a page at a
    time (a host's distinct names, not its pages, are held)."""

    def __init__(self, pages: Iterable[PageReport] = ()) -> None:
        self._counts: dict[str, Counter[str]] = {}
        for page in pages:
            self.add(page)

    def add(self, page: PageReport) -> None:
        """Count the name ``page`` states, if any."""
        if page.status == "ok" and page.site_name:
            self._counts.setdefault(bare_host(page.final_url or page.url), Counter())[page.site_name] += 1

    def for_page(self, page: PageReport) -> str | None:
        """The name the pages of ``page``'s host state most often, or None."""
        names = self._counts.get(bare_host(page.final_url or page.url))
        return names.most_common(1)[0][0] if names else None


def name_the_site(page: PageReport, names: SiteNames) -> None:
    """On a page that states no site name, the link-target names read the one its site's other pages
    state; what a page states itself stands."""
    name = names.for_page(page) if page.status == "ok" and not page.site_name else None
    if name is None:
        return
    for record in page.images:
        if record.suggestion_basis == LINK_TARGET and (text := link_target_name(record, page, name)):
            record.suggested_alt = text
