"""Spreadsheet cells that stay text: CSV and XLSX exports of what audited pages wrote.

An alt text or title that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a
formula to Excel, LibreOffice and Google Sheets (OWASP's "CSV injection"): the page, not the SEO
team, would choose what runs when the report is opened. Every text cell is written with a leading
apostrophe in that case, which spreadsheets show as text and never evaluate. Numbers stay numbers.

CSV files start with a UTF-8 byte-order mark, so Excel reads "Café" as written (without one it
guesses the system's code page); Python readers open them with ``encoding="utf-8-sig"``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import Any

CSV_ENCODING = "utf-8-sig"  # UTF-8 with a byte-order mark
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral(value: Any) -> Any:
    """``value`` as a cell that cannot be a formula (text that would be one gets a leading apostrophe)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class NeutralDictWriter(csv.DictWriter):  # type: ignore[type-arg]
    """``csv.DictWriter`` whose every text cell goes through :func:`neutral`."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: neutral(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)
