"""A self-contained HTML audit report: summary by issue, one filterable table row per image.

Everything from the audited page (URLs, alt text, captions) is escaped; thumbnails are
embedded as data: URIs, so the file works offline and can be mailed around.
"""

from __future__ import annotations

import base64
from collections import Counter
from html import escape
from pathlib import Path

from auditing.registry import ISSUES, SEVERITIES
from records import AuditReport, ImageRecord, PageReport

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{margin:0 0 4px;font-size:26px}h2{margin:28px 0 8px;font-size:20px}.meta{color:#555;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #ddd}
th,td{border-bottom:1px solid #eee;padding:8px;text-align:left;vertical-align:top}
.warning{color:#8a4b00;margin:4px 0}
th{background:#f0f0f3;position:sticky;top:0}td.thumb img{max-width:120px;max-height:90px;border-radius:4px}
.url{word-break:break-all;font-size:12px;color:#555}.none{color:#999;font-style:italic}
.issue{display:inline-block;margin:0 4px 4px 0;padding:1px 7px;border-radius:10px;font-size:12px;color:#fff}
.critical{background:#b00020}.serious{background:#d9480f}.moderate{background:#b7791f}.minor{background:#5c6b7a}
.status-captioned{color:#1b7f3b}.status-skipped{color:#8a6d00}.status-failed{color:#b00020}
.explain{font-size:12px;color:#444;margin:2px 0 6px}label{font-weight:600}select{font-size:15px;padding:3px}
tr.hidden{display:none}.translated{color:#2b5797;margin-top:4px}
"""

_JS = """
const filter=document.getElementById('issue-filter');
filter.addEventListener('change',()=>{const v=filter.value;let shown=0;
document.querySelectorAll('tbody tr').forEach(tr=>{const issues=(tr.dataset.issues||'').split(' ');
const show=!v||(v==='none'?issues[0]==='':issues.includes(v));tr.classList.toggle('hidden',!show);if(show)shown++;});
document.getElementById('shown').textContent=shown;});
"""


def _text(value: str | None) -> str:
    if value is None:
        return '<span class="none">(none)</span>'
    if value == "":
        return '<span class="none">(empty: "")</span>'
    return escape(value)


def _translated(record: ImageRecord, which: str) -> str:
    text = record.caption_translated if which == "caption" else record.suggested_alt_translated
    if not text:
        return ""
    return f'<div class="translated" lang="{escape(record.translation_lang or "")}">{escape(text)}</div>'


def _issue_badges(record: ImageRecord) -> str:
    parts = []
    for slug in [*record.alt_issues, *record.seo_issues]:
        issue = ISSUES[slug]
        extra = (
            f" (score {record.alt_match_score:.2f})"
            if slug == "alt_mismatch" and record.alt_match_score is not None
            else ""
        )
        parts.append(
            f'<span class="issue {issue.severity}" title="{escape(issue.severity)}">{escape(issue.title)}</span>'
            f'<div class="explain">{escape(issue.explanation)}{escape(extra)} '
            f'<a href="{escape(issue.help_url)}" target="_blank" rel="noopener">WCAG / guidance</a></div>'
        )
    return "".join(parts) or '<span class="none">no issues</span>'


def _row(record: ImageRecord) -> str:
    thumb = ""
    if record.thumbnail:
        data = base64.b64encode(record.thumbnail).decode()
        thumb = f'<img src="data:image/jpeg;base64,{data}" alt="{escape(record.suggested_alt or "")}">'
    issues = " ".join([*record.alt_issues, *record.seo_issues])
    status = f'<span class="status-{escape(record.status)}">{escape(record.status)}</span>'
    if record.detail:
        status += f'<div class="explain">{escape(record.detail)}</div>'
    size = f"{record.width}×{record.height}" if record.width and record.height else ""
    if record.bytes:
        size += f"<br>{record.bytes / 1024:.0f} KB {escape(record.format or '')}"
    if record.rendered_width is not None and record.rendered_height is not None:
        size += f"<br>shown at {record.rendered_width}×{record.rendered_height}" + (
            "" if record.visible else " (hidden)"
        )
    filename = f"<br>rename: <code>{escape(record.suggested_filename)}</code>" if record.suggested_filename else ""
    return (
        f'<tr data-issues="{escape(issues)}"><td class="thumb">{thumb}</td>'
        f'<td><div class="url">{escape(record.url)}</div>{filename}</td><td>{status}</td>'
        f"<td>{_text(record.alt)}</td><td>{_text(record.suggested_alt)}{_translated(record, 'suggested')}</td>"
        f"<td>{_text(record.caption)}{_translated(record, 'caption')}</td>"
        f"<td>{_issue_badges(record)}</td><td>{size}</td></tr>"
    )


def _page_section(page: PageReport) -> str:
    heading = f'<h2>{escape(page.title or page.url)}</h2><p class="meta">{escape(page.url)}'
    if page.lang:
        heading += f" · lang {escape(page.lang)}"
    if page.kind == "page" and page.status == "ok":
        heading += " · read in a headless browser" if page.rendered else " · read from its HTML"
    heading += "</p>"
    heading += "".join(f'<p class="warning">⚠ {escape(warning)}</p>' for warning in page.warnings)
    if page.status != "ok":
        return heading + f'<p class="status-failed">Page could not be audited: {escape(page.error or "")}</p>'
    rows = "".join(_row(record) for record in page.images)
    return heading + (
        "<table><thead><tr><th>Image</th><th>URL</th><th>Status</th><th>Existing alt</th><th>Suggested alt</th>"
        f"<th>Caption</th><th>Issues</th><th>Size</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def render_html(report: AuditReport) -> str:
    """The whole report as one HTML document."""
    summary = report.summary()
    counts: Counter[str] = Counter(summary["issues"])
    cards = [
        f'<div class="card"><b>{summary["images"]}</b>images</div>',
        f'<div class="card"><b>{summary["captioned"]}</b>captioned</div>',
        f'<div class="card"><b>{summary["skipped"]}</b>skipped</div>',
        f'<div class="card"><b>{summary["failed"]}</b>failed</div>',
    ]
    by_issue = sorted(ISSUES.values(), key=lambda i: (-SEVERITIES.index(i.severity), i.slug))
    issue_cards = "".join(
        f'<div class="card"><b>{counts[issue.slug]}</b><span class="issue {issue.severity}">{escape(issue.title)}'
        f"</span></div>"
        for issue in by_issue
        if counts[issue.slug]
    )
    options = '<option value="">all images</option><option value="none">no issues</option>' + "".join(
        f'<option value="{issue.slug}">{escape(issue.title)} ({counts[issue.slug]})</option>'
        for issue in by_issue
        if counts[issue.slug]
    )
    pages = "".join(_page_section(page) for page in report.pages)
    model = escape(str(report.model.get("id", "")))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>AltScout audit</title><style>{_CSS}</style></head><body>"
        f'<h1>AltScout alt-text audit</h1><p class="meta">{summary["pages"]} page(s) · captions by {model}. '
        "Suggested alt text is a proposal: AltScout never changes the page.</p>"
        f'<div class="cards" id="totals">{"".join(cards)}</div>'
        f'<div class="cards" id="issue-counts">{issue_cards}</div>'
        f'<p><label for="issue-filter">Show:</label> <select id="issue-filter">{options}</select> '
        f'<span id="shown">{summary["images"]}</span> shown</p>'
        f"{pages}<script>{_JS}</script></body></html>"
    )


def write_html(report: AuditReport, path: str | Path) -> Path:
    """Write the HTML report (UTF-8)."""
    target = Path(path)
    target.write_text(render_html(report), encoding="utf-8")
    return target
