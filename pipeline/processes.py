"""The page and image stages in worker processes: the CPU side past one interpreter's GIL.

One Python process holds the GIL for about 4.5 ms of each image's work (the HTTP client, the
response store, the parts of Pillow and NumPy that keep it, page discovery, the engine), so on a
machine whose GPU captions thousands of images a second the local engine's threads cannot feed
it (docs/PERFORMANCE.md, "The CPU side's ceiling"). With :class:`StageProcesses` (``--processes``)
the engine's threads hand their work to N worker processes, which run the same stage functions on
an :class:`AuditRun` of their own:

- the image stage, :meth:`AuditRun.download_image`, for every image read from the network, a
  ``data:`` URI or a file (an image the browser already loaded, or an element's screenshot, stays
  in the parent's threads);
- the page stage, :meth:`AuditRun.discover`, when no browser reads pages (``--render never``): the
  browser lives in the parent;
- with the guarded fetcher, and the run's response store opened on the parent's folder and run,
  so an answer is shared through the disk and its file locks, as the Ray engine's actors share it;
- under the per-host download limit (``per_host_limit``), held across every process by semaphores
  shared by stripe of host (two hosts in one stripe share a limit: stricter, never looser); the
  page requests' own limit (``per_host_pages``, ``Crawl-delay``) is held by the parent's page
  threads around each task, as before;
- with the captioner's pixel recipe (:meth:`captioning.blip.BlipCaptioner.pixel_recipe`), never the
  model; OCR when it is on.

What comes back is the page's discovery (its bytes are then read from the store), or the fields
the image stage sets on the record; the requests the worker's store sent (added to the parent's
counts); and the model's input, written into a slot of a memory-mapped file (in ``/dev/shm`` when
it has room) that every process maps: through the pipe, 442 KB of pixels cost 0.6 ms of the
parent's CPU per image (several copies under its GIL), through the slot one copy. Each worker has a
pipe of its own, and the thread that calls it sends and receives on it directly (a
``ProcessPoolExecutor`` passes every task through two threads of its own: 0.46 ms of the parent's
CPU per image here, against about 0.2). A thread hands a worker up to ``GROUP`` images in one
message (a slot each), as many as wait (:func:`pipeline.batching.download_group`): the message's
cost, a third of the hand-over, is then shared (``bench/handover_cost.py``). Workers start with
``spawn`` (never ``fork`` a process that runs PyTorch's threads), in about 0.6 s of imports: until
the first has said it started, the parent's threads do the work themselves, an image a task, rather
than wait. A worker that dies (starting or later) turns the pool off and that work, and all later
work, runs in the parent's threads as before.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from options import AuditOptions
from pipeline.idle_queue import IdleQueue
from pipeline.page_stage import DiscoveredPage, PageBytes, PageChecks
from pipeline.stages import AuditRun, Prepared
from records import ELEMENT, ImageRecord
from scraper.responses import WireCounts
from state.history import PreviousPage

log = logging.getLogger("altscout.processes")

HOST_STRIPES = 64
GROUP = 4  # the most images a thread hands a worker in one message (a slot each: 16 workers, 28 MB at 384 px)


class SharedHostLimit:
    """:class:`pipeline.frontier.HostLimiter`'s interface over semaphores every process shares."""

    def __init__(self, semaphores: list[Any]) -> None:
        self.semaphores = semaphores

    def __call__(self, url: str) -> Any:
        host = urlsplit(url).netloc.lower()
        return self.semaphores[zlib.crc32(host.encode()) % len(self.semaphores)]  # the same in every process


@dataclass(frozen=True)
class _Preparing:
    """The captioner a worker needs: only its per-image preparation (the model stays in the parent)."""

    prepare: Callable[[Image.Image], Any]
    default_batch_size: int = 1

    def load(self) -> None:
        return None

    def caption_batch(self, images: list[Any], settings: Any) -> list[str]:
        raise RuntimeError("worker processes do not caption")

    def describe(self) -> dict[str, Any]:
        return {"id": "stage-worker"}


