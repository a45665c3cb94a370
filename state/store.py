"""The state of a site audit in SQLite: the frontier, finished pages, and captions by content.

One file (``--state audit.db``), WAL journal, one writer (the engine's main thread), every
change in a transaction. A process killed at any point (even ``kill -9``) leaves the last
committed state; running the same command again continues from it:

* ``urls``: every URL the crawl met, in discovery order (``seq``), with its depth, where it was
  found, and its status: ``queued``, ``audited``, ``failed`` or ``skipped`` with a reason.
* ``pages``: the finished ``PageReport`` of every audited or failed page (records included).
* ``captions``: captions by image SHA-256 and model settings, so no image is captioned twice.
* ``meta``: what the run was started with (start URLs, scope), checked on resume.

A state whose crawl ran to its end is a finished audit: running the same command again audits
the site afresh (pages fetched again, to see what changed) and reuses every stored caption.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from records import PageReport

SCHEMA_VERSION = 1
QUEUED, AUDITED, FAILED, SKIPPED = "queued", "audited", "failed", "skipped"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS urls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    depth INTEGER NOT NULL,
    via TEXT NOT NULL,
    found_on TEXT,
    lastmod TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS urls_status ON urls (status, seq);
CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, seq INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS captions (
    sha256 TEXT NOT NULL, model_key TEXT NOT NULL, caption TEXT NOT NULL, raw TEXT NOT NULL,
    PRIMARY KEY (sha256, model_key)
);
"""


class StateMismatchError(ValueError):
    """The state file belongs to another audit (other start URLs or scope)."""


@dataclass(frozen=True)
class UrlRow:
    """One URL the crawl met."""

    seq: int
    url: str
    depth: int
    via: str
    found_on: str | None
    lastmod: str | None
    status: str
    reason: str | None
    detail: str | None

    def to_dict(self) -> dict[str, Any]:
        """The report's view."""
        return {
            "url": self.url,
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
            "depth": self.depth,
            "via": self.via,
            "found_on": self.found_on,
            "lastmod": self.lastmod,
        }


