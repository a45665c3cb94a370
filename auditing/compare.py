"""Compare an audit with a previous report (JSON from either mode): what is new, fixed, persisting.

A finding is keyed by (page URL, image URL, check), page URLs normalised the crawl's way. A
finding is ``new`` or ``persisting`` when its page was audited in both runs, ``fixed`` when it is
gone from a page audited in both, and ``not_comparable`` when its page was audited in only one of
the two runs: a page that was not audited is never counted as fixed. A finding only the image
itself can show (``NEEDS_THE_IMAGE``: its caption, text, bytes or answer) is ``not_comparable`` where
either run was a dry run that read no image.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from auditing.registry import ISSUES, NEEDS_THE_IMAGE, at_least
from records import AuditReport
from scraper.urls import normalise_url

NEW, FIXED, PERSISTING, NOT_COMPARABLE = "new", "fixed", "persisting", "not_comparable"
Finding = tuple[str, str, str]  # (page URL, image URL, check slug)


def page_key(url: str) -> str:
    """How a page is matched between two audits (its normalised URL)."""
    try:
        return normalise_url(url)
    except ValueError:
        return url


def findings(pages: Iterable[dict[str, Any]]) -> tuple[set[str], set[Finding], set[tuple[str, str]]]:
    """Audited page keys, every finding of a report's ``pages`` (JSON form), and the (page, image) pairs
    a dry run did not read."""
    audited: set[str] = set()
    found: set[Finding] = set()
    unread: set[tuple[str, str]] = set()
    for page in pages:
        if page.get("status") != "ok":
            continue
        key = page_key(page["url"])
        audited.add(key)
        for image in page.get("images", []):
            if image.get("reason") == "dry_run":
                unread.add((key, image["url"]))
            for slug in [*image.get("alt_issues", []), *image.get("seo_issues", [])]:
                found.add((key, image["url"], slug))
    return audited, found, unread


def previous_report(data: Any) -> dict[str, Any]:
    """``data`` when it is a JSON report whose findings can be read; ValueError saying why otherwise."""
    if not isinstance(data, dict) or not isinstance(data.get("pages"), list):
        raise ValueError("it has no list of pages")
    try:
        findings(data["pages"])
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"its pages are not an audit's pages ({type(exc).__name__}: {exc})") from None
    return data


def compare(current: AuditReport, previous: dict[str, Any]) -> dict[str, Any]:
    """The comparison block: counts by state and every finding with its state."""
    now_pages, now, now_unread = findings(page.to_dict() for page in current.pages)
    then_pages, then, then_unread = findings(previous.get("pages", []))
    unread = now_unread | then_unread
    rows: list[dict[str, Any]] = []

    def comparable(finding: Finding) -> bool:
        return finding[2] not in NEEDS_THE_IMAGE or (finding[0], finding[1]) not in unread

    def add(finding: Finding, state: str) -> None:
        page, image, slug = finding
        severity = ISSUES[slug].severity if slug in ISSUES else None
        rows.append({"page": page, "image": image, "check": slug, "severity": severity, "state": state})

    for finding in sorted(now):
        if finding[0] not in then_pages or not comparable(finding):
            add(finding, NOT_COMPARABLE)
        else:
            add(finding, PERSISTING if finding in then else NEW)
    for finding in sorted(then - now):
        add(finding, FIXED if finding[0] in now_pages and comparable(finding) else NOT_COMPARABLE)
    counts = Counter(row["state"] for row in rows)
    return {
        "counts": {state: counts[state] for state in (NEW, FIXED, PERSISTING, NOT_COMPARABLE)},
        "pages_in_both": len(now_pages & then_pages),
        "findings": rows,
    }


def new_findings(comparison: dict[str, Any], threshold: str) -> dict[str, int]:
    """The new findings of ``threshold`` severity or worse, counted by check, worst first (``--fail-on-new``)."""
    return at_least(Counter(row["check"] for row in comparison["findings"] if row["state"] == NEW), threshold)
