"""The job store: every audit the service runs, in one SQLite database under ``--data-dir``.

A job is a row: its id, state (queued, running, done, failed, cancelled), the options it runs with,
who submitted it, its progress and timestamps. Its files (the audit's own state database and the
reports) live in ``<data-dir>/jobs/<id>/``. WAL journal, every change in a short ``BEGIN IMMEDIATE``
transaction, a connection per call: any thread may use the store, and a process killed at any
point leaves the last committed state. On start, ``recover`` puts interrupted jobs back in the
queue (ahead of the rest); the audit's own state makes them continue where they stopped.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE_STATES = (QUEUED, RUNNING)
FINAL_STATES = (DONE, FAILED, CANCELLED)
WEB_OWNER = "web"  # jobs submitted through the web form
OPEN_API_OWNER = "api"  # jobs submitted through the API when it needs no key
CLI_OWNER = "cli"  # audits the CLI runs itself (``cli.py --data-dir``); only the CLI resumes them

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    owner TEXT NOT NULL,
    site TEXT NOT NULL,
    urls TEXT NOT NULL,
    crawl INTEGER NOT NULL,
    options TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL,
    resumes INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    pages_done INTEGER NOT NULL DEFAULT 0,
    pages_known INTEGER NOT NULL DEFAULT 0,
    images_done INTEGER NOT NULL DEFAULT 0,
    images_known INTEGER NOT NULL DEFAULT 0,
    summary TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_at);
CREATE INDEX IF NOT EXISTS jobs_site ON jobs (site, created_at);
"""


class JobError(Exception):
    """A request about jobs that cannot be met; the message is one sentence for a person."""


class QueueFullError(JobError):
    """The queue (or a key's share of it) is full: answer at once (HTTP 429), never wait."""


class JobNotFoundError(JobError):
    """No such job (or not visible to this caller)."""


@dataclass(frozen=True)
class Limits:
    """How many jobs may wait and run: in all, and per API key."""

    max_queued: int = 20
    per_key_queued: int = 5
    per_key_running: int = 1


@dataclass
class Job:
    """One audit job as stored."""

    id: str
    state: str
    owner: str
    site: str
    urls: list[str]
    crawl: bool
    options: dict[str, Any]
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    resumes: int = 0
    cancel_requested: bool = False
    pages_done: int = 0
    pages_known: int = 0
    images_done: int = 0
    images_known: int = 0
    summary: dict[str, Any] | None = None
    error: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        """A job from its database row."""
        values = dict(row)
        values["urls"] = json.loads(values["urls"])
        values["options"] = json.loads(values["options"])
        values["crawl"] = bool(values["crawl"])
        values["cancel_requested"] = bool(values["cancel_requested"])
        values["summary"] = json.loads(values["summary"]) if values["summary"] else None
        return cls(**values)

    @property
    def finished(self) -> bool:
        """The job reached a final state."""
        return self.state in FINAL_STATES


def shown_on_form(job: Job) -> bool:
    """A job the web form shows by its link: the form's, the CLI's and the open API's (a job of an API key
    is shown only to that key)."""
    return job.owner in (WEB_OWNER, CLI_OWNER, OPEN_API_OWNER)


def new_job_id() -> str:
    """An unguessable id (128 random bits): the job page's link is its capability."""
    return secrets.token_hex(16)


