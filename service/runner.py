"""Runs queued jobs: a fixed number of worker threads, one shared captioner, the one pipeline.

``run_job`` is the whole life of one job: rebuild its options (its own state database in the
job's folder, so a restarted job continues where it stopped), drain ``pipeline.audit``'s events
into progress, stop when cancelled, compare with the site's previous audit, write the reports and
record the outcome. ``JobRunner`` only claims jobs and calls it; it holds no audit logic.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditing.compare import compare
from captioning import Captioner, ModelLoadError
from options import AuditOptions, OptionsError, options_from_dict
from pipeline import AuditFinished, ImageFinished, PageFinished, PageStarted, audit
from pipeline.engine import SKIP_CODES
from records import CAPTIONED, AuditReport
from reports.formats import FORMATS
from scraper.browser import BrowserUnavailableError
from service.jobs import CANCELLED, DONE, FAILED, Job, JobStore, Limits
from service.submit import friendly
from state.history import carry_over
from state.store import AuditStore, StateMismatchError

SKIPPED_AS = {reason: code for code, reason in SKIP_CODES.items()}  # a skipped URL's reason -> its error code

log = logging.getLogger("altscout.service")

REPORT_FILES = {fmt.file_name: fmt.content_type for fmt in FORMATS.values()}  # what a job's folder serves
GALLERY_MAX = 200
PROGRESS_EVERY_S = 0.5

CaptionerFor = Callable[[AuditOptions], Captioner]


def job_options(job: Job, job_dir: Path) -> AuditOptions:
    """The job's stored options, with its own state database; a finished state is reported, not redone."""
    values = {**job.options, "state_path": str(job_dir / "state.db"), "reaudit_finished": False}
    return options_from_dict(values)


class _Progress:
    """Counts pages and images from the pipeline's events; writes them to the store now and then."""

    def __init__(self, store: JobStore, job: Job, state_path: Path) -> None:
        self.store, self.job_id = store, job.id
        self.pages_done = self.pages_known = self.images_done = self.images_known = 0
        if state_path.exists():  # a resumed job: what finished before the restart counts as done
            state = AuditStore(state_path)
            try:
                for page in state.pages():
                    self.pages_done += 1
                    self.images_done += len(page.images)
            finally:
                state.close()
            self.pages_known, self.images_known = self.pages_done, self.images_done
        self.last_write = 0.0

    def see(self, event: Any) -> None:
        """Update the counts from one event."""
        if isinstance(event, PageStarted):
            self.pages_known = max(self.pages_known, event.total, self.pages_done + 1)
        elif isinstance(event, ImageFinished):
            self.images_done += 1
            if event.done == 1:
                self.images_known += event.total
        elif isinstance(event, PageFinished):
            self.pages_done = max(self.pages_done, event.index + 1)
            self.pages_known = max(self.pages_known, self.pages_done)

    def write(self, force: bool = False) -> bool:
        """Store the counts (at most every PROGRESS_EVERY_S); True when the job was cancelled meanwhile."""
        now = time.monotonic()
        if not force and now - self.last_write < PROGRESS_EVERY_S:
            return False
        self.last_write = now
        return self.store.progress(
            self.job_id, self.pages_done, self.pages_known, self.images_done, max(self.images_known, self.images_done)
        )


def job_summary(report: AuditReport) -> dict[str, Any]:
    """What a job's status shows once it is done: the report's counts, the site's and the comparison's."""
    result = report.summary()
    if report.site:
        result["site"] = {
            key: report.site[key]
            for key in ("pages_discovered", "pages_audited", "pages_failed", "pages_skipped", "unique_images")
            if key in report.site
        }
        result["warnings"] = list(report.site.get("warnings", []))
    result["page_warnings"] = [warning for page in report.pages for warning in page.warnings][:20]
    failed = [page for page in report.pages if page.status != "ok"]
    if failed and len(report.pages) == 1:
        result["page_error"] = {"code": failed[0].error_code, "detail": failed[0].error}
    if failed:
        result["first_failure"] = {"url": failed[0].url, "code": failed[0].error_code, "detail": failed[0].error}
        result["pages_note"] = f"{len(failed)} of {len(report.pages)} page(s) could not be audited."
    elif report.site is not None and not report.pages:  # a crawl that audited nothing: why its start was skipped
        start = next((row for row in report.site.get("urls") or [] if row.get("via") == "start"), None)
        if start is not None:
            code = SKIPPED_AS.get(start.get("reason") or "", start.get("reason"))
            result["first_failure"] = {"url": start["url"], "code": code, "detail": start.get("detail")}
    result["rendered"] = bool(report.pages) and all(page.rendered for page in report.pages if page.status == "ok")
    left_out = {fmt.file_name: why for fmt in FORMATS.values() if (why := fmt.nothing_for(report)) is not None}
    if left_out:  # a platform's export for a site not on it: not written, and why
        result["not_written"] = left_out
    if report.comparison:
        result["comparison"] = dict(report.comparison["counts"])
    return result


def ending(summary: dict[str, Any]) -> tuple[str, str | None]:
    """A finished job's state and error: failed when no page could be audited (or a crawl's start was
    skipped: a robots.txt that disallows the site), else done."""
    pages, failed = summary.get("pages", 0), summary.get("pages_failed", 0)
    first = summary.get("first_failure") or {}
    if (not pages and not first) or failed < pages:
        return DONE, None
    why = friendly(first.get("code"), first.get("detail"))
    if pages <= 1:
        return FAILED, why
    return FAILED, f"None of the {pages} pages could be audited; the first, {first.get('url')}, said: {why}"


