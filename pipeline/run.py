"""Run an audit: the engine registry, :func:`audit` (a generator of events) and :func:`run_audit`.

Engines compose the stage functions (:mod:`pipeline.stages`, :mod:`pipeline.page_stage`); the
stages import no engine. Each engine is imported only when an audit chooses it, so the local
engine never loads Ray. A new engine is one entry in :data:`ENGINES` (and its name in
``options.ENGINES``, the choices of ``--engine``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from captioning import Captioner
from options import AuditOptions
from pipeline.events import AuditEvent, AuditFinished
from records import AuditReport

if TYPE_CHECKING:
    from pipeline.engine import Engine


def _local() -> type[Engine]:
    from pipeline.engine import Engine

    return Engine


def _ray() -> type[Engine]:
    from pipeline.ray_engine import RayEngine

    return RayEngine


ENGINES: dict[str, Callable[[], type[Engine]]] = {"local": _local, "ray": _ray}


def audit(urls: Iterable[str], options: AuditOptions, captioner: Captioner | None = None) -> Iterator[AuditEvent]:
    """Audit pages (or crawl a site, or caption folders), yielding events; the last carries the report.

    Raises ModelLoadError before any page is fetched if the model cannot be loaded.
    """
    engine = ENGINES[options.engine]()(urls, options, captioner)
    try:
        yield from engine.events()
    finally:
        engine.store.close()


def run_audit(
    urls: Iterable[str],
    options: AuditOptions,
    captioner: Captioner | None = None,
    on_event: Callable[[AuditEvent], None] | None = None,
) -> AuditReport:
    """Run ``audit`` to the end and return its report."""
    for event in audit(urls, options, captioner):
        if on_event is not None:
            on_event(event)
        if isinstance(event, AuditFinished):
            return event.report
    raise RuntimeError("audit ended without a report")  # pragma: no cover
