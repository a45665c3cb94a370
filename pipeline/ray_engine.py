"""The Ray engine (``--engine ray``): the same stage functions on Ray Data, the bookkeeping in the driver.

The driver keeps what the local engine keeps: the frontier, the state store, duplicate and skip
decisions, the page audit and the reports (``Engine._triage``, ``Engine._complete``). One Ray
Dataset runs the whole audit on the cluster; the frontier feeds it page URLs as it grows:

    frontier (driver) -> queue -> FrontierSource (a read task that streams URL batches)
              -> DiscoverStage (actors: ``AuditRun.discover``, within the cluster's per-host slots;
                 rendering where the workers have a browser; each image URL claimed once). The
                 page's links go straight back to the driver (the ``found`` queue), so the crawl
                 grows while the page's images are still on the cluster.
              -> PrepareStage (actors with a thread pool: ``AuditRun.download_image`` for each of
                 the page's images: fetch, decode, prepare for the model, read the text in the image)
              -> CaptionStage (an actor pool, each loading the model once; ``num_gpus=1`` on CUDA;
                 ``AuditRun.caption_images`` in model batches across the pages of a call)
              -> page rows back to the driver, which audits them.

A row is a page: its records as JSON state and its prepared model inputs as pickled arrays (never a
live PIL or model object). The page, not the image, is the unit of a row because Ray Data's cost
is per block, and a crawl's blocks must be one row each (below): image rows made the engine about
three times slower than the local one. Every failure is already data in the record (status and
reason); a worker or actor that dies is restarted by Ray and its call retried, and the driver
drops a retried page's second copy. Cluster-wide sharing lives in two small actors:
:class:`~pipeline.frontier.HostGate` (the per-host slots and ``Crawl-delay``) and
:class:`ImageLedger` (the first page that meets an image URL downloads it; later pages' records
copy its outcome in the driver).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

from options import OptionsError
from pipeline.engine import Engine
from pipeline.events import AuditEvent, ImageFinished, PageFinished
from pipeline.frontier import HostGate
from pipeline.page_stage import DiscoveredPage
from pipeline.ray_stages import (
    FLUSH,
    FLUSH_KIND,
    IO_ACTOR_CPUS,
    CaptionStage,
    DiscoverStage,
    FrontierSource,
    ImageLedger,
    PrepareStage,
    ensure_ray,
)
from records import PENDING, PageReport
from state.store import FAILED, UrlRow

log = logging.getLogger("altscout.ray")

PAGES_IN_FLIGHT = 64  # pages handed to the cluster and not yet audited, at least (bounds the driver's memory)
PAGES_PER_CALL = {"cpu": 3, "cuda": 64}  # pages a captioning call takes: enough images for full batches
IDLE_FLUSH_S = 0.25  # no row back for this long (at least): flush rows push a call's partial batch of pages
FLUSHES_PER_QUIET = 3  # at most this many flushes until a real row comes back
FOUND_POLL_S = 0.25  # how long the driver's reader waits on the found queue at a time


@dataclass
class _Assembly:
    """A page back from the cluster whose records wait for other pages' leaders."""

    page: PageReport
    waiting: int


def _pool(least: int, most: int) -> Any:
    """An actor pool; each actor runs one call at a time, the next ones queued beside it.

    (Ray Data 2.60 loses rows when an actor runs several calls at once with one-row blocks, so
    the stages get their parallelism from pages and threads inside a call.)
    """
    import ray.data

    return ray.data.ActorPoolStrategy(min_size=least, max_size=most, max_tasks_in_flight_per_actor=8)


