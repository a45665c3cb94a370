"""The one audit pipeline behind every front end.

Stages (:mod:`pipeline.page_stage`, :mod:`pipeline.stages`) are functions over records; the
local engine (:mod:`pipeline.engine`) composes them with threads and a state store, for a list of
pages, local folders, or a crawl (:mod:`pipeline.frontier`); :mod:`pipeline.run` names the engines
and runs the chosen one: ``audit`` yields events (:mod:`pipeline.events`), ``run_audit`` returns
the report.
"""

from pipeline.events import AuditEvent, AuditFinished, ImageFinished, PageFinished, PageStarted
from pipeline.run import audit, run_audit
from pipeline.single_image import caption_image
from pipeline.stages import AuditRun, make_thumbnail

__all__ = [
    "AuditEvent",
    "AuditFinished",
    "AuditRun",
    "ImageFinished",
    "PageFinished",
    "PageStarted",
    "audit",
    "caption_image",
    "make_thumbnail",
    "run_audit",
]
