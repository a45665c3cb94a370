"""A self-contained HTML audit report, rendered from ``templates/report.html.j2`` by Jinja2.

Autoescaping is on: everything from audited pages (URLs, alt text, captions) is text, never
markup. Thumbnails are embedded as data: URIs, so the file works offline and can be mailed
around. Site audits open with a site summary: coverage, what changed since the compared report,
the worst pages, and a view of each distinct image across pages.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from auditing.registry import ISSUES, SEVERITIES
from records import AuditReport, PageReport
from reports.fixes import is_held

WORST_PAGES = 10
CHANGES_SHOWN = 200

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["b64"] = lambda data: base64.b64encode(data).decode()


def file_size(size: int) -> str:
    """A file's size as a person reads it: 312 B, 3.4 KB, 120 KB, 1.6 MB (a 40-px logo is not "0 KB")."""
    if size < 1024:
        return f"{size} B"
    if size < 10 * 1024:
        return f"{size / 1024:.1f} KB"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


_ENV.filters["file_size"] = file_size


def _text(value: str | None) -> Markup:
    """An alt text or caption, with absent and empty values told apart."""
    if value is None:
        return Markup('<span class="none">(none)</span>')
    if value == "":
        return Markup('<span class="none">(empty: "")</span>')
    if not value.strip():  # alt="  " is no name, and invisible as it is
        return Markup('<span class="none">(whitespace only: "{}")</span>').format(value)
    return escape(value)


def render_html(report: AuditReport) -> str:
    """The whole report as one HTML document."""
    ok_pages = [page for page in report.pages if page.status == "ok"]
    issue_count = {page.url: sum(len(r.alt_issues) + len(r.seo_issues) for r in page.images) for page in ok_pages}
    worst = sorted(ok_pages, key=lambda page: -issue_count[page.url])[:WORST_PAGES]
    context = html_context(
        report.summary(),
        report.model,
        report.site,
        report.comparison,
        [(page, issue_count[page.url]) for page in worst if issue_count[page.url]],
        {page.url: index for index, page in enumerate(report.pages)},
        report.pages,
        report.images,
    )
    return _ENV.get_template("report.html.j2").render(context)


def html_context(
    summary: dict[str, Any],
    model: dict[str, Any],
    site: dict[str, Any] | None,
    comparison: dict[str, Any] | None,
    worst_pages: list[tuple[Any, int]],
    page_index: dict[str, int],
    pages: Iterable[PageReport],
    images: Iterable[dict[str, Any]] | None,
) -> dict[str, Any]:
    """What the template needs; ``pages`` and ``images`` are read once, so they may be streams."""
    counts: Counter[str] = Counter(summary["issues"])
    by_issue = sorted(ISSUES.values(), key=lambda i: (-SEVERITIES.index(i.severity), i.slug))
    changed = []
    if comparison:
        changed = [row for row in comparison["findings"] if row["state"] in ("new", "fixed")][:CHANGES_SHOWN]
    return {
        "summary": summary,
        "model_id": str(model.get("id", "")),
        "site": site,
        "comparison": comparison,
        "changed": changed,
        "worst_pages": worst_pages,
        "page_index": page_index,
        "counts": counts,
        "issues_found": [issue for issue in by_issue if counts[issue.slug]],
        "all_issues": ISSUES,
        "pages": pages,
        "images": images,
        "text": _text,
        "held": is_held,
    }


def stream_html(context: dict[str, Any], path: str | Path) -> Path:
    """Write the HTML report piece by piece (the template reads ``pages`` and ``images`` as it goes)."""
    target = Path(path)
    with target.open("w", encoding="utf-8") as handle:
        for piece in _ENV.get_template("report.html.j2").generate(context):
            handle.write(piece)
    return target


def write_html(report: AuditReport, path: str | Path) -> Path:
    """Write the HTML report (UTF-8)."""
    target = Path(path)
    target.write_text(render_html(report), encoding="utf-8")
    return target
