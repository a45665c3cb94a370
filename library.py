"""Local photo libraries: scan a folder, plan descriptive renames, apply a reviewed plan safely.

A rename plan is a CSV (``source,target,sha256,caption``) that a person reviews and edits.
Applying it never overwrites a file, skips rows whose source is gone or changed since the
plan was made (sha256), and writes an undo plan in the same format.
"""

from __future__ import annotations

import csv
import errno
import fnmatch
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from records import PageReport
from reports.cells import neutral

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".bmp", ".avif", ".svg", ".tif", ".tiff", ".heic", ".heif"}
)
PLAN_COLUMNS = ["source", "target", "sha256", "caption"]


def scan_folder(folder: Path, glob: str | None = None) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted); no hidden folders, no symlinks.

    Without ``glob`` every file with an image extension is listed (unsupported formats too,
    so they appear in the reports as skipped); ``glob`` matches the path relative to the folder.
    """
    root = folder.resolve()
    found: list[Path] = []
    for directory, subdirs, files in os.walk(root, followlinks=False):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(directory) / name
            if name.startswith(".") or path.is_symlink():
                continue
            relative = path.relative_to(root).as_posix()
            if glob:
                if fnmatch.fnmatch(relative, glob) or fnmatch.fnmatch(name, glob):
                    found.append(path)
            elif path.suffix.lower() in IMAGE_EXTENSIONS:
                found.append(path)
    return found


def sha256_file(path: Path) -> str:
    """Hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_rename_plan(page: PageReport, path: str | Path) -> int:
    """Write the plan for a folder report; return the number of rows.

    Targets sit next to their source, never collide with an existing file or with another
    row (numbered ``-2``, ``-3``…), and keep the extension.
    """
    planned: set[Path] = set()
    rows = []
    for record in page.images:
        if not (record.local_path and record.suggested_filename and record.sha256):
            continue
        source = Path(record.local_path)
        stem, suffix = os.path.splitext(record.suggested_filename)
        target, n = source.with_name(record.suggested_filename), 2
        while target.exists() or target in planned:
            target, n = source.with_name(f"{stem}-{n}{suffix}"), n + 1
        planned.add(target)
        rows.append(
            {"source": str(source), "target": str(target), "sha256": record.sha256,
             "caption": neutral(record.caption or "")}  # opened in a spreadsheet: a caption never runs as a formula
        )
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=PLAN_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


@dataclass(frozen=True)
class RenameOutcome:
    """What happened to one row of a plan."""

    source: str
    target: str
    status: str  # renamed | skipped_missing | skipped_changed | skipped_exists | skipped_invalid | failed
    detail: str = ""


def _read_plan(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = set(PLAN_COLUMNS[:3]) - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path} is not a rename plan (missing columns: {', '.join(sorted(missing))})")
        yield from reader


def _move_no_overwrite(source: Path, target: Path) -> None:
    """Rename without ever replacing an existing file (hard link then unlink when possible)."""
    try:
        os.link(source, target)  # fails with EEXIST atomically if target exists
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise FileExistsError(str(target)) from exc
        if target.exists():  # no hard links here (other file system…): check, then rename
            raise FileExistsError(str(target)) from exc
        source.rename(target)
        return
    source.unlink()


def apply_renames(plan: str | Path, undo: str | Path | None = None) -> tuple[list[RenameOutcome], Path]:
    """Carry out a reviewed plan; return each row's outcome and the undo plan's path."""
    plan_path = Path(plan)
    undo_path = Path(undo) if undo else plan_path.with_name(plan_path.stem + ".undo.csv")
    outcomes: list[RenameOutcome] = []
    undo_rows: list[dict[str, str]] = []
    for row in _read_plan(plan_path):
        source, target = Path(row["source"]), Path(row["target"])
        if not row["source"] or not row["target"] or source.parent.resolve() != target.parent.resolve():
            outcomes.append(
                RenameOutcome(
                    row["source"], row["target"], "skipped_invalid", "source and target must be in the same folder"
                )
            )
            continue
        if not source.is_file():
            outcomes.append(RenameOutcome(str(source), str(target), "skipped_missing", "source no longer exists"))
            continue
        if sha256_file(source) != row["sha256"]:
            outcomes.append(RenameOutcome(str(source), str(target), "skipped_changed", "source changed since the plan"))
            continue
        try:
            _move_no_overwrite(source, target)
        except FileExistsError:
            outcomes.append(RenameOutcome(str(source), str(target), "skipped_exists", "target exists; not overwritten"))
            continue
        except OSError as exc:
            outcomes.append(RenameOutcome(str(source), str(target), "failed", str(exc)))
            continue
        outcomes.append(RenameOutcome(str(source), str(target), "renamed"))
        undo_rows.append(
            {"source": str(target), "target": str(source), "sha256": row["sha256"], "caption": row.get("caption", "")}
        )
    with undo_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=PLAN_COLUMNS)
        writer.writeheader()
        writer.writerows(undo_rows)
    return outcomes, undo_path
