"""The Ray engine (``--engine ray``): the same stage functions on Ray Data, the bookkeeping in the driver.

The driver keeps what the local engine keeps: the frontier, the state store, duplicate and skip
decisions, the page audit and the report (``Engine._triage``, ``Engine._complete``). Pages leave it
in waves of up to ``WAVE_PAGES`` URLs as a Ray Dataset that runs the stages on the cluster:

    page URLs -> DiscoverStage (actors: ``AuditRun.discover``; rendering where the workers have a browser)
              -> PrepareStage (actors with a thread pool: ``AuditRun.download_image``: fetch, decode,
                 prepare for the model, read the text in the image)
              -> CaptionStage (an actor pool, each loading the model once; ``num_gpus=1`` on CUDA;
                 ``AuditRun.caption_images`` in batches)
              -> rows back to the driver, which reassembles pages and audits them.

Rows are plain data: a kind (``page`` or ``image``), the page URL, the record's index, its state as
JSON, and the model's input as pickled bytes (never a live PIL or model object). Every failure is
already data in the record (status and reason); a worker or actor that dies is restarted by Ray and
its batch retried. Each wave is one dataset, so a crawl's next wave starts when the previous one
has been read back (the frontier needs its links); within a wave discovery, downloads and
captioning overlap.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from options import options_from_dict
from pipeline.engine import Engine
from pipeline.events import AuditEvent, ImageFinished
from pipeline.page_stage import DiscoveredPage, PageBytes, PageChecks
from pipeline.stages import AuditRun
from records import PENDING, ImageRecord, PageReport
from scraper.urls import Scope, is_html_type
from store import UrlRow

log = logging.getLogger("altscout.ray")

ROOT = Path(__file__).resolve().parent.parent
WAVE_PAGES = 256  # page URLs handed to the cluster at once (each wave starts its actor pools)
PAGE, IMAGE = "page", "image"
IO_ACTOR_CPUS = 0.5  # discovery and image actors mostly wait on the network; captioning takes whole CPUs


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


class DiscoverStage:
    """The page stage on a worker: discovery (and rendering when the worker has a browser)."""

    def __init__(self, options: dict[str, Any], start_urls: list[str]) -> None:
        self.options = options_from_dict(options)
        self.run = AuditRun(self.options)
        self.run.start_renderer()
        scope = Scope.for_start(start_urls, self.options.scope == "domain", self.options.include, self.options.exclude)
        self.checks = PageChecks(scope.why_out, is_html_type) if self.options.crawl else None

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        out: list[dict[str, Any]] = []
        for url in batch["url"]:
            discovered = self.run.discover(str(url), self.checks)
            discovered.source.release()  # the browser's bytes stay on this worker: images are fetched again
            page = discovered.page
            pending = [i for i, record in enumerate(page.images) if record.status == PENDING]
            state = {"page": page.to_state(), "links": discovered.links, "canonical": discovered.canonical}
            out.append(_row(PAGE, page.url, len(pending), state))
            out.extend(_row(IMAGE, page.url, i, page.images[i].to_state()) for i in pending)
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
    """Captioning on an actor that loads the model once; batches of prepared images."""

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


class RayEngine(Engine):
    """The local engine's driver-side logic with the stages on Ray Data."""

    def _load_models(self) -> None:
        """The driver loads no captioner (the actors do); a fixed language's translator fails fast here."""
        from captioning.cache import caption_namespace
        from captioning.translate import AUTO, ENGLISH

        ensure_ray(self.options.ray_address)
        if self.options.lang not in (ENGLISH, AUTO):
            self.run.translator_for(self.options.lang).load()
        self.caption_key = caption_namespace(self.options.model, self.options.generation)

    def _run_stages(self) -> Iterator[AuditEvent]:
        while True:
            wave: list[UrlRow] = []
            while len(wave) < WAVE_PAGES and (row := self.frontier.next()) is not None:
                wave.append(row)
            if not wave:
                return
            yield from self._run_wave(wave)

    def _dataset(self, wave: list[UrlRow]) -> Any:
        import ray.data

        options = self.options.to_dict()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        cuda = self.options.device == "cuda"
        workers = max(1, min(self.options.page_workers, len(wave)))
        return (
            ray.data.from_items([{"url": row.url} for row in wave], override_num_blocks=len(wave))
            .map_batches(
                DiscoverStage,
                fn_constructor_kwargs={"options": options, "start_urls": self.start_urls},
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers),
                num_cpus=IO_ACTOR_CPUS,
            )
            .map_batches(
                PrepareStage,
                fn_constructor_kwargs={"options": options},
                batch_size=self.options.download_workers,
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers),
                num_cpus=IO_ACTOR_CPUS,
            )
            .map_batches(
                CaptionStage,
                fn_constructor_kwargs={"options": options},
                batch_size=self.options.batch_size or 8,
                compute=ray.data.ActorPoolStrategy(size=self.options.caption_actors),
                num_gpus=1 if cuda else 0,
            )
        )

    def _run_wave(self, wave: list[UrlRow]) -> Iterator[AuditEvent]:
        """One dataset: rows back to pages; a page is audited when its last record is back."""
        rows_by_url = {row.url: row for row in wave}
        assembling: dict[str, _Assembly] = {}
        early: dict[str, list[tuple[int, ImageRecord]]] = {}
        dropped: set[str] = set()
        for out in self._dataset(wave).iter_rows():
            url = str(out["page_url"])
            state = json.loads(out["state"])
            if out["kind"] == PAGE:
                row = rows_by_url[url]
                page = PageReport.from_state(state["page"])
                discovered = DiscoveredPage(page, PageBytes(self.run.fetcher), state["links"], state["canonical"])
                if not (yield from self._triage(row, discovered)):
                    dropped.add(url)
                    early.pop(url, None)
                    continue
                assembling[url] = _Assembly(row, page, int(out["index"]))
                for index, record in early.pop(url, []):
                    assembling[url].arrived[index] = record
            elif url not in dropped:
                record = ImageRecord.from_state(state)
                if url in assembling:
                    assembling[url].arrived[int(out["index"])] = record
                else:
                    early.setdefault(url, []).append((int(out["index"]), record))
            if url in assembling and len(assembling[url].arrived) == assembling[url].expected:
                yield from self._assemble(assembling.pop(url))

    def _assemble(self, done: _Assembly) -> Iterator[AuditEvent]:
        page = done.page
        for index, record in done.arrived.items():
            page.images[index] = record
        self.store.put_captions(
            self.caption_key,
            [(r.sha256, r.caption, r.raw_caption or "") for r in done.arrived.values() if r.sha256 and r.caption],
        )
        for position, record in enumerate(page.images, start=1):
            yield ImageFinished(self.pages_done, record, position, len(page.images))
        yield from self._complete(done.row.url, page)
