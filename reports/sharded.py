"""Reports built from a shard folder (``--shard-dir``), streaming: no pass holds all records.

The engine leaves in the folder its completed shards (:mod:`state.shards`), ``urls.jsonl`` (every
URL met, with its outcome) and ``run.json`` (the model, the site block, the elapsed time;
:mod:`state.run_files`). The
reports are then built in passes over the shards, one page in memory at a time:

1. every image occurrence goes into a scratch SQLite file, grouped by image (content or URL),
   which gives the site's images view and the ``inconsistent_alt`` findings, one image at a time,
   and the site names the pages state (for the link-target names of pages that state none);
2. ``captions.txt``, ``report.csv``, ``report.json`` (pages streamed between the images view and
   the summary) and the counts for ``pages.csv``, with the summary counted as pages go by;
3. ``report.html``, streamed by the template (its summary needs pass 2).

The JSON is the same document ``write_json`` writes (same schema, same keys), with pages in the
order they finished rather than in discovery order.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from auditing.registry import issue_types
from auditing.site import SiteNames, image_key, image_view, name_the_site
from records import ImageRecord, PageReport, SummaryCounter
from reports.cells import CSV_ENCODING
from reports.formats import FORMATS
from reports.html import WORST_PAGES, html_context, stream_html
from reports.writers import (
    CSV_COLUMNS,
    PAGES_CSV_COLUMNS,
    captions_txt_lines,
    csv_rows,
    csv_writer,
    page_counts,
    pages_csv_row,
)
from state.run_files import read_run, url_rows
from state.shards import read_pages

SCRATCH_FILE = "report-scratch.db"


STREAMED = ("captions_txt", "json", "csv", "pages_csv", "html")  # the formats built here, streaming


@dataclass
class ShardReports:
    """Where the reports go, by format name (:data:`reports.formats.FORMATS`); a format left out is not written."""

    paths: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def in_folder(cls, folder: Path) -> ShardReports:
        """Every report, under its usual name in the shard folder."""
        return cls({name: folder / fmt.file_name for name, fmt in FORMATS.items() if name in STREAMED})

    def get(self, name: str) -> Path | None:
        """Where format ``name`` goes (None: not asked for)."""
        return self.paths.get(name)

    def written(self) -> list[Path]:
        """The paths asked for."""
        return [self.paths[name] for name in STREAMED if name in self.paths]


@dataclass(order=True)
class _Worst:
    """A page in the running top list of pages by issue count (what the HTML's table needs)."""

    issues: int
    position: int
    url: str = field(compare=False)
    title: str | None = field(compare=False)
    images: range = field(compare=False)


class _Occurrences:
    """Pass 1: image occurrences in a scratch SQLite file, read back one image at a time."""

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE occurrences (key TEXT, seq INTEGER, page TEXT, record TEXT, source TEXT)")
        self.db.execute("CREATE TABLE inconsistent (page TEXT, url TEXT)")
        self.db.execute("CREATE TABLE views (seq INTEGER PRIMARY KEY, view TEXT)")
        self.site_names = SiteNames()

    def build(self, pages: Iterable[tuple[str, PageReport]]) -> int:
        """Group every occurrence by image; keep each image's view and its inconsistent occurrences."""
        self.db.execute("BEGIN")
        seq = 0
        for _, page in pages:
            if page.status != "ok":
                continue
            self.site_names.add(page)
            for record in page.images:
                seq += 1
                row = (image_key(record), seq, page.url, json.dumps(record.to_state()), record.source)
                self.db.execute("INSERT INTO occurrences VALUES (?, ?, ?, ?, ?)", row)
        self.db.execute("CREATE INDEX by_source ON occurrences (source, key)")
        self.db.execute(  # an occurrence skipped unread joins its URL's content where another page read it
            "UPDATE occurrences SET key = (SELECT o.key FROM occurrences o WHERE o.source = occurrences.source "
            "AND o.key LIKE 'sha256:%' ORDER BY o.seq LIMIT 1) WHERE key LIKE 'url:%' AND EXISTS (SELECT 1 FROM "
            "occurrences o WHERE o.source = occurrences.source AND o.key LIKE 'sha256:%')"
        )
        self.db.execute("CREATE INDEX by_key ON occurrences (key, seq)")
        distinct = 0
        for first_seq, occurrences in self._groups():
            view = image_view(occurrences)
            if view["inconsistent_alt"]:
                marked = [(page, record.url) for page, record in occurrences if "inconsistent_alt" in record.alt_issues]
                self.db.executemany("INSERT INTO inconsistent VALUES (?, ?)", marked)
            self.db.execute("INSERT INTO views VALUES (?, ?)", (first_seq, json.dumps(view, ensure_ascii=False)))
            distinct += 1
        self.db.execute("CREATE INDEX inconsistent_page ON inconsistent (page)")
        self.db.execute("COMMIT")
        return distinct

    def _groups(self) -> Iterator[tuple[int, list[tuple[str, ImageRecord]]]]:
        """Occurrences grouped by image, each group in page order, with its first occurrence's number."""
        group: list[tuple[str, ImageRecord]] = []
        current, first_seq = None, 0
        query = "SELECT key, seq, page, record FROM occurrences ORDER BY key, seq"
        for key, seq, page, record in self.db.cursor().execute(query):
            if key != current:
                if group:
                    yield first_seq, group
                group, current, first_seq = [], key, seq
            group.append((page, ImageRecord.from_state(json.loads(record))))
        if group:
            yield first_seq, group

    def mark(self, page: PageReport) -> None:
        """Add ``inconsistent_alt`` to the page's records found so in pass 1; name the site where the page does not."""
        name_the_site(page, self.site_names)
        urls = {url for (url,) in self.db.execute("SELECT url FROM inconsistent WHERE page = ?", (page.url,))}
        for record in page.images:
            if record.url in urls and "inconsistent_alt" not in record.alt_issues:
                record.alt_issues.append("inconsistent_alt")

    def views(self) -> Iterator[dict[str, Any]]:
        """The images view, in order of each image's first occurrence."""
        for (view,) in self.db.execute("SELECT view FROM views ORDER BY seq"):
            yield json.loads(view)

    def close(self) -> None:
        """Close and delete the scratch file."""
        self.db.close()
        self.path.unlink(missing_ok=True)


def _marked_pages(folder: Path, occurrences: _Occurrences) -> Iterator[PageReport]:
    for _, page in read_pages(folder):
        occurrences.mark(page)
        yield page


def _write_json_value(handle: IO[str], value: Any) -> None:
    """A JSON value; an iterator becomes an array written element by element, a callable is called
    when its turn comes (so a summary can follow the pages it counts)."""
    if callable(value):
        value = value()
    if isinstance(value, Iterator):
        handle.write("[")
        for index, item in enumerate(value):
            handle.write(",\n" if index else "\n")
            handle.write(json.dumps(item, ensure_ascii=False))
        handle.write("\n]")
    elif isinstance(value, dict) and any(isinstance(item, Iterator) or callable(item) for item in value.values()):
        handle.write("{")
        for index, (key, item) in enumerate(value.items()):
            handle.write(",\n" if index else "\n")
            handle.write(json.dumps(key) + ": ")
            _write_json_value(handle, item)
        handle.write("\n}")
    else:
        handle.write(json.dumps(value, ensure_ascii=False))


def build_reports(folder: str | Path, outputs: ShardReports) -> dict[str, Any]:
    """Write the reports of a shard folder; returns the report's summary."""
    folder = Path(folder)
    run = read_run(folder)
    site = run["site"]
    occurrences = _Occurrences(folder / SCRATCH_FILE)
    try:
        distinct = occurrences.build(read_pages(folder))
        if site is not None:
            site = site | {"unique_images": distinct}
        counter, counts, worst = _pass_two(folder, occurrences, outputs, run, site)
        summary = counter.summary(run["elapsed_s"])
        pages_csv = outputs.get("pages_csv")
        if pages_csv is not None:
            with pages_csv.open("w", newline="", encoding=CSV_ENCODING) as handle:
                writer = csv_writer(handle, PAGES_CSV_COLUMNS)
                for row in url_rows(folder):
                    writer.writerow(pages_csv_row(row, counts.get(row["url"])))
        html = outputs.get("html")
        if html is not None:
            worst_pages = [(top, top.issues) for top in sorted(worst, reverse=True) if top.issues]
            context = html_context(
                summary,
                run["model"],
                site,
                None,
                worst_pages,
                {top.url: top.position for top in worst},
                _marked_pages(folder, occurrences),
                occurrences.views() if site is not None else None,
            )
            stream_html(context, html)
    finally:
        occurrences.close()
    return summary


def _pass_two(
    folder: Path, occurrences: _Occurrences, outputs: ShardReports, run: dict[str, Any], site: dict[str, Any] | None
) -> tuple[SummaryCounter, dict[str, dict[str, Any]], list[_Worst]]:
    """captions.txt, the CSV and the JSON in one pass; the summary, pages.csv counts and worst pages."""
    counter = SummaryCounter()
    counts: dict[str, dict[str, Any]] = {}
    worst: list[_Worst] = []
    handles: dict[str, IO[str]] = {}
    try:
        captions_txt, csv_path, json_path = outputs.get("captions_txt"), outputs.get("csv"), outputs.get("json")
        if captions_txt is not None:
            handles["txt"] = captions_txt.open("w", encoding="utf-8")
        rows = None
        if csv_path is not None:
            handles["csv"] = csv_path.open("w", newline="", encoding=CSV_ENCODING)
            rows = csv_writer(handles["csv"], CSV_COLUMNS)
        if json_path is not None:
            handles["json"] = json_path.open("w", encoding="utf-8")

        def pages() -> Iterator[dict[str, Any]]:
            for position, page in enumerate(_marked_pages(folder, occurrences)):
                counter.add(page)
                if "txt" in handles:
                    handles["txt"].write("\n".join(captions_txt_lines(page)) + "\n")
                if rows is not None:
                    rows.writerows(csv_rows(page))
                if page.status == "ok":
                    counts[page.url] = page_counts(page)
                    entry = _Worst(counts[page.url]["issues"], position, page.url, page.title, range(len(page.images)))
                    (heapq.heappush if len(worst) < WORST_PAGES else heapq.heappushpop)(worst, entry)
                yield page.to_dict()

        if "json" in handles:
            document: dict[str, Any] = {}
            if site is not None:
                document["site"] = site | {"urls": url_rows(folder)}
                document["images"] = occurrences.views()
            document |= {
                "pages": pages(),
                "summary": lambda: counter.summary(run["elapsed_s"]),
                "model": run["model"],
                "issue_types": issue_types(),
            }
            _write_json_value(handles["json"], document)
            handles["json"].write("\n")
        else:
            for _ in pages():
                pass
    finally:
        for handle in handles.values():
            handle.close()
    return counter, counts, worst
