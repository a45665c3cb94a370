"""Sharded output for big runs (``--shard-dir``): finished pages stream to shard files.

A shard is ``shard-NNNNN.jsonl.gz``: one JSON line per finished page (its outcome and its
``PageReport`` state, records included), ``pages_per_shard`` pages at most. It is written as
``.part``, closed, synced and renamed; then its completion marker ``shard-NNNNN.done`` (JSON: page
count, the file's SHA-256, every URL with its outcome) is written last, atomically. Only then do the
shard's URLs become ``audited``/``failed`` in the state store, in one transaction.

So a shard without a marker is not trusted: a rerun deletes it and its pages, still ``queued`` in
the store, are audited again; a shard with a marker is never recomputed (``reconcile`` replays its
marker into the store first, in case the process died between the marker and the store). The
driver holds at most one open shard file and no records: the reports are built by streaming the
shards (:mod:`reports.sharded`).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from library import sha256_file
from records import PageReport
from state.store import AuditStore

SHARD_PREFIX = "shard-"
MARKER_SUFFIX = ".done"
SHARD_SUFFIX = ".jsonl.gz"


class ShardError(ValueError):
    """A completed shard does not match its marker (changed or damaged since it was written)."""


def _shard_path(folder: Path, number: int) -> Path:
    return folder / f"{SHARD_PREFIX}{number:05d}{SHARD_SUFFIX}"


def _marker_path(folder: Path, number: int) -> Path:
    return folder / f"{SHARD_PREFIX}{number:05d}{MARKER_SUFFIX}"


def _number(path: Path) -> int:
    return int(path.name[len(SHARD_PREFIX) :].split(".", 1)[0])


def _write_atomically(path: Path, text: str) -> None:
    """Write a small file so that it exists whole or not at all."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def markers(folder: Path) -> list[dict[str, Any]]:
    """The completion markers of a shard folder, in shard order."""
    found = sorted(folder.glob(f"{SHARD_PREFIX}*{MARKER_SUFFIX}"), key=_number)
    return [json.loads(path.read_text(encoding="utf-8")) for path in found]


def read_pages(folder: Path) -> Iterator[tuple[str, PageReport]]:
    """Every page of the completed shards, ``(status, page)``, one at a time; checked against the markers."""
    for marker in markers(folder):
        path = _shard_path(folder, marker["shard"])
        if not path.exists() or sha256_file(path) != marker["sha256"]:
            raise ShardError(f"{path} does not match its completion marker; delete the folder's shards and rerun")
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                entry = json.loads(line)
                yield entry["status"], PageReport.from_state(entry["page"])


class ShardWriter:
    """Finished pages to shard files; a shard's URLs reach the store when its marker is written."""

    def __init__(self, folder: str | Path, pages_per_shard: int, store: AuditStore) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pages_per_shard = pages_per_shard
        self.store = store
        self.pages = 0  # pages in completed shards
        self.next_number = 0
        self._handle: IO[str] | None = None
        self._outcomes: list[tuple[str, str, str | None, str | None]] = []
        self.reconcile()

    def reconcile(self) -> None:
        """Replay completed shards' markers into the store; delete what a dead run left unfinished."""
        done = markers(self.folder)
        with self.store.transaction():
            for marker in done:
                for url, status, reason, detail in marker["urls"]:
                    self.store.set_status(url, status, reason, detail)
        numbers = {marker["shard"] for marker in done}
        for path in self.folder.glob(f"{SHARD_PREFIX}*"):
            if path.name.endswith((".part", ".tmp")) or _number(path) not in numbers:
                path.unlink()
        self.pages = sum(marker["pages"] for marker in done)
        self.next_number = max(numbers, default=-1) + 1

    def add(self, url: str, page: PageReport, status: str, reason: str | None, detail: str | None) -> list[str]:
        """Append a finished page; returns the URLs committed when this completed a shard."""
        if self._handle is None:
            part = _shard_path(self.folder, self.next_number).with_suffix(".gz.part")
            self._handle = gzip.open(part, "wt", encoding="utf-8")  # noqa: SIM115 - open across calls
        entry = {"url": url, "status": status, "reason": reason, "detail": detail, "page": page.to_state()}
        self._handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._outcomes.append((url, status, reason, detail))
        if len(self._outcomes) >= self.pages_per_shard:
            return self.complete()
        return []

    def complete(self) -> list[str]:
        """Close the open shard: file, then marker, then the store. Returns its URLs."""
        if self._handle is None:
            return []
        self._handle.close()
        self._handle = None
        number = self.next_number
        final = _shard_path(self.folder, number)
        part = final.with_suffix(".gz.part")
        with part.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(part, final)
        marker = {
            "shard": number,
            "pages": len(self._outcomes),
            "sha256": sha256_file(final),
            "urls": [list(outcome) for outcome in self._outcomes],
        }
        _write_atomically(_marker_path(self.folder, number), json.dumps(marker, ensure_ascii=False))
        with self.store.transaction():
            for url, status, reason, detail in self._outcomes:
                self.store.set_status(url, status, reason, detail)
        committed = [url for url, *_ in self._outcomes]
        self.pages += len(committed)
        self.next_number += 1
        self._outcomes = []
        return committed

    def abandon(self) -> None:
        """Close the open shard without completing it (the run stopped): the next run redoes its pages."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
