"""What earlier runs of an audit saw, so a re-audit asks the site only what changed.

Kept in the state file beside the crawl (and, unlike the crawl, kept when a finished audit starts
over):

* ``discoveries``: each page's validators (ETag, Last-Modified), the SHA-256 of its HTML and its
  discovery as it was before its images were fetched (records, links, canonical URL). A page that
  answers ``304`` or the same bytes is audited from it, without rendering it again.
* ``seen_images``: each image URL's SHA-256 in the run that last saw it.
* ``meta.run``: the run number; a resumed run keeps it, a new audit of a finished state adds one.

Each run counts pages and images as ``unchanged``, ``changed``, ``new`` and ``gone`` (seen by the
previous run, not by this one) for the report.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from records import ImageRecord, PageReport
from state.store import AuditStore

KINDS = ("unchanged", "changed", "new", "gone")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS discoveries (
    url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, sha256 TEXT NOT NULL, snapshot TEXT NOT NULL,
    run INTEGER NOT NULL, kind TEXT NOT NULL, read_with TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS seen_images (
    url TEXT PRIMARY KEY, sha256 TEXT, run INTEGER NOT NULL, kind TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class PreviousPage:
    """What the last run that audited a page read from it: enough to ask whether it changed."""

    etag: str | None
    last_modified: str | None
    sha256: str
    read_with: str = ""  # how it was read (pipeline.page_stage.reading_key)

    def conditional_headers(self) -> dict[str, str]:
        """``If-None-Match`` / ``If-Modified-Since`` for the page's request."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass
class Snapshot:
    """A page's discovery as it was before its images were fetched."""

    page: PageReport
    links: list[str]
    canonical: str | None
    sha256: str


class History:
    """The audit's memory of earlier runs (see the module); one writer, the engine's thread."""

    def __init__(self, store: AuditStore, new_run: bool) -> None:
        self.store = store
        store.db.executescript(_SCHEMA)
        run = int(store.meta("run") or 0)
        if new_run or run == 0:
            run += 1
            store.put_meta("run", run)
        self.run = run

    # --- pages -----------------------------------------------------------------------

    def previous(self, url: str) -> PreviousPage | None:
        """The page's validators and hash from an earlier run (None: never audited)."""
        row = self.store.db.execute(
            "SELECT etag, last_modified, sha256, read_with FROM discoveries WHERE url = ? AND run < ?", (url, self.run)
        ).fetchone()
        return PreviousPage(*row) if row else None

    def carried(self, url: str) -> str:
        """The page's validators, hash and stored discovery as one JSON text, for a worker elsewhere
        (the Ray engine); "" when an earlier run never audited it. See :func:`from_carried`."""
        row = self.store.db.execute(
            "SELECT etag, last_modified, sha256, read_with, snapshot FROM discoveries WHERE url = ? AND run < ?",
            (url, self.run),
        ).fetchone()
        if row is None:
            return ""
        fields = dict(zip(("etag", "last_modified", "sha256", "read_with"), row[:4], strict=True))
        return json.dumps(fields | {"snapshot": json.loads(row[4])})

    def snapshot(self, url: str) -> Snapshot | None:
        """The page's stored discovery."""
        row = self.store.db.execute("SELECT snapshot, sha256 FROM discoveries WHERE url = ?", (url,)).fetchone()
        if row is None:
            return None
        state = json.loads(row[0])
        return Snapshot(PageReport.from_state(state["page"]), state["links"], state["canonical"], row[1])

    def remember(
        self,
        url: str,
        page: PageReport,
        links: list[str],
        canonical: str | None,
        sha256: str,
        validators: tuple[str | None, str | None],
        read_with: str = "",
    ) -> None:
        """Keep a page's fresh discovery (before its images are fetched), counted against its last one."""
        known = self.store.db.execute("SELECT run, sha256 FROM discoveries WHERE url = ?", (url,)).fetchone()
        if known is not None and known[0] == self.run:
            return  # kept already by this run (a resumed run)
        kind = "new" if known is None else ("unchanged" if known[1] == sha256 else "changed")  # --refresh: same HTML
        snapshot = json.dumps({"page": page.to_state(), "links": links, "canonical": canonical})
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO discoveries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (url, validators[0], validators[1], sha256, snapshot, self.run, kind, read_with),
            )

    def reused(self, url: str) -> None:
        """The page answered 304 or the same HTML: its stored discovery stands for this run, unchanged."""
        with self.store.transaction() as db:
            db.execute("UPDATE discoveries SET run = ?, kind = 'unchanged' WHERE url = ?", (self.run, url))

    # --- images ----------------------------------------------------------------------

    def count_image(self, record: ImageRecord) -> None:
        """An image URL's first record is final: unchanged, changed or new against the last run that saw it."""
        if not record.source.startswith(("http://", "https://")):
            return
        row = self.store.db.execute(
            "SELECT sha256, run FROM seen_images WHERE url = ?", (record.source,)
        ).fetchone()
        if row is not None and row[1] == self.run:
            return  # counted already in this run (a resumed run)
        kind = "new" if row is None else ("unchanged" if row[0] == record.sha256 else "changed")
        with self.store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO seen_images VALUES (?, ?, ?, ?)", (record.source, record.sha256, self.run, kind)
            )

    # --- the report ------------------------------------------------------------------

    def changes(self) -> dict[str, Any]:
        """This run's counts: ``{"run": N, "pages": {...}, "images": {...}}``."""
        return {"run": self.run, "pages": self._counts("discoveries"), "images": self._counts("seen_images")}

    def _counts(self, table: str) -> dict[str, int]:
        db = self.store.db
        rows = db.execute(f"SELECT kind, COUNT(*) FROM {table} WHERE run = ? GROUP BY kind", (self.run,)).fetchall()
        counts = {kind: 0 for kind in KINDS} | dict(rows)
        counts["gone"] = db.execute(f"SELECT COUNT(*) FROM {table} WHERE run = ?", (self.run - 1,)).fetchone()[0]
        return counts