def write_job_reports(report: AuditReport, folder: Path, summary: dict[str, Any]) -> None:
    """Every report file, the gallery's thumbnails, the status summary, and report.json last (its
    presence means done: a job killed after it is recorded as done with the same summary)."""
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    left_out = summary.get("not_written") or {}  # a platform's export for a site not on it (job_summary)
    for fmt in FORMATS.values():
        if fmt.name != "json" and (report.site or not fmt.site_only) and fmt.file_name not in left_out:
            fmt.write(report, folder / fmt.file_name)
    thumbs = folder / "thumbs"
    thumbs.mkdir(exist_ok=True)
    gallery: list[dict[str, str]] = []
    shown: set[str] = set()  # an image on several pages is shown once
    for page in report.pages:
        for record in page.images:
            new = record.url not in shown
            if new and len(gallery) < GALLERY_MAX and record.status == CAPTIONED and record.thumbnail:
                shown.add(record.url)
                name = f"{len(gallery):04d}.jpg"
                (thumbs / name).write_bytes(record.thumbnail)
                gallery.append({"file": name, "caption": record.caption or "", "url": record.url})
    (folder / "gallery.json").write_text(json.dumps(gallery), encoding="utf-8")
    partial = folder / (FORMATS["json"].file_name + ".part")
    FORMATS["json"].write(report, partial)
    partial.replace(folder / FORMATS["json"].file_name)


@dataclass(frozen=True)
class JobOutcome:
    """How a run of a job ended: its final state, the report when done, the error sentence when failed."""

    state: str
    report: AuditReport | None = None
    error: str | None = None


def run_job(
    store: JobStore, job: Job, captioner_for: CaptionerFor, on_event: Callable[[Any], None] | None = None
) -> JobOutcome:
    """Run one claimed job to a final state. Never raises for the job's own failures."""
    folder = store.job_dir(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "report.json").exists():  # killed after the reports were written: it is done
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        state, error = ending(summary)
        store.finish(job.id, state, summary=summary, error=error)
        return JobOutcome(state, error=error)
    try:
        options = job_options(job, folder)
        earlier = store.previous_done(job)
        if earlier is not None and not options.refresh:  # a re-audit asks the site only what changed
            carry_over(store.job_dir(earlier.id) / "state.db", folder / "state.db")
        progress = _Progress(store, job, folder / "state.db")
        events = audit(job.urls, options, captioner_for(options))
        report: AuditReport | None = None
        try:
            for event in events:
                progress.see(event)
                if on_event is not None:
                    on_event(event)
                if isinstance(event, AuditFinished):
                    report = event.report
                elif progress.write():
                    events.close()
                    store.finish(job.id, CANCELLED, error="Cancelled before it finished.")
                    return JobOutcome(CANCELLED)
        finally:
            events.close()
        assert report is not None
        progress.write(force=True)
        if not job.crawl and len(job.urls) == 1:  # one page: a page report, as the CLI writes it
            report.site = report.images = None
        previous = store.previous_done(job)
        if previous is not None and (store.job_dir(previous.id) / "report.json").exists():
            previous_json = json.loads((store.job_dir(previous.id) / "report.json").read_text(encoding="utf-8"))
            report.comparison = compare(report, previous_json)
            report.comparison["previous_job"] = previous.id
        summary = job_summary(report)
        write_job_reports(report, folder, summary)
        state, error = ending(summary)
        store.finish(job.id, state, summary=summary, error=error)
        return JobOutcome(state, report, error)
    except (ModelLoadError, BrowserUnavailableError, StateMismatchError, OptionsError) as exc:
        log.warning("job %s failed: %s", job.id, exc)
        store.finish(job.id, FAILED, error=str(exc))
        return JobOutcome(FAILED, error=str(exc))
    except Exception:
        log.exception("job %s stopped on an internal error", job.id)
        error = "The audit stopped on an internal error; the server log has the details."
        store.finish(job.id, FAILED, error=error)
        return JobOutcome(FAILED, error=error)


class JobRunner:
    """``workers`` threads that claim queued jobs and run them; expiry of old jobs now and then."""

    def __init__(
        self,
        store: JobStore,
        captioner_for: CaptionerFor,
        workers: int = 1,
        key_limits: dict[str, Limits] | None = None,
        keep_days: float | None = 30.0,
        poll_s: float = 1.0,
    ) -> None:
        self.store = store
        self.captioner_for = captioner_for
        self.workers = workers
        self.key_limits = key_limits or {}
        self.keep_days = keep_days
        self.poll_s = poll_s
        self._wake = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._last_expiry = 0.0

    def start(self) -> list[str]:
        """Recover interrupted jobs, expire old ones, start the workers. The recovered ids."""
        recovered = self.store.recover()
        if recovered:
            log.info("resuming %d interrupted job(s)", len(recovered))
        self._expire()
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"altscout-job-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return recovered

    def wake(self) -> None:
        """A job was queued: let an idle worker look now."""
        with self._wake:
            self._wake.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming; wait for running jobs to end (tests)."""
        self._stopping = True
        self.wake()
        for thread in self._threads:
            thread.join(timeout)

    def _expire(self) -> None:
        if self.keep_days is None:
            return
        self._last_expiry = time.monotonic()
        expired = self.store.expire(self.keep_days)
        if expired:
            log.info("expired %d job(s) older than %s days", len(expired), self.keep_days)

    def _work(self) -> None:
        while not self._stopping:
            if time.monotonic() - self._last_expiry > 3600:
                self._expire()
            try:
                job = self.store.claim(self.key_limits)
            except Exception:  # a locked or broken database must not kill the worker
                log.exception("could not claim a job")
                job = None
            if job is None:
                with self._wake:
                    self._wake.wait(self.poll_s)
                continue
            run_job(self.store, job, self.captioner_for)
