"""The cyclic garbage collector kept off what lives as long as the run: the modules and the model.

A process that has imported PyTorch and transformers holds millions of objects, and each of
Python's full (generation 2) collections walks them all: about 0.2 s each, twice per 2,000
images in the engine's process, about 0.2 ms of every image's time with the GIL held
(docs/PERFORMANCE.md, "The parent's garbage collections"). :func:`frozen_heap` moves every object
alive when a run starts (modules, the loaded model, the worker pool) into the collector's
permanent generation (``gc.freeze``) for the run, so a full collection walks only what the run
made. Nothing is kept alive by it: freed objects are still freed by their reference counts, and
cyclic garbage that existed at the start waits for the end of the run (``gc.unfreeze``, once the
last of the runs that share the process ends: a server runs several).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_runs = 0  # runs of this process inside frozen_heap


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Objects alive now are left out of the collector's scans until the last run that froze them ends."""
    global _runs
    with _lock:
        _runs += 1
        gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.unfreeze()
