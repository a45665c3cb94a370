"""The Ray engine's cluster side: the stage actors, the frontier's read task and the rows they pass.

Each stage is a callable class Ray Data runs in an actor pool, calling the same stage functions as
the local engine (:mod:`pipeline.stages`): :class:`DiscoverStage` (``AuditRun.discover``),
:class:`PrepareStage` (``AuditRun.download_image``), :class:`CaptionStage`
(``AuditRun.caption_images``). :class:`FrontierSource` streams the driver's URL batches into the
dataset; :class:`ImageLedger` claims each image URL once across the cluster. A row is a page (see
:mod:`pipeline.ray_engine`, the driver).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from options import OptionsError, options_from_dict

try:
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask
except ImportError as exc:  # pragma: no cover - the base install has no Ray
    raise OptionsError("--engine ray needs Ray: pip install -r requirements-ray.txt") from exc
from pipeline.page_stage import DiscoveredPage, PageChecks
from pipeline.revisit import restore
from pipeline.stages import AuditRun
from records import PENDING, ImageRecord, PageReport
from scraper.urls import Scope
from state.history import from_carried

log = logging.getLogger("altscout.ray")

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
PAGE, FLUSH_KIND = "page", "flush"
FLUSH = ""  # the source's flush row (Ray Data holds back a read task's last row until the next)
IO_ACTOR_CPUS = 0.25  # discovery and image actors mostly wait on the network; captioning takes whole CPUs


def ensure_ray(address: str | None) -> None:
    """Connect to the cluster (``--ray-address``, else ``RAY_ADDRESS``), or start a local Ray."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    target = address or os.environ.get("RAY_ADDRESS") or "local"
    check_cluster_answers(target, "--ray-address" if address else "RAY_ADDRESS")
    runtime_env = {"env_vars": {"PYTHONPATH": str(ROOT)}} if target == "local" else None
    if target == "local":  # token authentication is Ray's default for a new local cluster: kept, not announced
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    ray.init(
        address=target,
        runtime_env=runtime_env,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # AltScout draws its own progress


def check_cluster_answers(address: str, given_as: str, timeout_s: float = 5.0) -> None:
    """A cluster address where nothing answers is one sentence within seconds; ``ray.init`` would retry
    for about a quarter of an hour. ``local``, ``auto`` and other schemes are left to Ray.

    This probe dials the operator's own cluster, never an audited site: site bytes go through
    :mod:`scraper.net` only.
    """
    if address in ("local", "auto") or ("://" in address and not address.startswith("ray://")):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise OptionsError(f"{given_as} {address} is not a Ray cluster address; give HOST:PORT (the head's GCS "
                           "port, 6379 by default) or ray://HOST:10001")  # fmt: skip
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        why = exc.strerror or ("no answer" if isinstance(exc, TimeoutError) else type(exc).__name__)
        raise OptionsError(f"{given_as} {address}: no Ray cluster answers there ({why}); start one with "
                           "`ray start --head` and give the address it prints, or leave it out for a local Ray"
                           ) from None  # fmt: skip


def _row(kind: str, page_url: str, state: dict[str, Any], prepared: bytes = b"") -> dict[str, Any]:
    return {"kind": kind, "page_url": page_url, "state": json.dumps(state), "prepared": prepared}


def _rows(batch: dict[str, Any]) -> list[dict[str, Any]]:
    """A Ray Data batch (columns) as rows."""
    keys = list(batch)
    return [dict(zip(keys, values, strict=True)) for values in zip(*(batch[key] for key in keys), strict=True)]


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {"kind": [], "page_url": [], "state": [], "prepared": []}
    for row in rows:
        for key in columns:
            columns[key].append(row[key])
    return columns


def normal_priority() -> bool:
    """Ask for the normal CPU priority for this thread and the threads it starts (the model's).

    Ray starts worker processes at nice 15 (``RAY_worker_niceness``). PyTorch's thread team waits
    at a barrier after every parallel operation, so one preempted thread stalls the others: on 2
    cores the tiny test BLIP captioned at 0.9 cores busy and 8-10x slower in an actor at nice 15
    than at nice 0. Raising the priority needs the privilege to (root, ``CAP_SYS_NICE``); without
    it a warning says how to start the cluster instead.
    """
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) > 0:
            os.setpriority(os.PRIO_PROCESS, 0, 0)
        return True
    except OSError:
        log.warning("captioning runs at Ray's low worker priority: start Ray with RAY_worker_niceness=0")
        return False


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
            while (rows := queue.get(block=True)) is not None:  # (URL, what an earlier run read from it)
                yield pa.table({"url": [url for url, _ in rows] + [FLUSH], "previous": [p for _, p in rows] + [""]})

        return [ReadTask(read, BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None))]


