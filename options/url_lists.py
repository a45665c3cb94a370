"""``--urls-file``: the URLs of a text list or of a crawler's CSV export, from a file or standard input.

A list is one URL a line (``#`` starts a comment). A CSV export from an SEO crawler (Screaming Frog's
``Address``, a sitemap tool's ``loc``, a spreadsheet's ``URL`` column) is read by its header: the first
column whose name says it holds addresses. A byte-order mark (Notepad, Excel's "CSV UTF-8") is no part
of the first URL.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from options.preflight import InputError
from options.table import CLI

URL_COLUMNS = ("address", "url", "urls", "page", "page url", "page_url", "loc", "location")  # lower-cased
STDIN = "-"


def read_url_list(path: Path) -> list[str]:
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
        listed = [line for line in lines if line and not line.startswith("#")]
    if not listed:
        raise InputError(f"{where} has no URL in it",
                         {CLI: "put one URL per line (lines that start with # are comments)"})  # fmt: skip
    return listed


def url_column(text: str, where: str) -> list[str] | None:
    """The addresses of a CSV export's URL column, or None when ``text`` is a plain list; InputError for a
    CSV with no column of addresses."""
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
    cells = (row[column].strip() for row in reader if len(row) > column)
    return [cell for cell in cells if cell and not cell.startswith("#")]