class RayEngine(Engine):
    """The local engine's driver-side logic with the stages on Ray Data."""

    def _load_models(self) -> None:
        """The driver loads no model (the actors do), only the processor's pixel recipe; a fixed language's
        translator fails fast here."""
        from captioning.cache import caption_namespace
        from captioning.translate import AUTO, ENGLISH

        if any(self.run.is_folder(target) for target in self.targets):
            raise OptionsError("--engine ray audits web pages; caption local folders with --engine local")
        # Read once here and handed to the image actors, which then never load the processor themselves;
        # a model that cannot be read fails here, in one sentence, before the cluster is asked for anything.
        self.pixels = getattr(self.run.captioner, "pixel_recipe", lambda: None)()
        ensure_ray(self.options.ray_address)
        if self.options.lang not in (ENGLISH, AUTO):
            self.run.translator_for(self.options.lang).load()
        self.caption_key = caption_namespace(self.options.model, self.options.generation)
        self.run.captions_by_hash.update(self.store.captions(self.caption_key))  # the actors start with them

    def pages_per_caption_call(self) -> int:
        """Pages a captioning call takes: a page brings about 5 new images, a CPU batch is 16, a GPU's 1,024."""
        return PAGES_PER_CALL["cuda" if self.options.device == "cuda" else "cpu"]

    def pages_in_flight(self) -> int:
        """Pages on the cluster at most: the driver's memory bound, room for three calls per captioning actor."""
        return max(PAGES_IN_FLIGHT, 3 * self.pages_per_caption_call() * self.options.caption_actors)

    def caption_threads(self) -> int | None:
        """Threads of a CPU captioning actor: ``OMP_NUM_THREADS`` where the driver has it, else the
        largest node's CPUs shared by the captioning actors."""
        import ray

        if self.options.device == "cuda":
            return None
        if (given := os.environ.get("OMP_NUM_THREADS", "")).isdigit() and int(given) > 0:
            return int(given)
        cpus = max((node["Resources"].get("CPU", 1.0) for node in ray.nodes() if node.get("Alive")), default=1.0)
        return max(1, int(cpus) // max(1, self.options.caption_actors))

    def start_bookkeeping(self) -> None:
        """The driver's view of the pages on the cluster (empty at the start of a run)."""
        self.sent: dict[str, UrlRow] = {}  # handed to the cluster, discovery not back yet
        self.out: set[str] = set()  # handed to the cluster, page row not back yet
        self.kept: dict[str, bool] = {}  # discovery back: audited (True) or failed/skipped (False)
        self.early: dict[str, tuple[PageReport, list[int]]] = {}  # page rows back before their discovery
        self.assembling: dict[str, _Assembly] = {}
        self.followers: dict[str, list[tuple[str, int]]] = {}  # image URL -> (page, index) waiting for it
        self.rows_back: set[str] = set()
        self.closed = False

    def _run_stages(self) -> Iterator[AuditEvent]:
        """One dataset for the whole audit, fed by the frontier through a queue."""
        import ray
        from ray.util.queue import Queue

        self.queue = Queue(actor_options={"num_cpus": 0})
        self.found = Queue(actor_options={"num_cpus": 0})
        gate = ray.remote(HostGate).options(num_cpus=0, max_concurrency=1000).remote(self.options.per_host_pages)
        ledger = ray.remote(ImageLedger).options(num_cpus=0).remote()
        actors = [self.queue.actor, self.found.actor, gate, ledger]
        self.start_bookkeeping()
        stop = threading.Event()
        pump: threading.Thread | None = None
        try:
            first = self._next_urls()
            if not first[0]:
                return  # nothing to audit: no cluster work started
            inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
            rows = self._rows_with_flushes(self._dataset(gate, ledger), stop)
            pump = threading.Thread(target=self._pump_rows, args=(rows, inbox, stop), name="altscout-ray-rows")
            pump.daemon = True
            pump.start()
            self._send(*first)  # waits for the queue's actor to start, while the dataset's actors start too
            reader = threading.Thread(target=self._pump_found, args=(inbox, stop), name="altscout-ray-found")
            reader.daemon = True
            reader.start()
            while (item := inbox.get())[0] != "end":
                kind, value = item
                if kind == "error":
                    raise value
                yield from self._on_found(value) if kind == "found" else self._on_row(value)
                self._feed()
            stop.set()
            reader.join()
            while not inbox.empty():  # what the reader took after the last row
                kind, value = inbox.get()
                if kind == "found":
                    yield from self._on_found(value)
            for value in self.found.get_nowait_batch(self.found.qsize()):
                yield from self._on_found(value)
            yield from self._lost()
        finally:
            stop.set()
            if pump is not None and pump.is_alive():  # stopped (or failed) while the dataset runs
                ending = threading.Thread(target=self._end_stopped, args=(pump, actors), name="altscout-ray-stop")
                ending.daemon = True
                ending.start()
            else:
                for actor in actors:
                    ray.kill(actor)

    def _end_stopped(self, pump: threading.Thread, actors: list[Any]) -> None:
        """A run stopped early gives the cluster back: its dataset ends first, then its small actors go.

        Killing the queues under a running dataset failed it, and Ray Data 2.60 shuts a failed dataset
        down without killing its actors (they go when nothing refers to them any more); in the test
        suite a stopped run's actors kept their CPUs and the next run's captioning actor never started.
        So the source is closed (an idle dataset then ends normally), and the row thread stops at the
        next row, which closes the dataset's iterator: Ray Data then kills the stage actors at once.
        """
        import ray

        with contextlib.suppress(Exception):  # the queue's actor gone already: the dataset ends with it
            self.queue.put(None)
        pump.join()
        for actor in actors:
            ray.kill(actor)

    @staticmethod
    def _pump_rows(
        rows: Generator[dict[str, Any], None, None], inbox: queue.SimpleQueue[tuple[str, Any]], stop: threading.Event
    ) -> None:
        """The dataset's rows into the driver's inbox (a thread: the found queue is read beside it),
        until the dataset ends or the driver stops."""
        try:
            for row in rows:
                if stop.is_set():
                    return  # the run was stopped: closing ``rows`` (below) ends the dataset
                inbox.put(("row", row))
        except BaseException as exc:
            if not stop.is_set():
                inbox.put(("error", exc))  # raised again in the driver's loop
        else:
            inbox.put(("end", None))
        finally:
            rows.close()

    def _pump_found(self, inbox: queue.SimpleQueue[tuple[str, Any]], stop: threading.Event) -> None:
        """Discoveries (links, the page's fate) into the driver's inbox as soon as a worker sends them."""
        from ray.util.queue import Empty

        while not stop.is_set():
            try:
                inbox.put(("found", self.found.get(block=True, timeout=FOUND_POLL_S)))
            except Empty:
                continue
            except Exception:  # the run is ending and the queue with it
                return

    def _rows_with_flushes(self, dataset: Any, stop: threading.Event) -> Generator[dict[str, Any], None, None]:
        """The dataset's rows; when the cluster is quiet, flush rows fill a captioning call's partial batch of pages.

        A stage that takes N pages a call waits for N rows until its input ends, and a crawl's input
        ends only when the crawl does. So when the cluster has been quiet for ``IDLE_FLUSH_S``, a
        helper thread sends as many flush rows as the call takes, which pushes the waiting pages
        through (at most ``FLUSHES_PER_QUIET`` times until a real row comes back).
        """
        padding = self.pages_per_caption_call()
        quiet = {"since": time.monotonic(), "flushes_left": FLUSHES_PER_QUIET}
        gaps: deque[float] = deque(maxlen=16)  # recent waits between real rows: how long a call takes

        def flush_when_quiet() -> None:
            while not stop.wait(IDLE_FLUSH_S):
                # Quiet means longer than twice the slowest recent wait: a model busy with a call
                # is not a stalled call, and flush rows would only break the next calls up.
                patience = max(IDLE_FLUSH_S, 2 * max(gaps, default=0.0))
                idle = time.monotonic() - quiet["since"] >= patience
                if idle and quiet["flushes_left"] and not self.closed:
                    quiet["flushes_left"] -= 1
                    quiet["since"] = time.monotonic()
                    try:
                        self.queue.put([(FLUSH, "")] * padding)
                    except Exception:  # the run is ending and the queue with it
                        return

        if padding > 1:
            threading.Thread(target=flush_when_quiet, name="altscout-ray-flush", daemon=True).start()
        rows = iter(dataset.iter_rows())
        try:
            for out in rows:
                if out["kind"] != FLUSH_KIND:
                    now = time.monotonic()
                    gaps.append(now - quiet["since"])
                    quiet["since"], quiet["flushes_left"] = now, FLUSHES_PER_QUIET
                yield out
        finally:  # closed early (the run stopped): Ray Data shuts the executor down and kills the stage actors now
            close = getattr(rows, "close", None)
            if close is not None:
                close()

    def _feed(self) -> None:
        """Hand the frontier's next URLs to the cluster; close the source when the crawl is done."""
        self._send(*self._next_urls())

    def _next_urls(self) -> tuple[list[UrlRow], bool]:
        """The frontier's next URLs, as many as the pages in flight leave room for; and whether it ran out."""
        batch: list[UrlRow] = []
        while len(self.out) + len(self.assembling) + len(batch) < self.pages_in_flight():
            row = self.frontier.next()
            if row is None:
                return batch, True
            batch.append(row)
        return batch, False

    def _send(self, batch: list[UrlRow], exhausted: bool) -> None:
        """URLs onto the source's queue; ``None`` once the frontier is exhausted and no discovery is out."""
        if batch:
            self.sent.update((row.url, row) for row in batch)
            self.out.update(row.url for row in batch)
            carried = self.revisits.carried if self.revisits is not None else lambda url: ""
            self.queue.put([(row.url, carried(row.url)) for row in batch])
        elif exhausted and not self.sent and not self.closed:
            self.closed = True  # every discovery is back: no page can offer another link
            self.queue.put(None)

    def _dataset(self, gate: Any, ledger: Any) -> Any:
        import ray.data

        options = self.options.to_dict()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.target_max_block_size = 1  # a row is a block: pages stream one by one
        cuda = self.options.device == "cuda"
        workers = max(1, self.options.page_workers)
        return (
            ray.data.read_datasource(FrontierSource(self.queue), override_num_blocks=1, num_cpus=0)
            .map_batches(
                DiscoverStage,
                fn_constructor_kwargs={
                    "options": options,
                    "start_urls": self.start_urls,
                    "gate": gate,
                    "ledger": ledger,
                    "found": self.found,
                    "responses": self._responses(),
                },
                batch_size=1,
                compute=_pool(1, workers),
                num_cpus=IO_ACTOR_CPUS,
            )
            .map_batches(
                PrepareStage,
                fn_constructor_kwargs={"options": options, "responses": self._responses(), "pixels": self.pixels},
                batch_size=1,  # a page; its images are downloaded by the actor's threads at once
                compute=_pool(1, workers),
                num_cpus=IO_ACTOR_CPUS,
            )
            .map_batches(
                CaptionStage,
                fn_constructor_kwargs={
                    "options": options, "threads": self.caption_threads(), "known": dict(self.run.captions_by_hash)
                },
                batch_size=self.pages_per_caption_call(),
                compute=_pool(self.options.caption_actors, self.options.caption_actors),
                num_gpus=1 if cuda else 0,
            )
        )

    def _responses(self) -> tuple[str, str] | None:
        """The response store every actor of this node opens: the driver's folder and run."""
        return (str(self.revisits.folder), self.revisits.run_id) if self.revisits is not None else None

    def _on_found(self, found: dict[str, Any]) -> Iterator[AuditEvent]:
        """A page's discovery: its fate and its links now; its records when its row comes back."""
        url = str(found["url"])
        if url in self.kept:
            return  # a retried discovery's second message
        row = self.sent.pop(url)
        page = PageReport.from_state(found["page"])
        validators = tuple(found.get("validators") or (None, None))
        discovered = DiscoveredPage(
            page, self.run.page_bytes(), found["links"], found["canonical"], found.get("content_sha256"), validators,
            bool(found.get("unchanged")), str(found.get("read_with") or ""),
        )  # fmt: skip
        self.kept[url] = bool((yield from self._triage(row, discovered)))
        if self.kept[url] and self.revisits is not None:
            self.revisits.remember(url, discovered)
        if url in self.early:
            yield from self._assemble(url, *self.early.pop(url))

    def _on_row(self, out: dict[str, Any]) -> Iterator[AuditEvent]:
        """A page back from the cluster: its leaders' outcomes go to every page that waits for them."""
        url = str(out["page_url"])
        if out["kind"] == FLUSH_KIND or url in self.rows_back:
            return  # a flush row, or a retried call's second copy
        self.rows_back.add(url)
        self.out.discard(url)
        state = json.loads(out["state"])
        page = PageReport.from_state(state["page"])
        self.run.model_captions += state.get("model_captions", 0)
        for index in state["leads"]:
            record = page.images[index]
            if self.revisits is not None:
                self.revisits.image_done(record)
            outcome = self._share_outcome(record)
            for page_url, follower in self.followers.pop(record.source, []):
                assembly = self.assembling[page_url]
                self._copy_outcome(assembly.page.images[follower], outcome)
                assembly.waiting -= 1
                if not assembly.waiting:
                    yield from self._done(page_url)
        leads = set(state["leads"])
        follows = [i for i, record in enumerate(page.images) if record.status == PENDING and i not in leads]
        if url in self.kept:
            yield from self._assemble(url, page, follows)
        else:
            self.early[url] = (page, follows)

    def _assemble(self, url: str, page: PageReport, follows: list[int]) -> Iterator[AuditEvent]:
        """A kept page's records: copy what its followers' leaders found, wait for the rest."""
        if not self.kept[url]:
            return  # failed or skipped at discovery: kept (or not) by the triage
        waiting = 0
        for index in follows:
            record = page.images[index]
            if record.source in self.outcomes:
                self._copy_outcome(record, self.outcomes[record.source])
            else:
                self.followers.setdefault(record.source, []).append((url, index))
                waiting += 1
        self.assembling[url] = _Assembly(page, waiting)
        if not waiting:
            yield from self._done(url)

    def _done(self, url: str) -> Iterator[AuditEvent]:
        """Every record of the page is final: keep new captions, report the records, audit the page."""
        page = self.assembling.pop(url).page
        self._store_captions(page.images)
        for position, record in enumerate(page.images, start=1):
            yield ImageFinished(self.pages_done, record, position, len(page.images))
        yield from self._complete(url, page)

    def _lost(self) -> Iterator[AuditEvent]:
        """After the dataset ended: a page that never came back is kept as failed, never dropped."""
        lost = [url for url in self.out if self.kept.get(url, True)] + list(self.assembling)
        for url in dict.fromkeys(lost):
            log.error("page %s did not come back from the cluster", url)
            page = PageReport(url=url, status="failed", error="lost on the cluster", error_code="internal_error")
            self.assembling.pop(url, None)
            self._keep(url, page, FAILED, "internal_error", page.error)
            self.pages_done += 1
            yield PageFinished(self.pages_done - 1, page)