class DiscoverStage:
    """The page stage on a worker: discovery (and rendering when the worker has a browser)."""

    def __init__(
        self,
        options: dict[str, Any],
        start_urls: list[str],
        gate: Any,
        ledger: Any,
        found: Any,
        responses: tuple[str, str] | None = None,
    ) -> None:
        self.options = options_from_dict(options)
        self.run = AuditRun(self.options)
        if responses is not None:  # the driver's response store folder and run: the node's processes share it
            self.run.open_responses(Path(responses[0]), responses[1])
        self.run.start_renderer()
        scope = Scope.for_start(start_urls, self.options.scope == "domain", self.options.include, self.options.exclude)
        why_out = scope.why_out if self.options.crawl else None
        self.checks, self.start_checks = PageChecks.for_url(why_out, False), PageChecks.for_url(why_out, True)
        self.start_urls = set(start_urls)
        self.gate, self.ledger, self.found = gate, ledger, found

    def _discover(self, url: str, carried: str) -> DiscoveredPage:
        """Discovery within the cluster's slot for the host (``--per-host``, ``Crawl-delay``); on a
        re-audit the request is conditional and an unchanged page is its stored discovery."""
        import ray

        earlier = from_carried(carried)
        ray.get(self.gate.acquire.remote(url, self.run.crawl_delay(url)))
        try:
            checks = self.start_checks if url in self.start_urls else self.checks
            discovered = self.run.discover(url, checks, earlier[0] if earlier else None)
        finally:
            self.gate.release.remote(url)
        return restore(discovered, earlier[1] if earlier else None)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        import ray

        out: list[dict[str, Any]] = []
        for url, carried in zip(map(str, batch["url"]), map(str, batch["previous"]), strict=True):
            if url == FLUSH:  # passed on, never dropped: an empty output stalls Ray Data's stream here
                out.append(_row(FLUSH_KIND, "", {}))
                continue
            discovered = self._discover(url, carried)
            discovered.source.release()  # the image stage reads the bytes from the node's response store
            page = discovered.page
            pending = [i for i, record in enumerate(page.images) if record.status == PENDING]
            claims = ray.get(self.ledger.claim.remote(url, [page.images[i].source for i in pending])) if pending else []
            page_state = page.to_state()
            # The driver decides the page's fate and grows the crawl now, not when the images are done.
            self.found.put(
                {"url": url, "page": page_state, "links": discovered.links, "canonical": discovered.canonical,
                 "content_sha256": discovered.content_sha256, "validators": list(discovered.validators),
                 "unchanged": discovered.unchanged, "read_with": discovered.read_with}
            )
            leads = [i for i, lead in zip(pending, claims, strict=True) if lead]
            out.append(_row(PAGE, url, {"page": page_state, "leads": leads}))
        return _columns(out)


