"""What a sharded run leaves beside its shards for the reports: ``run.json`` (the model, the site
block, the elapsed time) and ``urls.jsonl`` (every URL met, with its outcome), streamed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from records import AuditReport

RUN_FILE, URLS_FILE = "run.json", "urls.jsonl"


def write_run_files(folder: Path, report: AuditReport, url_rows: Iterable[dict[str, Any]]) -> None:
    """What the report needs besides the shards: ``run.json`` and ``urls.jsonl`` (streamed)."""
    with (folder / URLS_FILE).open("w", encoding="utf-8") as handle:
        for row in url_rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    run = {"model": report.model, "site": report.site, "elapsed_s": report.elapsed_s}
    (folder / RUN_FILE).write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")


def read_run(folder: Path) -> dict[str, Any]:
    """``run.json``: the model, the site block and the elapsed time."""
    return json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))


def url_rows(folder: Path) -> Iterator[dict[str, Any]]:
    """``urls.jsonl``, one URL's row at a time."""
    with (folder / URLS_FILE).open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)
