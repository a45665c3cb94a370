"""The image stage in worker processes: downloads and preparation past one interpreter's GIL.

One Python process holds the GIL for about 4.5 ms of each image's work (the HTTP client, the
response store, the parts of Pillow and NumPy that keep it, page discovery, the engine), so on a
machine whose GPU captions thousands of images a second the local engine's threads cannot feed
it (docs/PERFORMANCE.md, "The CPU side's ceiling"). With :class:`ImageProcesses` the download
threads hand each image read from the network, a ``data:`` URI or a file to one of N worker
processes, which run the same stage function, :meth:`AuditRun.download_image`, on an
:class:`AuditRun` of their own:

- the guarded fetcher, and the run's response store opened on the parent's folder and run, so
  an answer is shared through the disk and its ``flock``\\s, as the Ray engine's actors share it;
- the per-host download limit (``per_host_limit``) held across every process by semaphores shared
  by stripe of host (two hosts in one stripe share a limit: stricter, never looser);
- the captioner's pixel recipe (:meth:`captioning.blip.BlipCaptioner.pixel_recipe`), never the
  model; OCR when it is on.

What comes back is the fields the stage sets on the record, the requests the worker's store sent
(added to the parent's counts) and the model's input, written into a slot of a memory-mapped file
(in ``/dev/shm``) that every process maps: through the pipe, 442 KB of pixels cost 0.6 ms of the
parent's CPU per image (several copies under its GIL), through the slot one copy. An image the
browser already loaded, or an element's screenshot, stays in the parent's threads. Workers start
with ``spawn`` (never ``fork`` a process that runs PyTorch's threads); a worker that dies turns the
pool off and the image, and every later one, is prepared in the parent's threads as before.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import tempfile
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from options import AuditOptions
from pipeline.page_stage import PageBytes
from pipeline.stages import AuditRun, Prepared
from records import ELEMENT, ImageRecord
from scraper.responses import WireCounts

log = logging.getLogger("altscout.images")

HOST_STRIPES = 64
# What AuditRun.download_image sets on a record: copied back from the worker's copy.
STAGE_FIELDS = (
    "status", "reason", "detail", "width", "height", "bytes", "format", "sha256", "thumbnail", "image_text",
    "text_coverage", "screenshot",
)  # fmt: skip


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
        raise RuntimeError("image worker processes do not caption")

    def describe(self) -> dict[str, Any]:
        return {"id": "image-worker"}


def process_count(run: AuditRun) -> int:
    """Workers for this run: ``image_processes``, or by default one per core with the model on a GPU."""
    asked = run.options.image_processes
    if asked is not None:
        return asked
    device = str(run.captioner.describe().get("device") or "")
    return (os.cpu_count() or 1) if device.startswith("cuda") else 0


class PixelSlots:
    """Model inputs of one shape (uint8 pixels) in a file every process maps, a slot per image in flight."""

    def __init__(self, path: str, count: int, shape: tuple[int, ...]) -> None:
        self.path, self.count, self.shape = path, count, shape
        self.arrays = np.memmap(path, dtype=np.uint8, mode="r+", shape=(count, *shape))

    @classmethod
    def create(cls, count: int, shape: tuple[int, ...]) -> PixelSlots:
        """A new file of ``count`` slots, in shared memory where the system has it."""
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
        handle, path = tempfile.mkstemp(prefix="altscout-pixels-", dir=folder)
        os.ftruncate(handle, count * int(np.prod(shape)))
        os.close(handle)
        return cls(path, count, shape)

    def fits(self, model_input: Any) -> bool:
        """Whether ``model_input`` is pixels of the slots' shape."""
        return isinstance(model_input, np.ndarray) and model_input.dtype == np.uint8 and model_input.shape == self.shape

    def remove(self) -> None:
        """Delete the file (the parent, once every worker has stopped)."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)


class ImageProcesses:
    """N worker processes running :meth:`AuditRun.download_image` for the parent's download threads."""

    def __init__(self, run: AuditRun, count: int, recipe: Any) -> None:
        if run.responses is None:
            raise ValueError("image worker processes share the run's response store: open it first")
        self.run, self.count = run, count
        context = multiprocessing.get_context("spawn")
        shared = SharedHostLimit([context.Semaphore(run.options.per_host_limit) for _ in range(HOST_STRIPES)])
        run.host_limit = run.responses.wire_gate = shared  # the parent's own downloads count against it too
        store = (str(run.responses.folder), run.responses.run)
        memory = max(1, run.options.response_memory_bytes // count)  # the workers' memories share the budget
        self.slots = PixelSlots.create(2 * count, (recipe.height, recipe.width, 3))  # every worker busy, one behind
        self.free: queue.Queue[int] = queue.Queue()
        for slot in range(self.slots.count):
            self.free.put(slot)
        self.pool = ProcessPoolExecutor(
            count, mp_context=context, initializer=_start,
            initargs=(replace(run.options, response_memory_bytes=memory), recipe.to_array, store, shared.semaphores,
                      (self.slots.path, self.slots.count, self.slots.shape)),
        )  # fmt: skip
        self._broken = threading.Event()
        for _ in range(count):  # every worker starts now (its imports, its store) while the first pages load
            self.pool.submit(_ready)

    @classmethod
    def start(cls, run: AuditRun) -> ImageProcesses | None:
        """The run's worker processes, or None: not asked for, or the captioner has no pixel recipe."""
        count = process_count(run)
        if count <= 0:
            return None
        recipe = getattr(run.captioner, "pixel_recipe", lambda: None)()
        if recipe is None:
            log.warning("images are prepared in threads: this captioner's preprocessing cannot run in a worker")
            return None
        return cls(run, count, recipe)

    def takes(self, record: ImageRecord, source: PageBytes) -> bool:
        """Whether a worker can read this image: not the browser's bytes, not an element's screenshot."""
        return (
            not self._broken.is_set()
            and source.stash is None
            and record.screenshot is None
            and ELEMENT not in record.found_in
        )

    def download_image(self, record: ImageRecord, source: PageBytes) -> Prepared | None:
        """:meth:`AuditRun.download_image` in a worker when it can run there, else in this thread."""
        if not self.takes(record, source):
            return self.run.download_image(record, source)
        slot = self.free.get()  # blocks while every slot is in use: at most 2 x workers images in flight
        try:
            fields, prepared, wire = self.pool.submit(_download, record, slot).result()
            if prepared is not None and prepared[1] is None:  # the pixels are in the slot
                prepared = (prepared[0], np.array(self.slots.arrays[slot]))
        except BrokenProcessPool:
            if not self._broken.is_set():
                self._broken.set()
                log.warning("an image worker process died; images are prepared in threads from now on")
            return self.run.download_image(record, source)
        finally:
            self.free.put(slot)
        for name, value in fields.items():
            setattr(record, name, value)
        if self.run.responses is not None:
            self.run.responses.add_counts(wire)
        return Prepared(*prepared) if prepared is not None else None

    def close(self) -> None:
        """Stop the workers (before the response store's folder may be removed) and free the slots."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.slots.remove()


# --- in the worker processes -----------------------------------------------------------------

_worker: tuple[AuditRun, PageBytes, PixelSlots] | None = None


def _start(
    options: AuditOptions,
    prepare: Callable[[Image.Image], Any],
    store: tuple[str, str],
    semaphores: list[Any],
    slots: tuple[str, int, tuple[int, ...]],
) -> None:
    """A worker's run: the parent's options, its pixel preparation, its response store, host limit and slots."""
    global _worker
    run = AuditRun(options, _Preparing(prepare))  # type: ignore[arg-type]
    run.host_limit = SharedHostLimit(semaphores)
    run.open_responses(Path(store[0]), store[1])
    run.start_ocr()
    _worker = (run, run.page_bytes(), PixelSlots(*slots))


def _ready() -> None:
    """Nothing: submitted once per worker so that each starts before the first image."""


def _download(record: ImageRecord, slot: int) -> tuple[dict[str, Any], tuple[str, Any] | None, WireCounts]:
    """The image stage on the worker's copy of ``record``: the fields it set, (hash, model input or None
    when the input is in ``slot``), the requests its store sent for it."""
    assert _worker is not None, "the worker was not started"
    run, source, slots = _worker
    assert run.responses is not None
    run.responses.counts = counts = WireCounts()  # one image at a time in a worker: this image's requests
    prepared = run.download_image(record, source)
    fields = {name: getattr(record, name) for name in STAGE_FIELDS}
    if prepared is None:
        return fields, None, counts
    if slots.fits(prepared.model_input):
        slots.arrays[slot] = prepared.model_input
        return fields, (prepared.sha256, None), counts
    return fields, (prepared.sha256, prepared.model_input), counts
