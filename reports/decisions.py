"""A review of the suggestions (``--decisions FILE``): accept, edit or reject each, before export.

The file is JSON (a list of objects, or ``{"decisions": [...]}``), CSV with a header, or a
spreadsheet (``.xlsx``: its ``Images`` sheet, else its first); each entry has the image URL
(``url``), the ``decision`` (``accept``, ``edit`` or ``reject``; the reports' own ``accepted``,
``edited``, ``rejected`` too) and, for an edit, the ``text``. A sheet's row with no decision is not
reviewed, and its text may be its ``suggested_alt`` cell: the CSV and XLSX reports are review
sheets as they are. An edited text replaces the suggestion everywhere (reports and exports); a
rejected suggestion is kept in the reports, marked, and left out of every export that applies
fixes (Shopify CSV, WP-CLI script, ``--fix-patch``). Suggestions the file does not mention are
carried as they are, as without a review.

A decision is on an image's description, wherever the image is shown: each place keeps what it adds
(what its link does, "… (link to the cart page)"), so an accepted description is accepted on every
page as each page words it, and an edit is written with each place's own addition. The name of where
a link goes, suggested for a small logo or icon that is a link's only content (suggestion basis
``link_target``), is no description: it is decided apart (an entry's ``suggestion_basis``), and a
decision on the image's description does not reach it where the image also has one.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from records import LINK_TARGET, AuditReport, ImageRecord, PageReport
from reports.cells import FORMULA_STARTS
from reports.fixes import link_addition

DECISIONS = {"accept": "accepted", "edit": "edited", "reject": "rejected"}
AS_REPORTED = {reported: decision for decision, reported in DECISIONS.items()}  # a report's sheet reads back
MAX_TEXT = 1000


class DecisionsError(ValueError):
    """The decisions file cannot be used; the message is one sentence."""


@dataclass(frozen=True)
class Decision:
    """One reviewed suggestion."""

    url: str
    decision: str  # accept | edit | reject
    text: str | None = None
    names_link: bool = False  # made on the name of where the image's link goes (basis link_target)

    @property
    def key(self) -> str:
        """Where it is filed (:func:`review_key`)."""
        return review_key(self.url, self.names_link)

    def same_as(self, other: Decision) -> bool:
        """Whether two rows of a sheet decide alike: the same decision, and texts that differ at most by
        what one place adds in parentheses (a report lists an image once per page it is on)."""
        mine, theirs = self.text, other.text
        alike = mine == theirs or _core(mine) == theirs or mine == _core(theirs)
        return (self.key, self.decision) == (other.key, other.decision) and alike


def review_key(url: str, names_link: bool) -> str:
    """Where a decision is filed: on an image's description (its URL), or on the name of where its link
    goes (a small logo or icon, named by its link), decided apart."""
    return f"{url} (the name of its link)" if names_link else url


def _core(text: str | None) -> str | None:
    """A text without a trailing parenthesised addition: "Red shoes (link to the cart page)" -> "Red shoes"."""
    if text is None or not text.endswith(")") or " (" not in text:
        return text
    return text[: text.rindex(" (")].rstrip() or text


def read_decisions(path: Path, where: str | None = None) -> dict[str, Decision]:
    """The file's decisions by image URL; DecisionsError with one sentence (naming it as ``where``,
    by default ``--decisions PATH``) when it cannot be used."""
    where = where or f"--decisions {path}"
    if path.suffix.lower() == ".xlsx":
        return _workbook_decisions(path, where)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DecisionsError(f"{where} is not UTF-8 text; save it as CSV UTF-8, or pass the .xlsx") from None
    except OSError as exc:
        raise DecisionsError(f"{where} cannot be read: {exc.strerror or exc}") from None
    if raw.lstrip().startswith(("[", "{")):
        return decisions_from(_json_entries(raw, where), where)
    reader = csv.DictReader(io.StringIO(raw), delimiter=_delimiter(raw))
    _review_columns(reader.fieldnames or [], where)
    return sheet_decisions(list(reader), where)


def _review_columns(header: Sequence[Any], where: str) -> None:
    """A sheet that can be a review: it has the report's ``url`` and ``decision`` columns."""
    if not {"url", "decision"} <= {str(name).strip() for name in header}:
        raise DecisionsError(f"{where} is no review: it has no url and decision columns; give the CSV or XLSX "
                             "report with its decision column filled, or the HTML report's decisions.json")  # fmt: skip


