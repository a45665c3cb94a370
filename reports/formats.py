"""The one registry of report formats: name, file name, content type, CLI flag and writer.

The CLI makes a flag of each (``--json``...), the service writes each into a job's folder and
serves it for download, and the sharded writer builds each from shard files. A new format is one
:class:`ReportFormat` here (and, for ``--shard-dir`` runs, a streaming writer in
:mod:`reports.sharded`).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from records import AuditReport
from reports.fixes import no_product_pages, no_wordpress_images, write_shopify_csv
from reports.html import write_html
from reports.shopify_files import no_shopify_files, write_shopify_files
from reports.webflow import no_webflow_images, write_webflow
from reports.wordpress import write_wp_cli, write_wp_rest
from reports.writers import write_captions_txt, write_csv, write_json, write_pages_csv
from reports.xlsx import write_xlsx


@dataclass(frozen=True)
class ReportFormat:
    """One kind of report file."""

    name: str  # the key everywhere: "json", "csv"...
    file_name: str  # its name in a job's or a shard folder's reports
    content_type: str  # what the service serves it as
    flag: str  # the CLI flag that asks for it
    help: str
    write: Callable[[AuditReport, Path], Path]
    site_only: bool = False  # only written for site audits in the service (pages.csv)
    default: Path | None = None  # the CLI writes it here unless told otherwise (captions.txt)
    # Why the file can hold nothing for this audit, whatever a review decides (a platform's export for a site
    # not on that platform); None when it may. The service leaves such a file out; the CLI says so.
    blank: Callable[[AuditReport], str | None] | None = None
    applies: bool = False  # it applies the suggestions (a platform's import or script): held ones wait for a review
    next_step: str = ""  # what to do with the file ({path}), which the CLI says once it is written

    def nothing_for(self, report: AuditReport) -> str | None:
        """The sentence that says why this format has nothing for ``report``; None when it may have."""
        return None if self.blank is None else self.blank(report)


FORMATS: dict[str, ReportFormat] = {
    fmt.name: fmt
    for fmt in (
        ReportFormat("json", "report.json", "application/json", "--json", "write the JSON report here", write_json),
        ReportFormat(
            "csv",
            "report.csv",
            "text/csv; charset=utf-8",
            "--csv",
            "write the CSV report here (one row per image)",
            write_csv,
        ),
        ReportFormat(
            "html",
            "report.html",
            "text/html; charset=utf-8",
            "--html",
            "write the self-contained HTML audit report here",
            write_html,
        ),
        ReportFormat(
            "captions_txt",
            "captions.txt",
            "text/plain; charset=utf-8",
            "--out",
            "captions file (default: %(default)s)",
            write_captions_txt,
            default=Path("captions.txt"),
        ),
        ReportFormat(
            "pages_csv",
            "pages.csv",
            "text/csv; charset=utf-8",
            "--pages-csv",
            "write one row per page URL here (a crawl: every URL met, with its status)",
            write_pages_csv,
            site_only=True,
        ),
        ReportFormat(
            "xlsx",
            "report.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "--xlsx",
            "write the spreadsheet here: sheets Review (one row an image), Images, Pages and Issues, with filters",
            write_xlsx,
        ),
        ReportFormat(
            "shopify_csv",
            "shopify-alt-text.csv",
            "text/csv; charset=utf-8",
            "--shopify-csv",
            "write Shopify's product CSV rows that set the suggested alt texts (pages under /products/)",
            write_shopify_csv,
            blank=no_product_pages,
            applies=True,
            next_step='import {path} in Shopify admin (Products → Import, "Overwrite products with matching handles")',
        ),
        ReportFormat(
            "wp_cli",
            "wp-alt-text.sh",
            "text/x-shellscript; charset=utf-8",
            "--wp-cli",
            "write a WP-CLI script that sets the suggested alt texts of WordPress images (attachments and posts)",
            write_wp_cli,
            blank=no_wordpress_images,
            applies=True,
            next_step="read {path}, then run it where wp manages the site: sh {path}",
        ),
        ReportFormat(
            "wp_rest",
            "wp-alt-text.py",
            "text/x-python; charset=utf-8",
            "--wp-rest",
            "write a Python script that sets what --wp-cli sets through WordPress's REST API (an application "
            "password), for a site with no shell",
            write_wp_rest,
            blank=no_wordpress_images,
            applies=True,
            next_step="WP_USER=… WP_APP_PASSWORD='…' python3 {path} --dry-run",
        ),
        ReportFormat(
            "shopify_files",
            "shopify-alt-text.py",
            "text/x-python; charset=utf-8",
            "--shopify-files",
            "write a Python script that sets the suggested alt texts of a Shopify store's files (theme sections, "
            "pages, posts, product media) through its Admin API",
            write_shopify_files,
            blank=no_shopify_files,
            applies=True,
            next_step="SHOPIFY_STORE=your-store.myshopify.com SHOPIFY_TOKEN=… python3 {path} --dry-run",
        ),
        ReportFormat(
            "webflow",
            "webflow-alt-text.py",
            "text/x-python; charset=utf-8",
            "--webflow",
            "write a Python script that sets the suggested alt texts of a Webflow site's images (assets and CMS "
            "items) through Webflow's API",
            write_webflow,
            blank=no_webflow_images,
            applies=True,
            next_step="WEBFLOW_TOKEN=… python3 {path} --dry-run",
        ),
    )
}


def by_file_name(file_name: str) -> ReportFormat | None:
    """The format a report file name belongs to."""
    return next((fmt for fmt in FORMATS.values() if fmt.file_name == file_name), None)


@dataclass(frozen=True)
class WriteFailure:
    """A report that could not be written, and why (the others were written all the same)."""

    fmt: ReportFormat
    path: Path
    reason: str

    def sentence(self, front: str = "cli") -> str:
        """One sentence: which file, and why."""
        what = f"{self.fmt.flag} {self.path}" if front == "cli" else shown(self.path)
        return f"{what} was not written: {self.reason}"


STDOUT = Path("-")  # a report path that means standard output (``--json - | jq``)


def report_path(file_name: str, text: str) -> Path:
    """A report flag's path: a folder (an existing one, or any path ending in /) gets the format's own file
    name inside it (``--json reports/`` writes reports/report.json)."""
    path = Path(text)
    if text != "-" and (text.endswith(("/", os.sep)) or path.is_dir()):
        return path / file_name
    return path


def shown(path: Path) -> str:
    """A written report's path as the CLI names it."""
    return "standard output" if path == STDOUT else str(path)