class PrepareStage:
    """The image stage on a worker: fetch, decode, prepare for the model, read the text (threads inside)."""

    def __init__(self, options: dict[str, Any], responses: tuple[str, str] | None = None, pixels: Any = None) -> None:
        """``pixels``: the driver's pixel recipe, so the actor prepares without loading the model's processor
        (3 s of imports and files per actor, which made the pool look busy and start more actors)."""
        self.options = options_from_dict(options)
        self.run = AuditRun(self.options)
        if pixels is not None and hasattr(self.run.captioner, "use_pixel_recipe"):
            self.run.captioner.use_pixel_recipe(pixels)
        if responses is not None:
            self.run.open_responses(Path(responses[0]), responses[1])
        self.run.start_ocr()
        self.pool = ThreadPoolExecutor(self.options.download_workers, thread_name_prefix="altscout-ray-dl")

    def _page(self, row: dict[str, Any]) -> dict[str, Any]:
        """The page's leading records downloaded at once; the model inputs travel pickled beside them."""
        state = json.loads(row["state"])
        page = PageReport.from_state(state["page"])
        source = self.run.page_bytes()
        leads: list[int] = state["leads"]
        prepared = list(self.pool.map(lambda index: self.run.download_image(page.images[index], source), leads))
        inputs = [(index, p.sha256, p.model_input) for index, p in zip(leads, prepared, strict=True) if p is not None]
        state["page"] = page.to_state()
        return {**row, "state": json.dumps(state), "prepared": pickle.dumps(inputs) if inputs else b""}

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        return _columns([self._page(row) if row["kind"] == PAGE else row for row in _rows(batch)])


class CaptionStage:
    """Captioning on an actor that loads the model once: the prepared images of a call's pages, in batches."""

    def __init__(
        self, options: dict[str, Any], threads: int | None = None, known: dict[str, tuple[str, str]] | None = None
    ) -> None:
        """``known``: the state's captions by SHA-256, so a re-audit's unchanged images are not captioned again."""
        if threads:  # Ray sets OMP_NUM_THREADS to the CPUs reserved; the engine says how many to use
            import torch

            normal_priority()
            os.environ["OMP_NUM_THREADS"] = str(threads)
            torch.set_num_threads(threads)
        self.options = options_from_dict(options)
        self.run = AuditRun(self.options)
        self.run.captions_by_hash.update(known or {})
        self.run.captioner.load()

    def _caption(self, todo: list[tuple[ImageRecord, Any]]) -> set[int]:
        """Identical bytes are captioned once per actor: a caption this actor made is reused, and the
        same bytes twice in a call follow the first (the stage function shares the outcome). Returns
        the ``id`` of each record the model captioned."""
        fresh: list[tuple[ImageRecord, Any]] = []
        followers: dict[str, list[ImageRecord]] = {}
        for record, model_input in todo:
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
        for chunk in balanced_batches(fresh, self.run.batch_size):
            list(self.run.caption_images(chunk, followers))
        return {id(record) for record, _ in fresh}

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows = _rows(batch)
        pages: dict[int, tuple[dict[str, Any], PageReport]] = {}
        todo: list[tuple[ImageRecord, Any]] = []
        for position, row in enumerate(rows):
            if row["kind"] != PAGE or not row["prepared"]:
                continue
            state = json.loads(row["state"])
            page = PageReport.from_state(state["page"])
            pages[position] = (state, page)
            for index, sha256, model_input in pickle.loads(row["prepared"]):
                record = page.images[index]
                record.sha256 = sha256
                todo.append((record, model_input))
        by_model = self._caption(todo)
        for position, (state, page) in pages.items():
            state["page"] = page.to_state()
            state["model_captions"] = sum(id(record) in by_model for record in page.images)
            rows[position] = {**rows[position], "state": json.dumps(state), "prepared": b""}
        return _columns(rows)


def balanced_batches(items: list[T], largest: int) -> list[list[T]]:
    """``items`` in as few batches of at most ``largest`` as possible, of near-equal sizes.

    A call's images are captioned in full batches where they can be: 10 images at a batch size of
    8 are two batches of 5, not 8 and 2 (a batch of 2 costs nearly as much per image as one of 1).
    """
    if not items:
        return []
    count = -(-len(items) // max(1, largest))
    size, extra = divmod(len(items), count)
    batches, start = [], 0
    for index in range(count):
        end = start + size + (index < extra)
        batches.append(items[start:end])
        start = end
    return batches