def sheet_decisions(rows: list[dict[str, Any]], where: str) -> dict[str, Decision]:
    """Decisions from a sheet's rows, numbered as a spreadsheet shows them (the header is row 1).

    A row with no decision is not reviewed. An edit's text is the ``text`` cell, else the row's
    ``suggested_alt`` (a report's own column, edited in place). Two rows that decide one image
    differently are refused: a report lists an image once per page it is on.
    """
    decisions: dict[str, Decision] = {}
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        if not str(row.get("decision") or "").strip():
            continue
        text = row.get("text") if str(row.get("text") or "").strip() else row.get("suggested_alt")
        if isinstance(text, str) and text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
            text = text[1:]  # written with an apostrophe so that no formula runs (reports.cells)
        decision = _decision({**row, "text": text}, f"{where}, row {number}")
        earlier = decisions.get(decision.key)
        if earlier is not None and not earlier.same_as(decision):
            raise DecisionsError(f"{where}, rows {first_row[decision.key]} and {number} decide differently for "
                                 f"{decision.key}")  # fmt: skip
        decisions.setdefault(decision.key, decision)
        first_row.setdefault(decision.key, number)
    return decisions


def decisions_from(entries: list[Any], where: str) -> dict[str, Decision]:
    """Decisions by image URL from parsed entries; ``where`` names them in an error sentence."""
    decisions: dict[str, Decision] = {}
    for number, entry in enumerate(entries, start=1):
        decision = _decision(entry, f"{where}, entry {number}")
        decisions[decision.key] = decision
    return decisions


def to_entries(decisions: dict[str, Decision]) -> list[dict[str, str]]:
    """The decisions as JSON-ready entries (what ``decisions_from`` reads)."""
    return [
        {"url": d.url, "decision": d.decision}
        | ({"text": d.text} if d.text is not None else {})
        | ({"suggestion_basis": LINK_TARGET} if d.names_link else {})
        for d in decisions.values()
    ]


def apply_decisions(report: AuditReport, decisions: dict[str, Decision]) -> dict[str, str]:
    """Mark (and for edits, replace) the suggestions the review decided; the decisions used, by key, as
    applied (accepted, edited, rejected); a decision that names no image with a suggestion here is not
    used. An accept whose text is no suggestion of the image is an edit, as in the form."""
    kinds: dict[str, set[bool]] = {}  # image URL -> whether its suggestions name a link, describe it, or both
    additions: dict[str, set[str]] = {}  # image URL -> what its places add to its description
    shown: dict[str, set[str]] = {}  # image URL -> its suggestions, as each place words them and without additions
    for page in report.pages:
        for record in page.images:
            if record.suggested_alt is not None:
                kinds.setdefault(record.url, set()).add(record.suggestion_basis == LINK_TARGET)
                addition = _addition(record, page)
                additions.setdefault(record.url, set()).add(addition)
                text = " ".join(record.suggested_alt.split())
                shown.setdefault(record.url, set()).update({text, _without(text, {addition}) or text})
    used: dict[str, str] = {}
    for page in report.pages:
        for record in page.images:
            found = None if record.suggested_alt is None else _decision_for(record, decisions, kinds[record.url])
            if found is None:
                continue
            key, decision = found
            text = _without(decision.text, additions[record.url])
            kind = decision.decision
            if kind == "accept" and text and not {str(decision.text), text} & shown[record.url]:
                kind = "edit"  # the text was changed in the sheet, and the decision left at accept
            record.decision = used[key] = DECISIONS[kind]
            if kind == "edit":
                record.suggested_alt = f"{text}{_addition(record, page)}"
    return used