def from_carried(text: str) -> tuple[PreviousPage, Snapshot] | None:
    """What :meth:`History.carried` wrote (None for "")."""
    if not text:
        return None
    data = json.loads(text)
    state = data["snapshot"]
    snapshot = Snapshot(PageReport.from_state(state["page"]), state["links"], state["canonical"], data["sha256"])
    return PreviousPage(data["etag"], data["last_modified"], data["sha256"], data["read_with"]), snapshot


def carry_over(previous_state: Path, state: Path) -> bool:
    """Start a new audit's state from an earlier audit of the same site (the service's next job): its
    pages' discoveries, its images, its captions and its stored responses (hard links: the earlier
    job's files stay as they were). False when there is nothing to carry or the new state exists."""
    if state.exists() or not previous_state.exists():
        return False
    source = AuditStore(previous_state)
    try:
        History(source, new_run=False)  # its tables exist, even if it predates them
        run = int(source.meta("run") or 0)
    finally:
        source.close()
    target = AuditStore(state)
    try:
        History(target, new_run=False)
        db = target.db
        db.execute("ATTACH DATABASE ? AS earlier", (str(previous_state),))
        try:
            with target.transaction():
                for table in ("discoveries", "seen_images", "captions"):
                    db.execute(f"INSERT OR REPLACE INTO {table} SELECT * FROM earlier.{table}")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('run', ?)", (json.dumps(run),))
        finally:
            db.execute("DETACH DATABASE earlier")
    except sqlite3.Error:
        target.close()
        state.unlink(missing_ok=True)
        return False
    target.close()
    responses = Path(f"{previous_state}.responses")
    if responses.is_dir():
        shutil.copytree(responses, Path(f"{state}.responses"), copy_function=os.link, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.lock", "*.part"))  # fmt: skip
    return True
