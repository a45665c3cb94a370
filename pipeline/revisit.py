"""Re-audits: what an engine does with the state's memory of earlier runs (:mod:`state.history`).

A page that answered ``304`` or its earlier HTML is restored from its stored discovery (its records
as they were before their images were fetched, its links and canonical URL), so it is not rendered
again; its images still go through the image stage, whose requests are conditional too (the
response store), so a changed image is fetched and captioned again while an unchanged one is
served from the store and its caption found by its hash.
"""

from __future__ import annotations

from pathlib import Path

from options import AuditOptions
from pipeline.page_stage import DiscoveredPage
from pipeline.stages import AuditRun
from records import ImageRecord
from state.history import History, PreviousPage, Snapshot
from state.store import AuditStore


class Revisits:
    """An engine's re-audit bookkeeping; without ``--state`` it only opens a temporary response store."""

    def __init__(self, options: AuditOptions, store: AuditStore, run: AuditRun, new_run: bool) -> None:
        self.history = History(store, new_run) if options.state_path else None
        folder = Path(f"{options.state_path}.responses") if options.state_path else None
        run_id = f"run-{self.history.run}" if self.history is not None else ""
        self.responses = run.open_responses(folder, run_id)
        self.run = run

    @property
    def run_id(self) -> str:
        """The response store's run (every process of the run uses the same)."""
        return self.responses.run

    @property
    def folder(self) -> Path:
        """The response store's folder."""
        return self.responses.folder

    def previous(self, url: str) -> PreviousPage | None:
        """What an earlier run read from the page (None: nothing, or ``--refresh``)."""
        if self.history is None or self.run.options.refresh:
            return None
        return self.history.previous(url)

    def carried(self, url: str) -> str:
        """:meth:`previous` and the stored discovery as one text, for a worker elsewhere ("": none)."""
        if self.history is None or self.run.options.refresh:
            return ""
        return self.history.carried(url)

    def restore(self, discovered: DiscoveredPage) -> DiscoveredPage:
        """An unchanged page's stored discovery, ready for the image stage; any other page as it is."""
        if not discovered.unchanged or self.history is None:
            return discovered
        return restore(discovered, self.history.snapshot(discovered.page.url))

    def remember(self, url: str, discovered: DiscoveredPage) -> None:
        """A page is audited in this run: keep its discovery (new or changed), or mark it unchanged."""
        if self.history is None:
            return
        if discovered.unchanged:
            self.history.reused(url)
        elif discovered.content_sha256:
            page = discovered.page
            self.history.remember(
                url, page, discovered.links, discovered.canonical, discovered.content_sha256, discovered.validators,
                discovered.read_with,
            )  # fmt: skip

    def image_done(self, record: ImageRecord) -> None:
        """An image URL's leading record is final."""
        if self.history is not None:
            self.history.count_image(record)

    def changes(self) -> dict[str, object] | None:
        """The run's unchanged/changed/new/gone counts, with the response store's wire counts."""
        if self.history is None:
            return None
        return {**self.history.changes(), "requests": self.responses.counts.as_dict()}


def restore(discovered: DiscoveredPage, snapshot: Snapshot | None) -> DiscoveredPage:
    """An unchanged page (a 304 or its earlier HTML) as its stored discovery; any other page as it is."""
    if not discovered.unchanged:
        return discovered
    if snapshot is None:  # cannot happen: previous() found it; audit the page as failed rather than guess
        discovered.page.status, discovered.page.error_code = "failed", "internal_error"
        discovered.page.error = "its earlier discovery was not found in the state; run with --refresh"
        return discovered
    snapshot.page.final_url = discovered.page.final_url or snapshot.page.final_url
    return DiscoveredPage(
        snapshot.page, discovered.source, snapshot.links, snapshot.canonical, snapshot.sha256,
        discovered.validators, True, discovered.read_with,
    )  # fmt: skip
