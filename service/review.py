"""A finished job's review: decisions on its suggestions, saved with the job, and its reports again.

The decisions (accept, edit, reject per image URL; :mod:`reports.decisions`) are kept in the job's
folder (``decisions.json``, written atomically), so they survive a restart. Every report of the job
is then written again from the job's state (nothing is fetched or captioned) with the decisions
applied: an edit replaces the suggestion everywhere, a rejected suggestion is left out of the
exports that apply fixes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from pipeline.engine import Engine
from records import LINK_TARGET, AuditReport
from reports.decisions import (
    Decision,
    DecisionsError,
    apply_decisions,
    decisions_from,
    read_decisions,
    review_key,
    to_entries,
)
from reports.fixes import applicable, needs_review
from reports.formats import FORMATS, write_atomically
from service.jobs import DONE, Job, JobStore
from service.runner import job_options

DECISIONS_FILE = "decisions.json"
MAX_SHEET_BYTES = 10_000_000  # the form's upload cap


class ReviewError(ValueError):
    """The review cannot be saved; the message is one sentence."""


def saved_decisions(store: JobStore, job: Job) -> dict[str, Decision]:
    """The job's saved decisions (none yet: empty)."""
    path = store.job_dir(job.id) / DECISIONS_FILE
    if not path.exists():
        return {}
    return decisions_from(json.loads(path.read_text(encoding="utf-8")), "the saved decisions")


def save_review(store: JobStore, job: Job, entries: list[Any]) -> dict[str, Decision]:
    """Merge ``entries`` into the job's decisions, save them, and write its reports again."""
    if job.state != DONE:
        raise ReviewError(f"Only a finished audit can be reviewed; this one is {job.state}.")
    sent = decisions_from(entries, "decisions")
    decisions = saved_decisions(store, job) | sent
    report, used = reviewed_report(store, job, decisions)
    if unused := [url for url in sent if url not in used]:
        raise DecisionsError(f"{len(unused)} decision(s) name no image with a suggestion in this audit, "
                             f"e.g. {unused[0]}; nothing was saved")  # fmt: skip
    folder = store.job_dir(job.id)
    part = folder / (DECISIONS_FILE + ".part")
    part.write_text(json.dumps(to_entries(decisions), indent=1), encoding="utf-8")
    part.replace(folder / DECISIONS_FILE)
    for fmt in FORMATS.values():
        if (folder / fmt.file_name).exists():  # the formats the job wrote, and only those
            write_atomically(fmt, report, folder / fmt.file_name)
    return decisions


def save_review_file(store: JobStore, job: Job, data: bytes) -> dict[str, Decision]:
    """A reviewed sheet (the job's CSV or XLSX report with its decision column filled, or a decisions
    file) merged into the job's review, as :func:`save_review` does."""
    if len(data) > MAX_SHEET_BYTES:
        raise DecisionsError(f"the reviewed sheet is over {MAX_SHEET_BYTES // 1_000_000} MB")
    suffix = ".xlsx" if data[:2] == b"PK" else ".csv"  # an .xlsx is a zip; JSON is told by its content
    with tempfile.TemporaryDirectory(dir=store.job_dir(job.id)) as folder:
        path = Path(folder) / f"review{suffix}"
        path.write_bytes(data)
        decisions = read_decisions(path, "the reviewed sheet")
    if not decisions:
        raise DecisionsError("the reviewed sheet decides nothing: fill its decision column (accept, edit, reject)")
    return save_review(store, job, to_entries(decisions))


def reviewed_report(store: JobStore, job: Job, decisions: dict[str, Decision]) -> tuple[AuditReport, set[str]]:
    """The job's report rebuilt from its state, as its run wrote it, with the decisions applied; the
    URLs of the decisions it used."""
    folder = store.job_dir(job.id)
    report = Engine(job.urls, job_options(job, folder)).stored_report()
    if not job.crawl and len(job.urls) == 1:  # one page: a page report, as the run wrote it
        report.site = report.images = None
    written = _json(folder / FORMATS["json"].file_name)
    report.comparison = written.get("comparison")
    return report, apply_decisions(report, decisions)


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def review_items(store: JobStore, job: Job) -> list[dict[str, Any]]:
    """What a person can review in a finished job: each exportable suggestion (an ``alt`` to set, not
    decorative, on an image whose alt did not pass), with its current text and decision, and the
    person's alt it would replace where the exports hold it until it is accepted."""
    report = _json(store.job_dir(job.id) / FORMATS["json"].file_name)
    items: dict[str, dict[str, Any]] = {}
    for page in report.get("pages") or []:
        for image in page.get("images") or []:
            url, basis = image.get("url"), image.get("suggestion_basis")
            key = review_key(url, basis == LINK_TARGET)  # the name of where its link goes is decided apart
            if key not in items and applicable(image.get):  # the rule the exports follow; rejected ones too
                items[key] = {"url": url, "key": key, "basis": basis, "page": page.get("url"),
                              "text": image["suggested_alt"], "decision": image.get("decision"),
                              "replaces": _replaced(image)}  # fmt: skip
    return list(items.values())


def _replaced(image: dict[str, Any]) -> str | None:
    """The alt a person wrote that the suggestion would replace, where that waits for a review."""
    return image.get("alt") if needs_review(image.get) else None
