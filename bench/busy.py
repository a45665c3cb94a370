"""How busy the captioner and the GPU were while a benchmark ran.

``time_batches`` counts the seconds a captioner had a batch. ``GpuBusy`` is the GPU busy %: the
share of the time a kernel ran on the GPU, sampled from NVML while a block runs.

    with GpuBusy() as busy:
        ...                      # the work to watch
    print(busy.percent)          # None without a GPU or without NVML (the nvidia-ml-py package)

NVML's utilisation counter is "the percent of time over the past sample period during which one
or more kernels was executing" (nvidia-smi's GPU-Util); it is read every ``interval_s`` through
``torch.cuda.utilization`` and averaged.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType


class GpuBusy:
    """Average NVML GPU utilisation over a ``with`` block, or None where it cannot be read."""

    def __init__(self, device: int = 0, interval_s: float = 0.05) -> None:
        self.device = device
        self.interval_s = interval_s
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GpuBusy:
        if _readable(self.device):
            self._thread = threading.Thread(target=self._sample, name="gpu-busy", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def percent(self) -> float | None:
        """The mean of the samples, or None when none was taken."""
        return sum(self.samples) / len(self.samples) if self.samples else None

    def label(self) -> str:
        """The mean as a table cell: ``87%``, or empty."""
        return "" if self.percent is None else f"{self.percent:.0f}%"

    def _sample(self) -> None:
        import torch

        while not self._stop.wait(self.interval_s):
            self.samples.append(int(torch.cuda.utilization(self.device)))


def _readable(device: int) -> bool:
    """Whether there is a CUDA GPU and NVML answers for it."""
    try:
        import torch

        if not torch.cuda.is_available():
            return False
        torch.cuda.utilization(device)
    except Exception:  # no pynvml, no driver: nothing to report
        return False
    return True


def time_batches(captioner: object) -> dict[str, float]:
    """Wrap ``captioner.caption_batch`` to count the seconds in which at least one batch was in it
    (the engine keeps two in flight: overlapping calls count once), the calls and the images in them;
    return the live totals."""
    busy = {"s": 0.0, "batches": 0, "images": 0}
    original = captioner.caption_batch  # type: ignore[attr-defined]
    lock = threading.Lock()
    inside = {"calls": 0, "since": 0.0}

    def timed(images, settings):  # type: ignore[no-untyped-def]
        with lock:
            if inside["calls"] == 0:
                inside["since"] = time.perf_counter()
            inside["calls"] += 1
        try:
            return original(images, settings)
        finally:
            with lock:
                inside["calls"] -= 1
                busy["batches"] += 1
                busy["images"] += len(images)
                if inside["calls"] == 0:
                    busy["s"] += time.perf_counter() - inside["since"]

    captioner.caption_batch = timed  # type: ignore[attr-defined]
    return busy
