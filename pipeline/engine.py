"""The local engine: pages flow through the stages concurrently, work is shared across pages.

:class:`Engine` runs every audit: a list of page URLs or local folders (the targets, audited as
given, in order), or with ``crawl`` a site grown from its start URLs by the frontier. Page workers
(``page_workers`` threads, ``per_host_pages`` per host, ``Crawl-delay`` honoured) run the page
stage; the image stage (download, decode, prepare) runs in the download pool (``download_workers``
threads, at least one per core when the model is on a GPU, where the threads hand pages and images
to worker processes: :mod:`pipeline.processes`); batches drawn from every open page go to the
captioner in the background (a full batch is staged behind the one running; an idle captioner takes
what is ready, from a quarter batch), and the caller's thread collects them in order and keeps the
state store. So while page N's images are captioned, later pages are fetched or rendered, their
images downloaded, and finished batches audited and stored: the model does not wait for the engine.

Sharing: an image URL met on many pages is downloaded once (later records wait for the first
and copy its outcome); identical bytes under several URLs are captioned once (by SHA-256, also
across restarts through the store). Memory is bounded by queues, not the site: at most
``2 x page_workers`` pages are fetched at once, more stay open only while images are short of two
batches (:func:`pipeline.batching.may_open_page`: a GPU's batch of 1,024 fills), at most
``2 x batch + threads`` images wait besides the two batches in flight, and finished pages live in
the store until the report is built.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditing import audit_page as audit_checks
from auditing.registry import issue_types
from auditing.site import SiteNames, name_the_site, site_images
from captioning import Captioner
from captioning.cache import caption_namespace
from captioning.translate import AUTO, ENGLISH
from options import AuditOptions
from options.preflight import ADDED_SCHEME, FELL_BACK
from pipeline.batching import batch_to_send, download_group, may_open_page
from pipeline.coverage import site_block
from pipeline.events import AuditEvent, AuditFinished, ImageFinished, PageFinished, PageStarted
from pipeline.frontier import Frontier, HostGate
from pipeline.heap import frozen_heap
from pipeline.in_flight import InFlight
from pipeline.page_stage import DiscoveredPage, PageChecks, typed_without_scheme
from pipeline.processes import StageProcesses
from pipeline.revisit import Revisits
from pipeline.stages import AuditRun, Prepared
from records import FINAL_STATUSES, PENDING, SHARED_FIELDS, AuditReport, ImageRecord, PageReport
from scraper.urls import Scope, normalise_url
from state.history import PreviousPage
from state.run_files import write_run_files
from state.shards import ShardWriter
from state.store import AUDITED, FAILED, QUEUED, AuditStore, StateMismatchError, UrlRow

log = logging.getLogger("altscout.site")

# Page failures that mean "not a page to audit" rather than "a page that failed".
SKIP_CODES = {"robots_disallowed": "robots", "redirect_out_of_scope": "redirect_out_of_scope", "not_html": "non_html"}


@dataclass
class _OpenPage:
    """A discovered page whose records are not all final yet."""

    row: UrlRow
    discovered: DiscoveredPage
    waiting: int
    done: int = 0  # records final so far, for the progress events

    @property
    def stashed(self) -> bool:
        """Whether the page holds a browser's responses in memory until it closes."""
        return getattr(self.discovered.source, "stash", None) is not None


