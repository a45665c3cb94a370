"""How a job reads in the web form: progress line, summary, recent audits, results table rows.

Pure functions over stored jobs and report JSON, so the Gradio layer only places them. Everything
from audited pages is escaped: it is shown as text, never as markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditing import ISSUES
from service.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, Job
from service.runner import REPORT_FILES
from service.submit import friendly

TABLE_HEADERS = ["image", "status", "reason", "existing alt", "suggested alt", "issues", "caption", "size"]


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC") if timestamp else ""


def progress_line(job: Job, ahead: int = 0) -> str:
    """One Markdown line (and a bar) saying where the job is."""
    what = "whole site" if job.crawl else ("page" if len(job.urls) == 1 else f"{len(job.urls)} pages")
    head = f"**Audit of {html.escape(job.site)}** ({what}) · started {_when(job.created_at)}"
    if job.state == QUEUED:
        state = f"Waiting to start: {ahead} audit(s) ahead of this one." if ahead else "Starting…"
        if job.resumes:
            state = "The server restarted; this audit continues where it stopped."
        return f"{head}\n\n**Waiting**: {state}"
    counts = (
        f"{job.pages_done} of {max(job.pages_known, job.pages_done)} pages · "
        f"{job.images_done} of {max(job.images_known, job.images_done)} images"
    )
    if job.state == RUNNING:
        known = max(job.pages_known, 1)
        percent = min(100, round(100 * job.pages_done / known))
        note = " · cancelling…" if job.cancel_requested else ""
        note += " · resumed after a server restart" if job.resumes else ""
        bar = f'<progress max="100" value="{percent}" style="width:100%"></progress>'
        return f"{head}\n\n**Running**: {counts}{note}\n\n{bar}"
    if job.state == DONE:
        return f"{head}\n\n**Done** at {_when(job.finished_at)}: {counts}."
    if job.state == CANCELLED:
        return f"{head}\n\n**Cancelled**: {counts}."
    assert job.state == FAILED
    return f"{head}\n\n**Failed**: {html.escape(job.error or 'unknown error')}"


def summary_markdown(job: Job) -> str:
    """What a finished job found: images, how pages were read, the site, the comparison, warnings."""
    s = job.summary or {}
    error = s.get("page_error")
    if error:
        return f"**The page could not be audited.** {friendly(error.get('code'), error.get('detail'))}"
    line = (
        f"**{s.get('images', 0)} images found**: {s.get('captioned', 0)} captioned, "
        f"{s.get('skipped', 0)} skipped, {s.get('failed', 0)} failed."
    )
    if s.get("pages"):
        how = "as a headless browser shows it" if s.get("rendered") else "from its HTML (no browser)"
        line += f" Read {how}."
    site = s.get("site")
    if site and job.crawl:
        line += (
            f"\n\n**Site**: {site.get('pages_discovered', 0)} URLs found, {site.get('pages_audited', 0)} pages "
            f"audited, {site.get('pages_failed', 0)} failed, {site.get('pages_skipped', 0)} skipped, "
            f"{site.get('unique_images', 0)} distinct images."
        )
    comparison = s.get("comparison")
    if comparison:
        line += (
            f"\n\n**Since the previous audit of this site**: {comparison.get('new', 0)} new issues, "
            f"{comparison.get('fixed', 0)} fixed, {comparison.get('persisting', 0)} persisting."
        )
    issues = s.get("issues") or {}
    if issues:
        worst = sorted(issues.items(), key=lambda item: -item[1])[:6]
        named = ", ".join(f"{ISSUES[slug].title if slug in ISSUES else slug} {count}" for slug, count in worst)
        line += f"\n\n**Issues**: {html.escape(named)}."
    warnings = [*(s.get("warnings") or []), *(s.get("page_warnings") or [])]
    return line + "".join(f"\n\n⚠ {html.escape(warning)}" for warning in warnings[:10])


def recent_markdown(jobs: Sequence[Job]) -> str:
    """Links to earlier audits (``?job=ID`` reopens one)."""
    if not jobs:
        return "_No audits yet._"
    rows = ["| site | what | state | images | started |", "|---|---|---|---|---|"]
    for job in jobs:
        images = (job.summary or {}).get("images", job.images_done)
        what = "whole site" if job.crawl else "page"
        rows.append(
            f"| [{html.escape(job.site)}](?job={job.id}) | {what} | {job.state} | {images} | {_when(job.created_at)} |"
        )
    return "\n".join(rows)


def report_frame(job: Job) -> str:
    """The finished HTML report in the page: a screenful of rows, filters by status and issue, details."""
    return (
        f'<iframe src="/jobs/{job.id}/report.html" title="Audit report" class="altscout-report" '
        'style="width:100%;height:88vh;border:1px solid #ddd;border-radius:8px;background:#fff"></iframe>'
    )


def report_paths(folder: Path) -> list[str]:
    """The job's report files that exist, for the downloads box."""
    return [str(folder / name) for name in REPORT_FILES if (folder / name).exists()]


def gallery_items(folder: Path) -> list[tuple[str, str]]:
    """The gallery's thumbnails and captions, written by the runner."""
    listing = folder / "gallery.json"
    if not listing.exists():
        return []
    items = json.loads(listing.read_text(encoding="utf-8"))
    return [(str(folder / "thumbs" / item["file"]), item["caption"]) for item in items]


def table_rows(images: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """One row per image (report JSON records), for the Gradio API's table."""
    rows = []
    for record in images:
        width, height = record.get("width"), record.get("height")
        size = f"{width}x{height}" if width and height else ""
        alt = record.get("alt")
        alt_text = "(none)" if alt is None else (alt or '(empty: "")')
        slugs = [*record.get("alt_issues", []), *record.get("seo_issues", [])]
        issues = ", ".join(f"{slug} ({ISSUES[slug].severity})" for slug in slugs if slug in ISSUES)
        suggested = record.get("suggested_alt")
        suggested_text = "" if suggested is None else (suggested or '""')
        caption = record.get("caption") or ""
        lang = record.get("translation_lang")
        if record.get("caption_translated"):
            caption += f"\n[{lang}] {record['caption_translated']}"
        if record.get("suggested_alt_translated"):
            suggested_text += f"\n[{lang}] {record['suggested_alt_translated']}"
        rows.append(
            [record.get("url"), record.get("status"), record.get("detail") or "", alt_text, suggested_text,
             issues, caption, size]
        )  # fmt: skip
    return rows
