"""The one audit pipeline behind every front end.

``pipeline.page_stage`` turns a page URL into records (static reading, or a headless browser);
``pipeline.local`` runs pages and images through the stages with threads and yields events.
"""

from pipeline.local import (
    AuditEvent,
    AuditFinished,
    AuditRun,
    ImageFinished,
    PageFinished,
    PageStarted,
    audit,
    caption_image,
    make_thumbnail,
    run_audit,
)

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