def process_count(run: AuditRun) -> int:
    """Workers for this run: ``processes``, or by default one per core with the model on a GPU."""
    asked = run.options.processes
    if asked is not None:
        return asked
    device = str(run.captioner.describe().get("device") or "")
    return (os.cpu_count() or 1) if device.startswith("cuda") else 0


class PixelSlots:
    """Model inputs of one shape (uint8 pixels) in a file every process maps, ``GROUP`` slots per worker."""

    def __init__(self, path: str, count: int, shape: tuple[int, ...]) -> None:
        self.path, self.count, self.shape = path, count, shape
        self.arrays = np.memmap(path, dtype=np.uint8, mode="r+", shape=(count, *shape))

    @classmethod
    def create(cls, count: int, shape: tuple[int, ...]) -> PixelSlots:
        """A new file of ``count`` slots, in shared memory where the system has room for it twice (a
        container's is often 64 MB, and writing past a full one kills the writer), else a temporary file."""
        size = count * int(np.prod(shape))
        folder = "/dev/shm" if _free_bytes("/dev/shm") >= 2 * size else None
        handle, path = tempfile.mkstemp(prefix="altscout-pixels-", dir=folder)
        os.ftruncate(handle, size)
        os.close(handle)
        return cls(path, count, shape)

    def fits(self, model_input: Any) -> bool:
        """Whether ``model_input`` is pixels of the slots' shape."""
        return isinstance(model_input, np.ndarray) and model_input.dtype == np.uint8 and model_input.shape == self.shape

    def remove(self) -> None:
        """Delete the file (the parent, once every worker has stopped)."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _free_bytes(folder: str) -> int:
    """The bytes free in ``folder``'s file system (0 when it is not there)."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return 0
    return stats.f_bavail * stats.f_frsize


class WorkerDied(Exception):
    """A worker process is gone (killed, out of memory, failed to start)."""