class JobStore:
    """Jobs in ``<data_dir>/jobs.db``; their files in ``<data_dir>/jobs/<id>/``."""

    def __init__(self, data_dir: str | Path, limits: Limits | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.limits = limits or Limits()
        self.path = self.data_dir / "jobs.db"
        self.jobs_dir = self.data_dir / "jobs"
        self.jobs_dir.mkdir(exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def job_dir(self, job_id: str) -> Path:
        """Where a job's state and reports live."""
        return self.jobs_dir / job_id

    # --- submitting ------------------------------------------------------------------

    def submit(
        self,
        urls: list[str],
        crawl: bool,
        options: dict[str, Any],
        site: str,
        owner: str = WEB_OWNER,
        owner_limits: Limits | None = None,
    ) -> Job:
        """Queue a job, or raise QueueFullError at once when the queue (or, with ``owner_limits``, the
        owner's share of it) is full."""
        now = time.time()
        job_id = new_job_id()
        with self._transaction() as db:
            queued = db.execute("SELECT COUNT(*) FROM jobs WHERE state = ?", (QUEUED,)).fetchone()[0]
            if queued >= self.limits.max_queued:
                raise QueueFullError(
                    f"The server is busy: {queued} audits are waiting, the most it queues. Try again in a few minutes."
                )
            if owner_limits is not None:  # an API key's share of the queue
                mine = db.execute(
                    "SELECT COUNT(*) FROM jobs WHERE owner = ? AND state = ?", (owner, QUEUED)
                ).fetchone()[0]
                if mine >= owner_limits.per_key_queued:
                    raise QueueFullError(
                        f"This API key already has {mine} audits waiting, its limit; wait for one to start."
                    )
            db.execute(
                "INSERT INTO jobs (id, state, owner, site, urls, crawl, options, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, QUEUED, owner, site, json.dumps(urls), int(crawl), json.dumps(options), now, now),
            )
        self.job_dir(job_id).mkdir(parents=True, exist_ok=True)
        return self.get(job_id)

    def start_here(self, urls: list[str], crawl: bool, options: dict[str, Any], site: str, owner: str) -> Job:
        """A job this process runs itself (the CLI): running from the start, outside the queue and its limits.

        The same request left unfinished by an earlier run (killed, interrupted) is continued instead.
        """
        now = time.time()
        with self._transaction() as db:
            for row in db.execute(
                "SELECT * FROM jobs WHERE owner = ? AND state IN (?, ?) AND crawl = ? ORDER BY created_at DESC",
                (owner, QUEUED, RUNNING, int(crawl)),
            ).fetchall():
                if json.loads(row["urls"]) == urls and json.loads(row["options"]) == options:
                    db.execute(
                        "UPDATE jobs SET state = ?, resumes = resumes + 1, updated_at = ? WHERE id = ?",
                        (RUNNING, now, row["id"]),
                    )
                    job_id = row["id"]
                    break
            else:
                job_id = new_job_id()
                db.execute(
                    "INSERT INTO jobs (id, state, owner, site, urls, crawl, options, created_at, started_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (job_id, RUNNING, owner, site, json.dumps(urls), int(crawl), json.dumps(options), now, now, now),
                )
        self.job_dir(job_id).mkdir(parents=True, exist_ok=True)
        return self.get(job_id)

    # --- reading ---------------------------------------------------------------------

    def get(self, job_id: str, owner: str | None = None) -> Job:
        """One job; JobNotFoundError when absent or, with ``owner``, not theirs."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or (owner is not None and row["owner"] != owner):
            raise JobNotFoundError("There is no audit with that id.")
        return Job.from_row(row)

    def list(
        self, site: str | None = None, owner: str | None = None, state: str | None = None, limit: int = 50
    ) -> list[Job]:
        """The newest jobs first, filtered by site, owner or state."""
        where, args = [], []
        for column, value in (("site", site), ("owner", owner), ("state", state)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM jobs" + (f" WHERE {' AND '.join(where)}" if where else "")
        with self._connect() as db:
            rows = db.execute(f"{sql} ORDER BY created_at DESC LIMIT ?", (*args, limit)).fetchall()
        return [Job.from_row(row) for row in rows]

    def previous_done(self, job: Job) -> Job | None:
        """The newest finished audit of the same site and kind before this one (for the comparison)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE site = ? AND crawl = ? AND state = ? AND id != ? AND created_at < ?"
                " ORDER BY created_at DESC LIMIT 1",
                (job.site, int(job.crawl), DONE, job.id, job.created_at),
            ).fetchone()
        return Job.from_row(row) if row else None

    def queued_ahead(self, job: Job) -> int:
        """How many queued jobs start before this one."""
        with self._connect() as db:
            row = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE state = ? AND created_at < ? AND id != ?",
                (QUEUED, job.created_at, job.id),
            ).fetchone()
        return int(row[0])

    def counts(self) -> dict[str, int]:
        """Jobs by state."""
        with self._connect() as db:
            rows = db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {state: count for state, count in rows}

    # --- running ---------------------------------------------------------------------

    def recover(self) -> list[str]:
        """After a restart: jobs left running go back to the queue, to resume first. Their ids."""
        with self._transaction() as db:
            where = "state = ? AND owner != ?"  # the CLI resumes its own jobs when run again
            ids = [row[0] for row in db.execute(f"SELECT id FROM jobs WHERE {where}", (RUNNING, CLI_OWNER))]
            db.execute(
                f"UPDATE jobs SET state = ?, resumes = resumes + 1, updated_at = ? WHERE {where}",
                (QUEUED, time.time(), RUNNING, CLI_OWNER),
            )
        return ids

    def claim(self, key_limits: dict[str, Limits] | None = None) -> Job | None:
        """Take the next job to run: interrupted ones first, then by age, within each owner's running limit."""
        key_limits = key_limits or {}
        now = time.time()
        with self._transaction() as db:
            counted = db.execute("SELECT owner, COUNT(*) FROM jobs WHERE state = ? GROUP BY owner", (RUNNING,))
            running: dict[str, int] = {owner: count for owner, count in counted}
            rows = db.execute(
                "SELECT id, owner FROM jobs WHERE state = ? ORDER BY resumes > 0 DESC, created_at", (QUEUED,)
            ).fetchall()
            for row in rows:
                owner = row["owner"]
                if owner in key_limits and running.get(owner, 0) >= key_limits[owner].per_key_running:
                    continue
                db.execute(
                    "UPDATE jobs SET state = ?, started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ?",
                    (RUNNING, now, now, row["id"]),
                )
                job_id = row["id"]
                break
            else:
                return None
        return self.get(job_id)

    def progress(self, job_id: str, pages_done: int, pages_known: int, images_done: int, images_known: int) -> bool:
        """Record progress; True when a cancel was requested meanwhile."""
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET pages_done = ?, pages_known = ?, images_done = ?, images_known = ?, updated_at = ?"
                " WHERE id = ?",
                (pages_done, pages_known, images_done, images_known, time.time(), job_id),
            )
            row = db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def cancel_requested(self, job_id: str) -> bool:
        """Whether someone asked to stop this job (or deleted it)."""
        with self._connect() as db:
            row = db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row is None or bool(row[0])

    def finish(self, job_id: str, state: str, summary: dict[str, Any] | None = None, error: str | None = None) -> None:
        """A job reached a final state (done, failed or cancelled)."""
        assert state in FINAL_STATES
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET state = ?, summary = ?, error = ?, finished_at = ?, updated_at = ? WHERE id = ?",
                (state, json.dumps(summary) if summary else None, error, now, now, job_id),
            )

    def cancel(self, job_id: str, owner: str | None = None) -> Job:
        """Cancel: a queued job ends now; a running one stops at its next step. Final jobs are left as they are."""
        self.get(job_id, owner)
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET state = ?, finished_at = ?, updated_at = ?, cancel_requested = 1"
                " WHERE id = ? AND state = ?",
                (CANCELLED, now, now, job_id, QUEUED),
            )
            db.execute(
                "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ? AND state = ?",
                (now, job_id, RUNNING),
            )
        return self.get(job_id)

    def delete(self, job_id: str, owner: str | None = None) -> bool:
        """Forget a final or queued job and remove its files. False while it still runs (cancel it first)."""
        self.get(job_id, owner)
        with self._transaction() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is not None and row[0] == RUNNING:
                db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
                return False
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
        return True

    def expire(self, keep_days: float) -> list[str]:
        """Delete final jobs that finished more than ``keep_days`` ago, with their files."""
        cutoff = time.time() - keep_days * 86400
        with self._connect() as db:
            ids = [
                row[0]
                for row in db.execute(
                    f"SELECT id FROM jobs WHERE state IN ({','.join('?' * len(FINAL_STATES))}) AND finished_at < ?",
                    (*FINAL_STATES, cutoff),
                )
            ]
        for job_id in ids:
            self.delete(job_id)
        return ids
