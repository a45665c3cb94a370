"""``--urls-file``: the URLs of a text list or of a crawler's CSV export, from a file or standard input.

A list is one URL a line (``#`` starts a comment). A CSV export from an SEO crawler (Screaming Frog's
``Address``, a sitemap tool's ``loc``, a spreadsheet's ``URL`` column) is read by its header: the first
column whose name says it holds addresses. Where the export has a ``Content Type`` column (Screaming
Frog's "Internal: All" lists images, stylesheets and PDFs beside the pages), only its web pages are
audited, and the rows left out are counted: an image is audited where a page shows it. A byte-order
mark (Notepad, Excel's "CSV UTF-8") is no part of the first URL.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from options.preflight import InputError
from options.table import CLI
from scraper.urls import is_html_type

URL_COLUMNS = ("address", "url", "urls", "page", "page url", "page_url", "loc", "location")  # lower-cased
TYPE_COLUMNS = ("content type", "content_type", "content-type")
STDIN = "-"


@dataclass
class UrlList:
    """The URLs a list gives, and the rows of an export left out because they are no web page (by type)."""

    urls: list[str]
    not_pages: Counter[str] = field(default_factory=Counter)  # media type -> rows

    def left_out(self, where: str) -> str | None:
        """The sentence that says what was left out, or None."""
        if not self.not_pages:
            return None
        types = ", ".join(kind for kind, _ in self.not_pages.most_common(3))
        return (f"{where}: {self.not_pages.total()} row(s) that are no web page by their Content Type ({types}) "
                "left out; an image is audited where a page shows it")  # fmt: skip


def read_url_list(path: Path) -> UrlList:
    """The URLs ``path`` lists (``-``: standard input); InputError with one sentence when there are none."""
    where = "--urls-file -" if str(path) == STDIN else f"--urls-file {path}"
    try:
        text = sys.stdin.read() if str(path) == STDIN else path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{where} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{where} is not UTF-8 text", {CLI: "save it as UTF-8 (or CSV UTF-8)"}) from None
    text = text.lstrip("\ufeff")  # standard input keeps a byte-order mark that utf-8-sig reads away
    listed = url_column(text, where)
    if listed is None:
        lines = (line.strip() for line in text.splitlines())
        listed = UrlList([line for line in lines if line and not line.startswith("#")])
    if not listed.urls and listed.not_pages:
        raise InputError(f"{where} lists no web page: its Content Type column says "
                         f"{', '.join(listed.not_pages)}", {CLI: "export the crawler's HTML pages"})  # fmt: skip
    if not listed.urls:
        raise InputError(f"{where} has no URL in it",
                         {CLI: "put one URL per line (lines that start with # are comments)"})  # fmt: skip
    return listed


def url_column(text: str, where: str) -> UrlList | None:
    """The addresses of a CSV export's URL column (its web pages, where it says each row's Content Type), or
    None when ``text`` is a plain list; InputError for a CSV with no column of addresses."""
    first = text.split("\n", 1)[0]
    delimiter = next((d for d in (",", ";", "\t") if d in first), None)
    if delimiter is None or "://" in first:
        return None  # a plain list (a URL may hold commas, but a header row holds no scheme)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [cell.strip().lower() for cell in next(reader, [])]
    column = next((header.index(name) for name in URL_COLUMNS if name in header), None)
    if column is None:
        raise InputError(f"{where} is a table with no column of addresses",
                         {CLI: "name the column Address, URL or loc, or give one URL per line"})  # fmt: skip
    typed = next((header.index(name) for name in TYPE_COLUMNS if name in header), None)
    listed = UrlList([])
    for row in reader:
        cell = row[column].strip() if len(row) > column else ""
        if not cell or cell.startswith("#"):
            continue
        kind = row[typed].strip() if typed is not None and len(row) > typed else ""
        if is_html_type(kind):  # an empty cell (a URL the crawler did not fetch) is given the benefit of the doubt
            listed.urls.append(cell)
        else:
            listed.not_pages[kind.split(";", 1)[0].strip().lower()] += 1
    return listed
