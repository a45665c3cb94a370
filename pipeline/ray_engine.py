"""The Ray engine (``--engine ray``): the same stage functions on Ray Data, the bookkeeping in the driver.

The driver keeps what the local engine keeps: the frontier, the state store, duplicate and skip
decisions, the page audit and the reports (``Engine._triage``, ``Engine._complete``). One Ray
Dataset runs the whole audit on the cluster; the frontier feeds it page URLs as it grows:

    frontier (driver) -> queue -> FrontierSource (a read task that streams URL batches)
              -> DiscoverStage (actors: ``AuditRun.discover``, within the cluster's per-host slots;
                 rendering where the workers have a browser; each image URL claimed once)
              -> PrepareStage (actors with a thread pool: ``AuditRun.download_image``: fetch, decode,
                 prepare for the model, read the text in the image)
              -> CaptionStage (an actor pool, each loading the model once; ``num_gpus=1`` on CUDA;
                 ``AuditRun.caption_images`` in batches)
              -> rows back to the driver, which reassembles pages, audits them and feeds the
                 frontier's next URLs (the page's links) to the queue.

So a crawl's discovery, downloads and captioning overlap on the cluster, as they do locally, and
the caption model is loaded once per actor for the whole audit. Rows are plain data: a kind
(``page``, ``image`` or ``follow``), the page URL, the record's index, its state as JSON, and the
model's input as pickled bytes (never a live PIL or model object). Every failure is already data
in the record (status and reason); a worker or actor that dies is restarted by Ray and its batch
retried. Cluster-wide sharing lives in two small actors: :class:`HostGate` (the local engine's
per-host slots and ``Crawl-delay``) and :class:`ImageLedger` (the first page that meets an image
URL downloads it; later records are ``follow`` rows that copy its outcome in the driver).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from options import OptionsError, options_from_dict

try:
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask
except ImportError as exc:  # pragma: no cover - the base install has no Ray
    raise OptionsError("--engine ray needs Ray: pip install -r requirements-ray.txt") from exc
from pipeline.engine import SHARED_FIELDS, Engine
from pipeline.events import AuditEvent, ImageFinished
from pipeline.frontier import HostGate
from pipeline.page_stage import DiscoveredPage, PageBytes, PageChecks
from pipeline.stages import AuditRun
from records import PENDING, ImageRecord, PageReport
from scraper.urls import Scope, is_html_type
from store import UrlRow

log = logging.getLogger("altscout.ray")

ROOT = Path(__file__).resolve().parent.parent
PAGES_IN_FLIGHT = 64  # pages handed to the cluster and not yet audited (bounds the driver's memory)
PAGE, IMAGE, FOLLOW, FLUSH_KIND = "page", "image", "follow", "flush"
FLUSH = ""  # the source's flush row (Ray Data holds back a read task's last row until the next)
IO_ACTOR_CPUS = 0.25  # discovery and image actors mostly wait on the network; captioning takes whole CPUs
IDLE_FLUSH_S = 0.25  # no row back for this long (at least): flush rows push partial batches through
FLUSHES_PER_QUIET = 3  # at most this many flushes until a real row comes back


def ensure_ray(address: str | None) -> None:
    """Connect to the cluster (``--ray-address``, else ``RAY_ADDRESS``), or start a local Ray."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    target = address or os.environ.get("RAY_ADDRESS") or "local"
    runtime_env = {"env_vars": {"PYTHONPATH": str(ROOT)}} if target == "local" else None
    ray.init(
        address=target,
        runtime_env=runtime_env,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _row(kind: str, page_url: str, index: int, state: dict[str, Any], prepared: bytes = b"") -> dict[str, Any]:
    return {"kind": kind, "page_url": page_url, "index": index, "state": json.dumps(state), "prepared": prepared}


def _rows(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """A Ray Data batch (columns) as rows."""
    keys = list(batch)
    return [dict(zip(keys, values, strict=True)) for values in zip(*(batch[key] for key in keys), strict=True)]


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {"kind": [], "page_url": [], "index": [], "state": [], "prepared": []}
    for row in rows:
        for key in columns:
            columns[key].append(row[key])
    return columns


class ImageLedger:
    """Which image URLs the cluster has taken on: the first page to claim a URL downloads it.

    A claim is idempotent per page, so a discovery batch that Ray retries after a worker died
    claims the same URLs again and still leads them.
    """

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}

    def claim(self, page_url: str, image_urls: list[str]) -> list[bool]:
        """For each image URL: True when this page leads it (downloads it), False when it follows."""
        return [self._owner.setdefault(url, page_url) == page_url for url in image_urls]


class FrontierSource(Datasource):
    """A Ray Data source fed by the driver: URL batches from a queue, until ``None``.

    Ray Data holds back a read task's last row until the next one arrives, so each batch ends with
    a :data:`FLUSH` row; the stages pass it on (a stage that outputs no rows stalls the stream) and
    the driver drops it.
    """

    def __init__(self, queue: Any) -> None:
        super().__init__()
        self.queue = queue

    def estimate_inmemory_data_size(self) -> int | None:
        """Unknown: the crawl decides."""
        return None

    def get_read_tasks(self, parallelism: int, *args: Any, **kwargs: Any) -> list[ReadTask]:
        """One task that streams the queue."""
        import pyarrow as pa

        queue = self.queue

        def read() -> Iterator[Any]:
            while (urls := queue.get(block=True)) is not None:
                yield pa.table({"url": [*urls, FLUSH]})

        return [ReadTask(read, BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None))]


