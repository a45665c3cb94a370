"""Write an :class:`AuditReport` as captions.txt, JSON and CSV."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from auditing.registry import ISSUES
from records import CAPTIONED, FAILED, SKIPPED, AuditReport, PageReport
from reports.cells import CSV_ENCODING, NeutralDictWriter
from reports.fixes import export_state

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "report.schema.json"
CSV_COLUMNS = [
    "page_url",
    "url",
    "status",
    "reason",
    "detail",
    "caption",
    "raw_caption",
    "image_text",
    "text_coverage",
    "alt",
    "found_in",
    "occurrences",
    "width",
    "height",
    "rendered_width",
    "rendered_height",
    "visible",
    "element",
    "selector",
    "role",
    "accessible_name",
    "name_source",
    "decorative",
    "focusable",
    "bytes",
    "format",
    "width_attr",
    "height_attr",
    "title",
    "in_link",
    "link_href",
    "link_text",
    "in_figure",
    "figcaption",
    "sha256",
    "alt_issues",
    "seo_issues",
    "axe_rules",
    "alt_match_score",
    "suggested_alt",
    "suggestion_for",
    "suggestion_basis",
    "decision",
    "export",
    "suggested_filename",
    "translation_lang",
    "caption_translated",
    "suggested_alt_translated",
    "page_title",
    "page_lang",
]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _reason_summary(page: PageReport, status: str) -> str:
    reasons = Counter(image.reason or "unknown" for image in page.images if image.status == status)
    total = sum(reasons.values())
    detail = ", ".join(f"{reason}: {count}" for reason, count in sorted(reasons.items()))
    return f"{status} {total}" + (f" ({detail})" if detail else "")


def captions_txt_lines(page: PageReport) -> list[str]:
    """One page's part of captions.txt."""
    lines = [f"# {'Folder' if page.kind == 'folder' else 'Page'}: {page.url}"]
    if page.status != "ok":
        return [*lines, f"# page failed: {_one_line(page.error or 'unknown error')}", ""]
    for image in page.images:
        if image.status == CAPTIONED and image.caption is not None:
            lines.append(f"{image.url}: {_one_line(image.caption)}")
    lines.extend(f"# warning: {_one_line(warning)}" for warning in page.warnings)
    captioned = sum(1 for image in page.images if image.status == CAPTIONED)
    lines.append(f"# captioned {captioned}; {_reason_summary(page, SKIPPED)}; {_reason_summary(page, FAILED)}")
    lines.append("")
    return lines


def render_captions_txt(report: AuditReport) -> str:
    """``# Page: URL`` then ``IMAGE_URL: caption`` lines, ``# warning:`` lines, a commented summary, per page."""
    return "\n".join(line for page in report.pages for line in captions_txt_lines(page))


def write_captions_txt(report: AuditReport, path: str | Path) -> Path:
    """Write captions.txt (UTF-8)."""
    target = Path(path)
    target.write_text(render_captions_txt(report), encoding="utf-8")
    return target


def write_json(report: AuditReport, path: str | Path) -> Path:
    """Write the JSON report described by ``schema/report.schema.json``."""
    target = Path(path)
    target.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def axe_rules(slugs: list[str]) -> list[str]:
    """The axe-core rule ids of these findings, once each, in order (for cross-referencing)."""
    rules = [ISSUES[slug].axe_rule for slug in slugs if slug in ISSUES and ISSUES[slug].axe_rule]
    return list(dict.fromkeys(rule for rule in rules if rule))


def csv_rows(page: PageReport) -> Iterator[dict[str, Any]]:
    """One page's rows of the CSV report (a failed page is one row with its error)."""
    if page.status != "ok":
        yield {"page_url": page.url, "status": "page_failed", "reason": page.error_code, "detail": page.error}
        return
    for image in page.images:
        row = image.to_dict()
        row["page_url"] = page.url
        row["page_title"], row["page_lang"] = page.title, page.lang
        row["found_in"] = " ".join(image.found_in)
        row["alt_issues"] = " ".join(image.alt_issues)
        row["seo_issues"] = " ".join(image.seo_issues)
        row["axe_rules"] = " ".join(axe_rules(image.alt_issues + image.seo_issues))
        row["export"] = export_state(image)
        yield {key: "" if value is None else value for key, value in row.items()}


def csv_writer(handle: TextIO, columns: list[str]) -> csv.DictWriter[str]:
    """A CSV writer with its header written; cells that a spreadsheet would run as formulas stay text."""
    writer = NeutralDictWriter(handle, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    return writer


def write_csv(report: AuditReport, path: str | Path) -> Path:
    """Write one CSV row per image (failed pages get one row with the page error)."""
    target = Path(path)
    with target.open("w", newline="", encoding=CSV_ENCODING) as handle:
        writer = csv_writer(handle, CSV_COLUMNS)
        for page in report.pages:
            writer.writerows(csv_rows(page))
    return target


PAGES_CSV_COLUMNS = [
    "url",
    "status",
    "reason",
    "detail",
    "depth",
    "via",
    "found_on",
    "lastmod",
    "title",
    "rendered",
    "images",
    "captioned",
    "skipped",
    "failed",
    "issues",
]


def page_counts(page: PageReport) -> dict[str, Any]:
    """An audited page's columns of pages.csv."""
    by_status = Counter(image.status for image in page.images)
    return {
        "title": page.title,
        "rendered": page.rendered,
        "images": len(page.images),
        "captioned": by_status[CAPTIONED],
        "skipped": by_status[SKIPPED],
        "failed": by_status[FAILED],
        "issues": sum(len(i.alt_issues) + len(i.seo_issues) for i in page.images),
    }


def pages_csv_row(url_row: dict[str, Any], counts: dict[str, Any] | None) -> dict[str, Any]:
    """One row of pages.csv: a URL's outcome, with its page's counts when it was audited."""
    out = dict(url_row) | (counts or {})
    return {key: "" if value is None else value for key, value in out.items()}


def pages_rows(report: AuditReport) -> Iterator[dict[str, Any]]:
    """One row per URL met (site audits: every URL with its status; else every page), with counts."""
    counts = {page.url: page_counts(page) for page in report.pages if page.status == "ok"}
    rows = list(report.site["urls"]) if report.site else [
        {"url": page.url, "status": "audited" if page.status == "ok" else "failed", "reason": page.error_code,
         "detail": page.error}
        for page in report.pages
    ]  # fmt: skip
    for row in rows:
        yield pages_csv_row(row, counts.get(row["url"]))


def write_pages_csv(report: AuditReport, path: str | Path) -> Path:
    """pages.csv: :func:`pages_rows`."""
    target = Path(path)
    with target.open("w", newline="", encoding=CSV_ENCODING) as handle:
        csv_writer(handle, PAGES_CSV_COLUMNS).writerows(pages_rows(report))
    return target
