"""What an audit tells its front end while it runs: a page starts, an image is final, a page is
done, the audit is done (carrying the report)."""

from __future__ import annotations

from dataclasses import dataclass

from records import AuditReport, ImageRecord, PageReport


@dataclass(frozen=True)
class PageStarted:
    """A page is about to be fetched."""

    index: int
    total: int
    url: str


@dataclass(frozen=True)
class ImageFinished:
    """One image record reached its final status."""

    page_index: int
    record: ImageRecord
    done: int
    total: int


@dataclass(frozen=True)
class PageFinished:
    """A page is fully audited (or failed)."""

    index: int
    page: PageReport


@dataclass(frozen=True)
class AuditFinished:
    """The whole run is done."""

    report: AuditReport
    shard_dir: str | None = None  # sharded output: the report holds no pages; build it with reports.sharded


AuditEvent = PageStarted | ImageFinished | PageFinished | AuditFinished
