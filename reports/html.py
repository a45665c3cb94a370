"""A self-contained HTML audit report, rendered from ``templates/report.html.j2`` by Jinja2.

Autoescaping is on: everything from audited pages (URLs, alt text, captions) is text, never
markup. Thumbnails are embedded as data: URIs, so the file works offline and can be mailed
around. Site audits open with a site summary: coverage, what changed since the compared report,
the worst pages, and a view of each distinct image across pages.
"""

from __future__ import annotations

import base64
from collections import Counter
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from auditing.registry import ISSUES, SEVERITIES
from records import AuditReport

WORST_PAGES = 10
CHANGES_SHOWN = 200

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["b64"] = lambda data: base64.b64encode(data).decode()


def _text(value: str | None) -> Markup:
    """An alt text or caption, with absent and empty values told apart."""
    if value is None:
        return Markup('<span class="none">(none)</span>')
    if value == "":
        return Markup('<span class="none">(empty: "")</span>')
    return escape(value)


def render_html(report: AuditReport) -> str:
    """The whole report as one HTML document."""
    summary = report.summary()
    counts: Counter[str] = Counter(summary["issues"])
    by_issue = sorted(ISSUES.values(), key=lambda i: (-SEVERITIES.index(i.severity), i.slug))
    ok_pages = [page for page in report.pages if page.status == "ok"]
    issue_count = {page.url: sum(len(r.alt_issues) + len(r.seo_issues) for r in page.images) for page in ok_pages}
    worst = sorted(ok_pages, key=lambda page: -issue_count[page.url])[:WORST_PAGES]
    changed = []
    if report.comparison:
        changed = [row for row in report.comparison["findings"] if row["state"] in ("new", "fixed")][:CHANGES_SHOWN]
    return _ENV.get_template("report.html.j2").render(
        summary=summary,
        model_id=str(report.model.get("id", "")),
        site=report.site,
        comparison=report.comparison,
        changed=changed,
        worst_pages=[(page, issue_count[page.url]) for page in worst if issue_count[page.url]],
        page_index={page.url: index for index, page in enumerate(report.pages)},
        counts=counts,
        issues_found=[issue for issue in by_issue if counts[issue.slug]],
        all_issues=ISSUES,
        pages=report.pages,
        images=report.images,
        text=_text,
    )


def write_html(report: AuditReport, path: str | Path) -> Path:
    """Write the HTML report (UTF-8)."""
    target = Path(path)
    target.write_text(render_html(report), encoding="utf-8")
    return target
