"""One thread for all of a process's PyTorch model work: loading, captioning, translating.

PyTorch's CPU kernels run on an OpenMP thread team that belongs to the calling thread. Once a
second thread has run PyTorch operations, the two teams compete for the cores for the rest of
the process: on 2 cores, BLIP's ``generate`` went from 1.95 cores busy to 1.5 and became 25-30%
slower, in either thread (``docs/SCALE.md``). Ray Data calls a stage from a thread of its own
(the actor was built in another), the server's job workers are threads, and the local engine
loads in one thread and captions in another when driven by a UI, so every model call is handed
to this one thread and waited for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_thread_id: int | None = None


def _remember_thread() -> None:
    global _thread_id
    _thread_id = threading.get_ident()


def _model_executor() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(1, thread_name_prefix="altscout-model", initializer=_remember_thread)
        return _executor


def on_model_thread(work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run ``work`` on the process's model thread and return its result (its exception is raised here)."""
    if threading.get_ident() == _thread_id:  # already there: a model call inside a model call
        return work(*args, **kwargs)
    return _model_executor().submit(work, *args, **kwargs).result()


def model_thread_id() -> int | None:
    """The model thread's identity (None until the first call): for tests."""
    return _thread_id