def copy_to_stdout(write: Callable[[Path], object], file_name: str) -> Path:
    """Write a file with ``write`` in a private folder, then copy it whole to standard output: a writer
    that fails sends nothing, and a pipe closed early (``| head``) ends quietly as a failed write."""
    with tempfile.TemporaryDirectory(prefix="altscout-stdout-") as work:
        part = Path(work) / file_name
        write(part)
        sys.stdout.flush()
        try:
            with part.open("rb") as source:
                shutil.copyfileobj(source, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            raise
    return STDOUT


def write_atomically(fmt: ReportFormat, report: AuditReport, path: Path) -> Path:
    """Write one report beside its place and rename it into place: a reader never sees half a file, and
    a failed write leaves the previous file (or none) where it was. The writer sees the file's own name
    (a script's usage line names it), in a hidden folder beside it, on the same file system. ``-`` is
    standard output."""
    if path == STDOUT:
        return copy_to_stdout(lambda part: fmt.write(report, part), fmt.file_name)
    path.parent.mkdir(parents=True, exist_ok=True)  # a folder removed since the checks is made again
    work = Path(tempfile.mkdtemp(prefix=".altscout-part-", dir=path.parent))
    part = work / path.name
    try:
        fmt.write(report, part)
        os.replace(part, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def write_all(
    report: AuditReport, targets: Iterable[tuple[ReportFormat, Path]]
) -> tuple[list[Path], list[WriteFailure]]:
    """Every report asked for, each on its own: what was written, and what was not and why."""
    written: list[Path] = []
    failures: list[WriteFailure] = []
    for fmt, path in targets:
        try:
            written.append(write_atomically(fmt, report, path))
        except OSError as exc:
            failures.append(WriteFailure(fmt, path, exc.strerror or str(exc)))
    return written, failures