def _decision_for(
    record: ImageRecord, decisions: dict[str, Decision], kinds: set[bool]
) -> tuple[str, Decision] | None:
    """The decision on this place's suggestion: on the image's description, or on the name of where its link
    goes. A decision on the other kind reaches it only where the image has one kind (a review that did not
    say which, of a logo that is only ever a link)."""
    names_link = record.suggestion_basis == LINK_TARGET
    for names in (names_link,) if len(kinds) > 1 else (names_link, not names_link):
        for url in (record.url, record.source):
            key = review_key(url, names)
            if key in decisions:
                return key, decisions[key]
    return None


def _addition(record: ImageRecord, page: PageReport) -> str:
    """What this place adds to the image's description: " (what its link does)", else nothing (a link's
    name says nothing else)."""
    if record.suggestion_basis == LINK_TARGET:
        return ""
    return link_addition(page, record, str(record.suggested_alt))


def _without(text: str | None, additions: set[str]) -> str | None:
    """``text`` without what one of the image's places adds, when it ends with it."""
    for addition in additions:
        if addition and text and text.endswith(addition) and len(text) > len(addition):
            return text[: -len(addition)].rstrip()
    return text


def _delimiter(raw: str) -> str:
    """The header line's delimiter: a spreadsheet set to a comma-decimal language saves with semicolons."""
    header = raw.split("\n", 1)[0]
    return max(",;\t", key=header.count) if any(mark in header for mark in ",;\t") else ","


def _workbook_decisions(path: Path, where: str) -> dict[str, Decision]:
    """A workbook's decisions: its ``Images`` sheet's (else its first sheet's), and over them those made on
    its ``Review`` sheet (one row per image, no decision filled in beforehand), as dicts by header name; a
    formula cell is read as the value the spreadsheet saved for it (``data_only``), never as a formula."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or "it is not an .xlsx workbook"
        raise DecisionsError(f"{where} cannot be read: {why}") from None
    try:
        main = book["Images"] if "Images" in book.sheetnames else book.worksheets[0]
        decisions = sheet_decisions(_sheet_rows(main, where), where)
        if "Review" in book.sheetnames and main.title != "Review":
            decisions.update(sheet_decisions(_sheet_rows(book["Review"], where), f"{where}, sheet Review"))
        return decisions
    finally:
        book.close()


def _sheet_rows(sheet: Any, where: str) -> list[dict[str, Any]]:
    rows = sheet.iter_rows(values_only=True)
    header = [str(name).strip() if name is not None else "" for name in next(rows, ())]
    _review_columns(header, where)
    return [dict(zip(header, values, strict=False)) for values in rows]


def _json_entries(raw: str, where: str) -> list[Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise DecisionsError(f"{where} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if isinstance(data, dict) and "pages" in data and "decisions" not in data:
        raise DecisionsError(f"{where} is an AltScout JSON report, not a review; give the HTML report's "
                             "decisions.json, or the CSV or XLSX report with its decision column filled")  # fmt: skip
    entries = data.get("decisions") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise DecisionsError(f"{where}: expected a list of decisions (or {{\"decisions\": [...]}})")
    return entries


def _decision(entry: Any, where: str) -> Decision:
    if not isinstance(entry, dict):
        raise DecisionsError(f"{where}: expected an object with url, decision and text")
    url = str(entry.get("url") or entry.get("image_url") or "").strip()
    kind = str(entry.get("decision") or "").strip().lower()
    kind = AS_REPORTED.get(kind, kind)
    text = entry.get("text")
    text = " ".join(str(text).split()) if text not in (None, "") else None
    if not url:
        raise DecisionsError(f"{where}: the image URL (url) is missing")
    if kind not in DECISIONS:
        raise DecisionsError(f"{where}: decision must be accept, edit or reject, got {kind or 'nothing'!r}")
    if kind == "edit" and not text:
        raise DecisionsError(f"{where}: an edit needs the new text (text)")
    if text is not None and len(text) > MAX_TEXT:
        raise DecisionsError(f"{where}: the text is longer than {MAX_TEXT} characters")
    basis = str(entry.get("suggestion_basis") or "").strip()
    return Decision(url, kind, text if kind != "reject" else None, names_link=basis == LINK_TARGET)