class AuditStore:
    """A site audit's state; ``path=None`` keeps it in memory (a run without ``--state``)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = str(path) if path else ":memory:"
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        tables = {name for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and not {"meta", "urls", "pages"} <= tables:  # another program's database: left as it is
            self._db.close()
            raise StateMismatchError(f"{self.path} is a database of something else, not an audit's state; "
                                     "use a new --state file")  # fmt: skip
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._depth = 0

    @property
    def db(self) -> sqlite3.Connection:
        """The connection (for the state's other tables, :mod:`state.history`)."""
        return self._db

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change (nested uses join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield self._db
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._depth = 0

    # --- meta ------------------------------------------------------------------------

    def bind(self, identity: dict[str, Any]) -> bool:
        """Record what this audit is; on an existing state, check it matches. True when resuming."""
        wanted = json.dumps(identity, sort_keys=True)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
        if row is None:
            with self.transaction() as db:
                db.execute("INSERT INTO meta VALUES ('identity', ?), ('schema', ?)", (wanted, str(SCHEMA_VERSION)))
            return False
        if row[0] != wanted:
            raise StateMismatchError(
                f"{self.path} holds another audit ({row[0]}); use a new --state file or the same command"
            )
        return True

    def identity(self) -> dict[str, Any] | None:
        """What audit this state holds (None: a new file)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
        return json.loads(row[0]) if row else None

    def put_meta(self, key: str, value: Any) -> None:
        """Keep a JSON value beside the audit (the model block of its report)."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str) -> Any:
        """A value ``put_meta`` kept (None when absent)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def finished(self) -> bool:
        """A crawl ran to its end here: pages exist and nothing is queued."""
        return self.page_count() > 0 and self.count(QUEUED) == 0

    def start_over(self) -> None:
        """Forget the crawl (URLs and pages) for a fresh audit; captions stay for reuse."""
        with self.transaction() as db:
            db.execute("DELETE FROM urls")
            db.execute("DELETE FROM pages")

    # --- urls ------------------------------------------------------------------------

    def add_url(
        self,
        url: str,
        depth: int,
        via: str,
        found_on: str | None,
        status: str,
        reason: str | None = None,
        detail: str | None = None,
        lastmod: str | None = None,
    ) -> bool:
        """Record a URL met for the first time; False when it was known already."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO urls (url, depth, via, found_on, lastmod, status, reason, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (url, depth, via, found_on, lastmod, status, reason, detail),
        )
        return cursor.rowcount == 1

    def knows(self, url: str) -> bool:
        """The crawl has met this URL."""
        return self._db.execute("SELECT 1 FROM urls WHERE url = ?", (url,)).fetchone() is not None

    def url(self, url: str) -> UrlRow | None:
        """The row of a URL."""
        row = self._db.execute(f"SELECT {_URL_COLUMNS} FROM urls WHERE url = ?", (url,)).fetchone()
        return UrlRow(*row) if row else None

    def set_status(self, url: str, status: str, reason: str | None = None, detail: str | None = None) -> None:
        """Move a URL to its outcome."""
        self._db.execute(
            "UPDATE urls SET status = ?, reason = ?, detail = ? WHERE url = ?", (status, reason, detail, url)
        )

    def count(self, *statuses: str) -> int:
        """How many URLs have one of these statuses (all when none given)."""
        if not statuses:
            return int(self._db.execute("SELECT COUNT(*) FROM urls").fetchone()[0])
        marks = ",".join("?" * len(statuses))
        return int(self._db.execute(f"SELECT COUNT(*) FROM urls WHERE status IN ({marks})", statuses).fetchone()[0])

    def queued(self, limit: int, after_seq: int = 0) -> list[UrlRow]:
        """The next queued URLs in discovery order."""
        rows = self._db.execute(
            f"SELECT {_URL_COLUMNS} FROM urls WHERE status = ? AND seq > ? ORDER BY seq LIMIT ?",
            (QUEUED, after_seq, limit),
        ).fetchall()
        return [UrlRow(*row) for row in rows]

    def urls(self) -> Iterator[UrlRow]:
        """Every URL, in discovery order."""
        for row in self._db.execute(f"SELECT {_URL_COLUMNS} FROM urls ORDER BY seq"):
            yield UrlRow(*row)

    # --- pages -----------------------------------------------------------------------

    def save_page(self, page: PageReport, status: str, reason: str | None = None, detail: str | None = None) -> None:
        """Keep a finished page and its URL's outcome, atomically."""
        with self.transaction() as db:
            seq_row = db.execute("SELECT seq FROM urls WHERE url = ?", (page.url,)).fetchone()
            seq = seq_row[0] if seq_row else 0
            db.execute("INSERT OR REPLACE INTO pages VALUES (?, ?, ?)", (page.url, seq, json.dumps(page.to_state())))
            self.set_status(page.url, status, reason, detail)

    def pages(self) -> Iterator[PageReport]:
        """Finished pages in discovery order."""
        for (state,) in self._db.execute("SELECT state FROM pages ORDER BY seq"):
            yield PageReport.from_state(json.loads(state))

    def page_count(self) -> int:
        """How many pages are finished."""
        return int(self._db.execute("SELECT COUNT(*) FROM pages").fetchone()[0])

    # --- captions --------------------------------------------------------------------

    def put_captions(self, model_key: str, captions: list[tuple[str, str, str]]) -> None:
        """Keep ``(sha256, caption, raw)`` triples for this model and settings."""
        if captions:
            with self.transaction() as db:
                db.executemany(
                    "INSERT OR IGNORE INTO captions VALUES (?, ?, ?, ?)",
                    [(sha, model_key, caption, raw) for sha, caption, raw in captions],
                )

    def captions(self, model_key: str) -> dict[str, tuple[str, str]]:
        """Every stored caption for this model and settings, by SHA-256."""
        rows = self._db.execute("SELECT sha256, caption, raw FROM captions WHERE model_key = ?", (model_key,))
        return {sha: (caption, raw) for sha, caption, raw in rows}


_URL_COLUMNS = "seq, url, depth, via, found_on, lastmod, status, reason, detail"