class DiscoverStage:
    """The page stage on a worker: discovery (and rendering when the worker has a browser)."""

    def __init__(self, options: dict[str, Any], start_urls: list[str], gate: Any, ledger: Any) -> None:
        self.options = options_from_dict(options)
        self.run = AuditRun(self.options)
        self.run.start_renderer()
        scope = Scope.for_start(start_urls, self.options.scope == "domain", self.options.include, self.options.exclude)
        self.checks = PageChecks(scope.why_out, is_html_type) if self.options.crawl else None
        self.gate, self.ledger = gate, ledger

    def _discover(self, url: str) -> DiscoveredPage:
        """Discovery within the cluster's slot for the host (``--per-host``, ``Crawl-delay``)."""
        import ray

        ray.get(self.gate.acquire.remote(url, self.run.crawl_delay(url)))
        try:
            return self.run.discover(url, self.checks)
        finally:
            self.gate.release.remote(url)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        import ray

        out: list[dict[str, Any]] = []
        for url in map(str, batch["url"]):
            if url == FLUSH:  # passed on, never dropped: an empty output stalls Ray Data's stream here
                out.append(_row(FLUSH_KIND, "", 0, {}))
                continue
            discovered = self._discover(url)
            discovered.source.release()  # the browser's bytes stay on this worker: images are fetched again
            page = discovered.page
            pending = [i for i, record in enumerate(page.images) if record.status == PENDING]
            leads = ray.get(self.ledger.claim.remote(page.url, [page.images[i].source for i in pending]))
            state = {"page": page.to_state(), "links": discovered.links, "canonical": discovered.canonical}
            out.append(_row(PAGE, page.url, len(pending), state))
            out.extend(
                _row(IMAGE if lead else FOLLOW, page.url, i, page.images[i].to_state())
                for i, lead in zip(pending, leads, strict=True)
            )
        return _columns(out)


class PrepareStage:
    """The image stage on a worker: fetch, decode, prepare for the model, read the text (threads inside)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options_from_dict(options)
        self.run = AuditRun(self.options)
        self.run.start_ocr()
        self.pool = ThreadPoolExecutor(self.options.download_workers, thread_name_prefix="altscout-ray-dl")

    def _one(self, row: dict[str, Any]) -> dict[str, Any]:
        if row["kind"] != IMAGE:
            return row
        record = ImageRecord.from_state(json.loads(row["state"]))
        prepared = self.run.download_image(record, PageBytes(self.run.fetcher))
        payload = pickle.dumps((prepared.sha256, prepared.model_input)) if prepared is not None else b""
        return {**row, "state": json.dumps(record.to_state()), "prepared": payload}

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        return _columns(list(self.pool.map(self._one, _rows(batch))))


class CaptionStage:
    """Captioning on an actor that loads the model once; batches of prepared images (flush rows pass)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options_from_dict(options)
        self.run = AuditRun(self.options)
        self.run.captioner.load()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows = _rows(batch)
        todo: list[tuple[int, ImageRecord, Any]] = []
        for position, row in enumerate(rows):
            if row["kind"] == IMAGE and row["prepared"]:
                sha256, model_input = pickle.loads(row["prepared"])
                record = ImageRecord.from_state(json.loads(row["state"]))
                record.sha256 = sha256
                todo.append((position, record, model_input))
        # Identical bytes are captioned once per actor: a caption this actor made is reused, and the
        # same bytes twice in a batch follow the first (the stage function shares the outcome).
        fresh: list[tuple[ImageRecord, Any]] = []
        followers: dict[str, list[ImageRecord]] = {}
        for _, record, model_input in todo:
            sha256 = record.sha256 or ""
            if not sha256:
                fresh.append((record, model_input))
            elif (known := self.run.known_caption(sha256)) is not None:
                record.set_caption(*known)
            elif sha256 in followers:
                followers[sha256].append(record)
            else:
                followers[sha256] = []
                fresh.append((record, model_input))
        size = self.run.batch_size
        for start in range(0, len(fresh), size):
            list(self.run.caption_images(fresh[start : start + size], followers))
        for position, record, _ in todo:
            rows[position] = {**rows[position], "state": json.dumps(record.to_state()), "prepared": b""}
        return _columns(rows)