class Engine:
    """One audit: targets or a frontier, page workers, shared image and caption work, a state store."""

    def __init__(self, urls: Iterable[str], options: AuditOptions, captioner: Captioner | None = None) -> None:
        self.options = options
        self.run = AuditRun(options, captioner)
        given = [u.strip() for u in urls if u and u.strip()]
        # A folder is named as its report names it ("./photos/" is "photos"), so its row ends when its page does.
        targets = list(dict.fromkeys(str(Path(u)) if self.run.is_folder(u) else u for u in given))
        # A crawl normalises its start URLs; a list of targets is audited exactly as given.
        self.targets = [normalise_url(u) for u in targets] if options.crawl else targets
        self.start_urls = [u for u in self.targets if not self.run.is_folder(u)]
        if options.shard_dir:
            Path(options.shard_dir).mkdir(parents=True, exist_ok=True)
        self.store = AuditStore(options.state_path)
        # Big runs: finished pages go to shard files (completed shards replayed into the store first).
        self.shards = ShardWriter(options.shard_dir, options.shard_pages, self.store) if options.shard_dir else None
        self.scope = Scope.for_start(self.start_urls, options.scope == "domain", options.include, options.exclude)
        self.frontier = Frontier(self.store, self.scope, options)
        self.gate = HostGate(options.per_host_pages)
        # The checks on each page request: what a person typed may be a page or an image, what a crawl found a page.
        why_out = self.scope.why_out if options.crawl else None
        self.checks, self.start_checks = PageChecks.for_url(why_out, False), PageChecks.for_url(why_out, True)
        self.site_report = options.crawl or options.state_path is not None
        self.open_pages: dict[str, _OpenPage] = {}
        self.stashed_open = 0  # open pages holding a browser's responses
        self.page_of: dict[int, str] = {}  # id(record) -> page URL
        self.outcomes: dict[str, dict[str, Any]] = {}  # image URL -> shared fields of its final record
        self.url_waiters: dict[str, list[ImageRecord]] = {}  # image URL in flight -> records waiting for it
        self.sha_followers: dict[str, list[ImageRecord]] = {}
        self.download_queue: deque[tuple[ImageRecord, DiscoveredPage]] = deque()
        self.ready: list[tuple[ImageRecord, Any]] = []
        # Batches sent to the captioner, oldest first: while one runs, the engine goes on (see submit_captions).
        self.captioning: deque[tuple[list[tuple[ImageRecord, Any]], Future[list[str]]]] = deque()
        self.pages_done = 0
        self.caption_key = ""
        self.revisits: Revisits | None = None  # set by _begin: the response store and the state's earlier runs

    # --- the flow --------------------------------------------------------------------

    def events(self) -> Iterator[AuditEvent]:
        """Run the audit to the end, yielding events; the last one carries the report."""
        started = time.monotonic()
        try:
            self._begin()
            with frozen_heap():  # the loaded models out of the collector's scans
                yield from self._run_stages()
                yield self._finished(started)
        finally:
            self.run.close()
            if self.shards is not None:
                self.shards.abandon()  # a stopped run: its open shard is redone by the next run

    def identity(self) -> dict[str, Any]:
        """What makes a state file this audit's: its start, crawl and scope."""
        options = self.options
        return {
            "start": self.targets,
            "crawl": options.crawl,
            "scope": options.scope,
            "include": list(options.include),
            "exclude": list(options.exclude),
        }

    def stored_report(self) -> AuditReport:
        """The report of the finished audit the state keeps, built without fetching or captioning anything
        (``--reports-only``). StateMismatchError when the state holds another audit or none finished."""
        stored = self.store.identity()
        if stored is None or not self.store.finished():
            raise StateMismatchError(
                f"{self.options.state_path} holds no finished audit; run the audit (without --reports-only) to "
                "finish it"
            )
        self.store.bind(self.identity())
        return self._report(self.store.meta("model") or {"id": self.options.model}, self.store.meta("elapsed_s") or 0)

    def _begin(self) -> None:
        """Bind the state, load the models and the worker processes, seed the frontier (or resume it)."""
        options = self.options
        resuming = self.store.bind(self.identity())
        if resuming and self.store.finished() and options.reaudit_finished and self.shards is None:  # audit again
            self.store.start_over()
            self.frontier = Frontier(self.store, self.scope, options)
            resuming = False
        self.revisits = Revisits(options, self.store, self.run, new_run=not resuming)
        self._load_models()
        self.run.stage_processes = StageProcesses.start(self.run)  # after the model: on a GPU by default
        if not resuming:
            for target in self.targets:
                if options.crawl:
                    self.frontier.offer(target, 0, "start")
                else:  # audited as given: no scope, extension or page-cap decision
                    self.store.add_url(target, 0, "start", None, QUEUED)
            if options.crawl:
                for url in self.start_urls:
                    typed = typed_without_scheme(url, options)
                    self.frontier.read_sitemaps(url, self.run.fetcher, self.run.robots, typed, self.run.responses)
        self.pages_done = self.shards.pages if self.shards is not None else self.store.page_count()

    def _load_models(self) -> None:
        """The captioner, a fixed language's translator, the browser and OCR, before any page."""
        options = self.options
        if not options.dry_run:  # a dry run captions, translates and reads no image
            self.run.captioner.load()
            if options.lang not in (ENGLISH, AUTO):
                self.run.translator_for(options.lang).load()  # a fixed language fails fast, before any page
        self.run.start_renderer()
        if not options.dry_run:
            self.run.start_ocr()
        self.caption_key = caption_namespace(self.run.captioner_id(), options.generation)
        self.run.captions_by_hash.update(self.store.captions(self.caption_key))

    def _run_stages(self) -> Iterator[AuditEvent]:
        """The local engine: page workers, the download pool, batches captioned in the background."""
        options = self.options
        batch_size = self.run.batch_size
        threads, download = self.run.download_threads, self.run.image_group_stage()
        capacity = 2 * batch_size + threads
        flight = InFlight()
        page_futures, image_futures = flight.pages, flight.images
        with (
            ThreadPoolExecutor(options.page_workers, thread_name_prefix="altscout-page") as page_pool,
            ThreadPoolExecutor(threads, thread_name_prefix="altscout-dl") as image_pool,
        ):
            while True:
                while self._may_open_page(len(page_futures), flight.images_in_flight, capacity):
                    row = self.frontier.next()
                    if row is None:
                        break
                    previous = self.revisits.previous(row.url) if self.revisits else None
                    flight.add_page(page_pool.submit(self._page_job, row, previous), row)
                while self.download_queue and (room := capacity - flight.images_in_flight - len(self.ready)) > 0:
                    count = min(room, download_group(len(self.download_queue), self.run.images_per_task))
                    group = [self.download_queue.popleft() for _ in range(count)]
                    task = image_pool.submit(download, [(record, page.source) for record, page in group])
                    flight.add_images(task, [record for record, _ in group])
                if self.captioning and self.captioning[0][1].done():  # batches finish in the order sent
                    yield from self.caption_images(*self.captioning.popleft())
                    continue
                drained = not image_futures and not self.download_queue
                if count := batch_to_send(len(self.ready), batch_size, len(self.captioning), drained):
                    batch, self.ready = self.ready[:count], self.ready[count:]
                    self.captioning.append((batch, self.run.submit_captions(batch)))
                    flight.watch(self.captioning[-1][1])
                    continue
                if not page_futures and not image_futures and not self.captioning:
                    break
                for future in flight.wait():  # a caption batch that ended is taken at the top of the loop
                    if future in page_futures:
                        row = page_futures.pop(future)  # type: ignore[arg-type]
                        yield from self._accept_page(row, future.result())  # type: ignore[arg-type]
                    elif future in image_futures:
                        for record, prepared in zip(flight.take_images(future), future.result(), strict=True):  # type: ignore[arg-type]
                            yield from self._accept_image(record, prepared)

    def _may_open_page(self, fetching: int, downloading: int, image_room: int) -> bool:
        """Whether to start another page now (the rule: :func:`pipeline.batching.may_open_page`)."""
        waiting = len(self.download_queue) + downloading + len(self.ready)
        return may_open_page(
            fetching, len(self.open_pages), self.stashed_open, waiting, self.options.page_workers, image_room
        )

    def _finished(self, started: float) -> AuditFinished:
        """The report, read back from the store (or, for sharded output, the files to build it from)."""
        if self.shards is not None:
            for url in self.shards.complete():
                self.frontier.done(url)
            site = self.site_block(with_urls=False) if self.site_report else None
            if site is not None and self.revisits is not None and (changes := self.revisits.changes()):
                site["changes"] = changes
            report = AuditReport(
                model=self.run.model_info(), site=site, elapsed_s=time.monotonic() - started, issue_types=issue_types()
            )
            folder = self.shards.folder
            write_run_files(folder, report, (row.to_dict() for row in self.store.urls()))
            return AuditFinished(report, shard_dir=str(folder))
        model, elapsed = self.run.model_info(), time.monotonic() - started
        self.store.put_meta("model", model)
        self.store.put_meta("elapsed_s", elapsed)
        self.store.put_meta("changes", self.revisits.changes() if self.revisits else None)
        return AuditFinished(self._report(model, elapsed))

    def _report(self, model: dict[str, Any], elapsed: float) -> AuditReport:
        """The report, read back from the store."""
        report = AuditReport(model=model, pages=list(self.store.pages()), issue_types=issue_types())
        names = SiteNames(report.pages)
        for page in report.pages:
            name_the_site(page, names)
        if self.site_report:
            report.images = site_images(report.pages)
            report.site = self.site_block()
            report.site["unique_images"] = len(report.images)
            if (changes := self.store.meta("changes")) is not None:
                report.site["changes"] = changes
        report.elapsed_s = elapsed
        return report

    def _page_job(self, row: UrlRow, previous: PreviousPage | None = None) -> DiscoveredPage:
        """Page worker: wait for the host's slot (and Crawl-delay), then run the page stage."""
        if self.run.is_folder(row.url):
            return self.run.folder_page(Path(row.url))
        with self.gate.slot(row.url, self.run.crawl_delay(row.url)):
            return self.run.page_stage()(row.url, self.start_checks if row.via == "start" else self.checks, previous)

    # --- pages -----------------------------------------------------------------------

    def _triage(self, row: UrlRow, discovered: DiscoveredPage) -> Iterator[AuditEvent]:
        """A page's discovery finished: keep a failed page, skip a duplicate, offer the links.

        Returns (as the generator's value) True when the page's images are to be audited.
        """
        page = discovered.page
        url = row.url
        if page.status != "ok":
            discovered.source.release()
            if self.options.crawl and page.error_code in SKIP_CODES:
                self.frontier.skip(url, SKIP_CODES[page.error_code], page.error)
                return False
            self._note_scheme(url, page)
            self._keep(url, page, FAILED, page.error_code, page.error)
            self.pages_done += 1
            yield PageFinished(self.pages_done - 1, page)
            return False
        found = discovered.page.final_url, discovered.canonical, discovered.content_sha256
        if self.options.crawl and (skip := self.frontier.duplicate(row, *found)) is not None:
            discovered.source.release()
            self.frontier.skip(url, *skip)
            return False
        if self.options.crawl:
            for link in discovered.links:
                self.frontier.offer(link, row.depth + 1, "link", url)
        total = self.frontier.admitted if self.options.crawl else len(self.targets)
        yield PageStarted(self.pages_done, total, url)
        return True

    def _accept_page(self, row: UrlRow, discovered: DiscoveredPage) -> Iterator[AuditEvent]:
        """A page's discovery finished: decide its fate, queue its images."""
        assert self.revisits is not None
        discovered = self.revisits.restore(discovered)  # an unchanged page: its stored discovery
        if not (yield from self._triage(row, discovered)):
            return
        self.revisits.remember(row.url, discovered)
        page = discovered.page
        url = row.url
        pending = [record for record in page.images if record.status == PENDING]
        open_page = self.open_pages[url] = _OpenPage(row, discovered, len(pending))
        self.stashed_open += open_page.stashed
        for record in page.images:  # final before any download: too small, over the limit, not fetchable
            if record.status != PENDING:
                open_page.done += 1
                yield ImageFinished(self.pages_done, record, open_page.done, len(page.images))
        if not pending:
            yield from self._close(url)
            return
        for record in pending:
            self.page_of[id(record)] = url
            if record.source in self.outcomes:
                self._copy_outcome(record, self.outcomes[record.source])
                yield from self._finish(record)
            elif record.source in self.url_waiters:
                self.url_waiters[record.source].append(record)
            else:
                self.url_waiters[record.source] = []
                self.download_queue.append((record, discovered))

    def _close(self, url: str) -> Iterator[AuditEvent]:
        """Every record of the page is final: audit it, keep it, report it."""
        open_page = self.open_pages.pop(url)
        self.stashed_open -= open_page.stashed
        open_page.discovered.source.release()
        yield from self._complete(url, open_page.discovered.page)

    def _complete(self, url: str, page: PageReport) -> Iterator[AuditEvent]:
        """The page stage's last step (any engine): checks and suggestions, translation, the store."""
        self._note_scheme(url, page)
        audit_checks(page, self.options.audit_settings)
        self.run.translate_page(page)
        self._keep(url, page, AUDITED)
        self.pages_done += 1
        yield PageFinished(self.pages_done - 1, page)

    def _note_scheme(self, url: str, page: PageReport) -> None:
        """A start URL typed without a scheme: the report says https:// was assumed (unless the page
        stage fell back to http:// and said so)."""
        fell_back = any(warning.startswith(FELL_BACK) for warning in page.warnings)
        if typed_without_scheme(url, self.options) and not fell_back:
            page.warnings.insert(0, ADDED_SCHEME.format(url=url))

    def _keep(
        self, url: str, page: PageReport, status: str, reason: str | None = None, detail: str | None = None
    ) -> None:
        """A finished page to the store, or to the open shard (its URL is done when the shard is)."""
        if self.shards is None:
            self.store.save_page(page, status, reason, detail)
            self.frontier.done(url)
            return
        for committed in self.shards.add(url, page, status, reason, detail):
            self.frontier.done(committed)

    # --- images ----------------------------------------------------------------------

    def _accept_image(self, record: ImageRecord, prepared: Prepared | None) -> Iterator[AuditEvent]:
        """An image was downloaded and prepared (or failed): caption it, or share a known caption."""
        if prepared is None:
            yield from self._finish(record)
        elif (known := self.run.known_caption(prepared.sha256)) is not None:
            record.set_caption(*known)
            yield from self._finish(record)
        elif prepared.sha256 in self.sha_followers:
            self.sha_followers[prepared.sha256].append(record)
        else:
            self.sha_followers[prepared.sha256] = []
            self.ready.append((record, prepared.model_input))

    def caption_images(
        self, batch: list[tuple[ImageRecord, Any]], submitted: Future[list[str]]
    ) -> Iterator[AuditEvent]:
        """A batch from any open pages is captioned: finish its records, keep new captions in the store."""
        finished = list(self.run.caption_images(batch, self.sha_followers, submitted))
        self._store_captions(record for record, _ in batch)
        for record in finished:
            yield from self._finish(record)

    def _store_captions(self, records: Iterable[ImageRecord]) -> None:
        """New captions into the store, by image hash (a rerun reuses them)."""
        self.store.put_captions(
            self.caption_key,
            [(r.sha256, r.caption, r.raw_caption or "") for r in records if r.sha256 and r.caption],
        )

    def _share_outcome(self, record: ImageRecord) -> dict[str, Any]:
        """A leading record is final: its shared fields, kept for later records of its URL."""
        outcome = self.outcomes[record.source] = {name: getattr(record, name) for name in SHARED_FIELDS}
        return outcome

    @staticmethod
    def _copy_outcome(record: ImageRecord, outcome: dict[str, Any]) -> None:
        for name, value in outcome.items():
            setattr(record, name, value)

    def _finish(self, record: ImageRecord) -> Iterator[AuditEvent]:
        """A record is final: share its outcome with records of the same URL, count it for its page."""
        assert record.status in FINAL_STATUSES
        if self.revisits is not None:
            self.revisits.image_done(record)
        outcome = self._share_outcome(record)
        for follower in self.url_waiters.pop(record.source, []):
            self._copy_outcome(follower, outcome)
            yield from self._count(follower)
        yield from self._count(record)

    def _count(self, record: ImageRecord) -> Iterator[AuditEvent]:
        url = self.page_of.pop(id(record))
        open_page = self.open_pages[url]
        open_page.waiting -= 1
        page = open_page.discovered.page
        open_page.done += 1
        yield ImageFinished(self.pages_done, record, open_page.done, len(page.images))
        if open_page.waiting == 0:
            yield from self._close(url)

    def site_block(self, with_urls: bool = True) -> dict[str, Any]:
        """Coverage: counts by status and reason, and every URL met with its status (unless left out)."""
        return site_block(
            self.store, self.options, self.start_urls, self.frontier.warnings, self.run.model_captions, with_urls
        )