class _Worker:
    """A worker process and the parent's end of its pipe: one call at a time, no thread in between."""

    def __init__(self, context: Any, index: int, initargs: tuple[Any, ...]) -> None:
        self.index = index  # also its slot for pixels
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child, index, initargs), daemon=True, name=f"altscout-worker-{index}"
        )
        self.process.start()
        child.close()

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in the worker; what it raised is raised here; WorkerDied when it is gone."""
        try:
            self.conn.send((function, args))
            ok, value = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerDied(f"worker {self.index} is gone: {type(exc).__name__}") from exc
        if not ok:
            raise value
        return value

    def ask_to_stop(self) -> None:
        """Tell the worker to end after its call (``stop`` waits for it)."""
        with contextlib.suppress(OSError):
            self.conn.send(None)

    def stop(self) -> None:
        """Ask the worker to end, and end it if it does not."""
        self.ask_to_stop()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class StageProcesses:
    """N worker processes running the page and image stages for the parent's threads."""

    def __init__(self, run: AuditRun, count: int, recipe: Any) -> None:
        if run.responses is None:
            raise ValueError("worker processes share the run's response store: open it first")
        self.run, self.count, self.store = run, count, run.responses
        context = multiprocessing.get_context("spawn")
        shared = SharedHostLimit([context.Semaphore(run.options.per_host_limit) for _ in range(HOST_STRIPES)])
        run.host_limit = run.responses.wire_gate = shared  # the parent's own downloads count against it too
        store = (str(run.responses.folder), run.responses.run)
        memory = max(1, run.options.response_memory_bytes // count)  # the workers' memories share the budget
        self.slots = PixelSlots.create(count * GROUP, (recipe.height, recipe.width, 3))  # GROUP slots per worker
        initargs = (
            replace(run.options, response_memory_bytes=memory), recipe.to_array, store, shared.semaphores,
            (self.slots.path, self.slots.count, self.slots.shape),
        )  # fmt: skip
        self.workers = [_Worker(context, index, initargs) for index in range(count)]  # they start now
        self.idle: IdleQueue[_Worker] = IdleQueue()  # a page's discovery gets the next one first
        self._broken, self._started = threading.Event(), threading.Event()
        self._settled = threading.Event()  # a worker started, or the pool is off
        # Until the first worker has started (imports, its run: about 0.6 s), this process's threads do the work.
        self._starter = threading.Thread(target=self._admit_workers, name="altscout-workers-start", daemon=True)
        self._starter.start()

    @classmethod
    def start(cls, run: AuditRun) -> StageProcesses | None:
        """The run's worker processes, or None: not asked for, or the captioner has no pixel recipe."""
        count = process_count(run)
        if count <= 0:
            return None
        recipe = getattr(run.captioner, "pixel_recipe", lambda: None)()
        if recipe is None:
            log.warning("pages and images are read in threads: this captioner's preprocessing cannot run in a worker")
            return None
        return cls(run, count, recipe)

    def _admit_workers(self) -> None:
        """Each worker into the idle queue once it says it has started; one that dies first turns the pool off."""
        for worker in self.workers:
            try:
                worker.conn.recv()  # its "started"
            except (EOFError, OSError):
                self._broke()
            else:
                self._started.set()
                self._settled.set()
            self.idle.put(worker)  # even dead: a thread that took it finds out and falls back

    def wait_started(self, timeout: float | None = None) -> bool:
        """Wait until a worker takes work (or the pool is off); whether one does."""
        self._settled.wait(timeout)
        return self._usable()

    def _usable(self) -> bool:
        return self._started.is_set() and not self._broken.is_set()

    @property
    def images_per_task(self) -> int:
        """Images a download thread hands over as one task: a group once a worker takes them; one
        while this process's threads read them (before the first worker starts, or after the pool
        broke), so they read side by side."""
        return GROUP if self._usable() else 1

    def takes(self, record: ImageRecord, source: PageBytes) -> bool:
        """Whether a worker can read this image: one has started, not the browser's bytes, not an element's
        screenshot."""
        return self._usable() and source.stash is None and record.screenshot is None and ELEMENT not in record.found_in

    def takes_pages(self) -> bool:
        """Whether workers discover pages: no browser reads them (``--render never``)."""
        return self._usable() and self.run.options.render == "never"

    def discover(
        self, url: str, checks: PageChecks | None = None, previous: PreviousPage | None = None
    ) -> DiscoveredPage:
        """:meth:`AuditRun.discover` in a worker when no browser is needed, else in this thread."""
        if self.takes_pages():
            with self._worker(urgent=True) as worker:
                try:
                    discovered, wire = worker.call(_discover, url, checks, previous)
                except WorkerDied:
                    self._broke()
                else:
                    self.store.add_counts(wire)
                    return replace(discovered, source=self.run.page_bytes())  # its bytes: from the shared store
        return self.run.discover(url, checks, previous)

    def download_images(self, group: list[tuple[ImageRecord, PageBytes]]) -> list[Prepared | None]:
        """:meth:`AuditRun.download_image` for each image, those a worker can read in one message to one
        worker (at most ``GROUP``: a slot each), the rest (or all, if the worker died) in this thread."""
        outcomes: list[Prepared | None] = [None] * len(group)
        remote = [index for index, (record, source) in enumerate(group) if self.takes(record, source)][:GROUP]
        if remote:
            with self._worker() as worker:
                try:
                    replies, wire = worker.call(_download, [group[index][0] for index in remote])
                except WorkerDied:
                    self._broke()
                    remote = []
                else:
                    self.store.add_counts(wire)
                    for slot, (index, (fields, prepared)) in enumerate(zip(remote, replies, strict=True)):
                        if prepared is not None and prepared[1] is None:  # the pixels are in the worker's slot
                            prepared = (prepared[0], np.array(self.slots.arrays[worker.index * GROUP + slot]))
                        record = group[index][0]
                        for name, value in fields.items():
                            setattr(record, name, value)
                        outcomes[index] = Prepared(*prepared) if prepared is not None else None
        sent = set(remote)
        for index, (record, source) in enumerate(group):
            if index not in sent:
                outcomes[index] = self.run.download_image(record, source)
        return outcomes

    @contextlib.contextmanager
    def _worker(self, urgent: bool = False) -> Iterator[_Worker]:
        """An idle worker for one call (waiting for one; ``urgent``: before the image threads); given back
        even dead, so no thread waits forever."""
        worker = self.idle.get(urgent)
        try:
            yield worker
        finally:
            self.idle.put(worker)

    def _broke(self) -> None:
        if not self._broken.is_set():
            self._broken.set()
            self._settled.set()
            log.warning("a worker process died; pages and images are read in threads from now on")

    def close(self) -> None:
        """Stop the workers (before the response store's folder may be removed) and free the slots."""
        for worker in self.workers:  # all told first, so they wind down side by side
            worker.ask_to_stop()
        for worker in self.workers:
            worker.stop()
        self._starter.join(5)
        self.slots.remove()


# --- in the worker processes -----------------------------------------------------------------

_worker: tuple[AuditRun, PageBytes, PixelSlots, int] | None = None


def _serve(conn: Any, index: int, initargs: tuple[Any, ...]) -> None:
    """A worker's life: start, then one call at a time until the parent says None or hangs up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    _start(index, *initargs)
    conn.send("started")
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        function, args = message
        try:
            reply = (True, function(*args))
        except Exception as exc:  # raised again in the parent's thread, as if the stage ran there
            reply = (False, exc)
        conn.send(reply)


def _start(
    index: int,
    options: AuditOptions,
    prepare: Callable[[Image.Image], Any],
    store: tuple[str, str],
    semaphores: list[Any],
    slots: tuple[str, int, tuple[int, ...]],
) -> None:
    """A worker's run: the parent's options, its pixel preparation, its response store, host limit and slot."""
    global _worker
    run = AuditRun(options, _Preparing(prepare))  # type: ignore[arg-type]
    run.host_limit = SharedHostLimit(semaphores)
    run.open_responses(Path(store[0]), store[1])
    run.start_ocr()
    _worker = (run, run.page_bytes(), PixelSlots(*slots), index * GROUP)
    gc.freeze()  # what the worker imported and loaded, out of the collector's scans for its life


def _fresh_counts(run: AuditRun) -> WireCounts:
    """New wire counts for the worker's store: a worker does one call at a time, so they are the call's."""
    assert run.responses is not None
    run.responses.counts = counts = WireCounts()
    return counts


def _discover(url: str, checks: PageChecks | None, previous: PreviousPage | None) -> tuple[DiscoveredPage, WireCounts]:
    """The page stage in the worker: its discovery (without its bytes: the parent reads them from
    the shared store) and the requests its store sent."""
    assert _worker is not None, "the worker was not started"
    run = _worker[0]
    counts = _fresh_counts(run)
    discovered = run.discover(url, checks, previous)
    return replace(discovered, source=None), counts  # type: ignore[arg-type]


def _download(records: list[ImageRecord]) -> tuple[list[tuple[dict[str, Any], tuple[str, Any] | None]], WireCounts]:
    """The image stage on the worker's copies of ``records``, one after another: for each, the fields it
    changed and (hash, model input, or None when the input is in the worker's slot for it); the requests
    its store sent for them."""
    assert _worker is not None, "the worker was not started"
    run, source, slots, first_slot = _worker
    counts = _fresh_counts(run)
    replies: list[tuple[dict[str, Any], tuple[str, Any] | None]] = []
    for slot, record in enumerate(records, start=first_slot):
        before = dict(vars(record))
        prepared = run.download_image(record, source)
        fields = {name: value for name, value in vars(record).items() if value != before[name]}  # what the stage set
        if prepared is None:
            replies.append((fields, None))
        elif slots.fits(prepared.model_input):
            slots.arrays[slot] = prepared.model_input
            replies.append((fields, (prepared.sha256, None)))
        else:
            replies.append((fields, (prepared.sha256, prepared.model_input)))
    return replies, counts