@dataclass
class _Assembly:
    """A page whose discovery came back: its records as they return from the cluster."""

    row: UrlRow
    page: PageReport
    expected: int
    arrived: dict[int, ImageRecord] = field(default_factory=dict)


def _pool(least: int, most: int) -> Any:
    """An actor pool; each actor runs one call at a time, the next ones queued beside it.

    (Ray Data 2.60 loses rows when an actor runs several calls at once with one-row blocks, so
    the stages get their parallelism from batches and threads inside a call.)
    """
    import ray.data

    return ray.data.ActorPoolStrategy(min_size=least, max_size=most, max_tasks_in_flight_per_actor=8)


class RayEngine(Engine):
    """The local engine's driver-side logic with the stages on Ray Data."""

    def _load_models(self) -> None:
        """The driver loads no captioner (the actors do); a fixed language's translator fails fast here."""
        from captioning.cache import caption_namespace
        from captioning.translate import AUTO, ENGLISH

        if any(self.run.is_folder(target) for target in self.targets):
            raise OptionsError("--engine ray audits web pages; caption local folders with --engine local")
        ensure_ray(self.options.ray_address)
        if self.options.lang not in (ENGLISH, AUTO):
            self.run.translator_for(self.options.lang).load()
        self.caption_key = caption_namespace(self.options.model, self.options.generation)

    def _run_stages(self) -> Iterator[AuditEvent]:
        """One dataset for the whole audit, fed by the frontier through a queue."""
        import ray
        from ray.util.queue import Queue

        self.queue = Queue(actor_options={"num_cpus": 0})
        gate = ray.remote(HostGate).options(num_cpus=0, max_concurrency=1000).remote(self.options.per_host_pages)
        ledger = ray.remote(ImageLedger).options(num_cpus=0).remote()
        self.sent: dict[str, UrlRow] = {}  # handed to the cluster, discovery not back yet
        self.assembling: dict[str, _Assembly] = {}
        self.early: dict[str, list[tuple[int, ImageRecord]]] = {}  # image rows ahead of their page row
        self.followers: dict[str, list[tuple[str, int, ImageRecord]]] = {}  # image URL -> rows waiting for it
        self.seen_pages: set[str] = set()
        self.closed = False
        try:
            if not self._feed():
                return
            for out in self._rows_with_flushes(self._dataset(gate, ledger)):
                yield from self._accept_row(out)
                self._feed()
        finally:
            for actor in (self.queue.actor, gate, ledger):
                ray.kill(actor)

    def _rows_with_flushes(self, dataset: Any) -> Iterator[dict[str, Any]]:
        """The dataset's rows; while none come and the source is open, flush rows fill partial batches.

        A stage with ``batch_size`` N waits for N rows until its input ends, and a crawl's input
        ends only when the crawl does. So when the cluster has been quiet for ``IDLE_FLUSH_S``, a
        helper thread sends as many flush rows as the largest batch, which pushes the waiting rows
        through (at most ``FLUSHES_PER_QUIET`` times until a real row comes back).
        """
        padding = max(self.options.download_workers, self.run.batch_size)
        quiet = {"since": time.monotonic(), "flushes_left": FLUSHES_PER_QUIET}
        gaps: deque[float] = deque(maxlen=16)  # recent waits between real rows: how long a batch takes
        stop = threading.Event()

        def flush_when_quiet() -> None:
            while not stop.wait(IDLE_FLUSH_S):
                # Quiet means longer than twice the slowest recent wait: a model busy with a batch
                # is not a stalled batch, and flush rows would only break the next batches up.
                patience = max(IDLE_FLUSH_S, 2 * max(gaps, default=0.0))
                idle = time.monotonic() - quiet["since"] >= patience
                if idle and quiet["flushes_left"] and not self.closed:
                    quiet["flushes_left"] -= 1
                    quiet["since"] = time.monotonic()
                    try:
                        self.queue.put([FLUSH] * padding)
                    except Exception:  # the run is ending and the queue with it
                        return

        threading.Thread(target=flush_when_quiet, name="altscout-ray-flush", daemon=True).start()
        try:
            for out in dataset.iter_rows():
                if out["kind"] != FLUSH_KIND:
                    now = time.monotonic()
                    gaps.append(now - quiet["since"])
                    quiet["since"], quiet["flushes_left"] = now, FLUSHES_PER_QUIET
                yield out
        finally:
            stop.set()

    def _feed(self) -> bool:
        """Hand the frontier's next URLs to the cluster; close the source when the crawl is done.

        Returns False when there was nothing to do at all.
        """
        batch: list[UrlRow] = []
        exhausted = False
        while len(self.sent) + len(self.assembling) + len(batch) < PAGES_IN_FLIGHT:
            row = self.frontier.next()
            if row is None:
                exhausted = True
                break
            batch.append(row)
        if batch:
            self.sent.update((row.url, row) for row in batch)
            self.queue.put([row.url for row in batch])
            return True
        if exhausted and not self.sent and not self.closed:
            self.closed = True
            self.queue.put(None)
            return bool(self.assembling)
        return True

    def _dataset(self, gate: Any, ledger: Any) -> Any:
        import ray.data

        options = self.options.to_dict()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.target_max_block_size = 1  # a row is a block: pages and images stream one by one
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
                },
                batch_size=1,
                compute=_pool(1, workers),
                num_cpus=IO_ACTOR_CPUS,
            )
            .map_batches(
                PrepareStage,
                fn_constructor_kwargs={"options": options},
                batch_size=self.options.download_workers,  # downloaded by the actor's threads at once
                compute=_pool(1, workers),
                num_cpus=IO_ACTOR_CPUS,
            )
            .map_batches(
                CaptionStage,
                fn_constructor_kwargs={"options": options},
                batch_size=self.run.batch_size,
                compute=_pool(self.options.caption_actors, self.options.caption_actors),
                num_gpus=1 if cuda else 0,
            )
        )

    def _accept_row(self, out: dict[str, Any]) -> Iterator[AuditEvent]:
        """One row back from the cluster: a page's discovery, or one of its records."""
        if out["kind"] == FLUSH_KIND:
            return
        url = str(out["page_url"])
        state = json.loads(out["state"])
        if out["kind"] == PAGE:
            if url in self.seen_pages:
                return  # a retried batch's second copy
            self.seen_pages.add(url)
            row = self.sent.pop(url)
            page = PageReport.from_state(state["page"])
            discovered = DiscoveredPage(page, PageBytes(self.run.fetcher), state["links"], state["canonical"])
            if not (yield from self._triage(row, discovered)):
                self.early.pop(url, None)
                return
            self.assembling[url] = assembly = _Assembly(row, page, int(out["index"]))
            for index, record in self.early.pop(url, []):
                assembly.arrived[index] = record
            yield from self._maybe_done(url)
            return
        record = ImageRecord.from_state(state)
        index = int(out["index"])
        if out["kind"] == IMAGE:
            outcome = {name: getattr(record, name) for name in SHARED_FIELDS}
            self.outcomes[record.source] = outcome
            for page_url, follower_index, follower in self.followers.pop(record.source, []):
                self._copy_outcome(follower, outcome)
                yield from self._arrive(page_url, follower_index, follower)
        elif record.source in self.outcomes:
            self._copy_outcome(record, self.outcomes[record.source])
        else:  # its leader is still on the cluster
            self.followers.setdefault(record.source, []).append((url, index, record))
            return
        yield from self._arrive(url, index, record)

    def _arrive(self, page_url: str, index: int, record: ImageRecord) -> Iterator[AuditEvent]:
        """A final record for a page (kept until its page row is back, dropped if the page was)."""
        if page_url in self.assembling:
            self.assembling[page_url].arrived[index] = record
            yield from self._maybe_done(page_url)
        elif page_url not in self.seen_pages:
            self.early.setdefault(page_url, []).append((index, record))

    def _maybe_done(self, url: str) -> Iterator[AuditEvent]:
        assembly = self.assembling[url]
        if len(assembly.arrived) < assembly.expected:
            return
        del self.assembling[url]
        page = assembly.page
        for index, record in assembly.arrived.items():
            page.images[index] = record
        self.store.put_captions(
            self.caption_key,
            [(r.sha256, r.caption, r.raw_caption or "") for r in assembly.arrived.values() if r.sha256 and r.caption],
        )
        for position, record in enumerate(page.images, start=1):
            yield ImageFinished(self.pages_done, record, position, len(page.images))
        yield from self._complete(url, page)
