"""The audit as one spreadsheet (``--xlsx``): a sheet per view, each with filters and a frozen header.

- **Review** (first, so the file opens on it): one row per distinct image with a suggestion the exports
  would apply or hold, however many pages show it (a site's logo is one row, not one per page), with
  its pages, alts, suggestion, an empty decision column and the decision an earlier review made
  (``reviewed``); ``--decisions`` reads its decisions over the Images sheet's;
- **Images**: the CSV report's rows (one per image; a failed page is one row with its error);
- **Pages**: pages.csv's rows (a crawl: every URL met, with its status and counts);
- **Issues**: one row per finding (page, image, issue, severity, what to do), for filtering by issue.

Written with openpyxl's write-only workbook (rows stream to the file). Text from the audited pages
is written as text cells, never formulas: an alt of ``=HYPERLINK(...)`` stays the text it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from auditing.registry import ISSUES
from records import LINK_TARGET, AuditReport, ImageRecord
from reports.decisions import review_key
from reports.fixes import applicable, export_state
from reports.writers import CSV_COLUMNS, PAGES_CSV_COLUMNS, csv_rows, pages_rows

REVIEW_COLUMNS = [
    "url", "pages", "first_page", "alt", "suggested_alt", "decision", "reviewed", "export", "suggestion_basis",
    "caption", "issues",
]  # fmt: skip

ISSUE_COLUMNS = [
    "page_url", "url", "issue", "kind", "severity", "title", "axe_rule", "selector", "alt", "suggested_alt",
    "help_url",
]  # fmt: skip


def issue_rows(report: AuditReport) -> Iterator[dict[str, Any]]:
    """One row per finding of every audited image."""
    for page in report.pages:
        for image in page.images:
            selector = image.name_fields()["selector"] or ""
            for slug in (*image.alt_issues, *image.seo_issues):
                issue = ISSUES.get(slug)
                yield {
                    "page_url": page.url, "url": image.url, "issue": slug, "kind": issue.kind if issue else "",
                    "severity": issue.severity if issue else "", "title": issue.title if issue else slug,
                    "axe_rule": (issue.axe_rule or "") if issue else "", "selector": selector,
                    "alt": image.alt if image.alt is not None else "", "suggested_alt": image.suggested_alt or "",
                    "help_url": issue.help_url if issue else "",
                }  # fmt: skip


def review_rows(report: AuditReport) -> list[dict[str, Any]]:
    """One row per distinct image URL whose suggestion an export would apply or hold, in page order (and
    one more where the name of where its link goes is suggested too: decided apart, see reports.decisions)."""
    rows: dict[str, dict[str, Any]] = {}
    alts: dict[str, dict[str, None]] = {}
    for page in report.pages:
        for image in page.images:
            if not applicable(lambda name, image=image: getattr(image, name)):
                continue
            key = review_key(image.url, image.suggestion_basis == LINK_TARGET)
            row = rows.get(key)
            if row is None:
                rows[key] = row = _review_row(image, page.url)
                alts[key] = {}
            row["pages"] += 1
            alts[key].setdefault("(none)" if image.alt is None else image.alt or '(empty: "")')
    for key, row in rows.items():
        row["alt"] = " | ".join(alts[key])
    return list(rows.values())


def _review_row(image: ImageRecord, page_url: str) -> dict[str, Any]:
    return {
        "url": image.url, "pages": 0, "first_page": page_url, "suggested_alt": image.suggested_alt or "",
        "decision": "", "reviewed": image.decision or "", "export": export_state(image), "caption": image.caption or "",
        "suggestion_basis": image.suggestion_basis or "", "issues": " ".join([*image.alt_issues, *image.seo_issues]),
    }  # fmt: skip


def write_xlsx(report: AuditReport, path: str | Path) -> Path:
    """Write the four sheets."""
    from openpyxl import Workbook

    target = Path(path)
    workbook = Workbook(write_only=True)
    image_rows = (row for page in report.pages for row in csv_rows(page))
    for title, columns, rows in (
        ("Review", REVIEW_COLUMNS, review_rows(report)),
        ("Images", CSV_COLUMNS, image_rows),
        ("Pages", PAGES_CSV_COLUMNS, pages_rows(report)),
        ("Issues", ISSUE_COLUMNS, issue_rows(report)),
    ):
        sheet = _sheet(workbook, title, columns, rows)
        if title in ("Review", "Images"):
            _review_column(sheet, columns.index("decision") + 1)
    workbook.save(target)
    return target


def _review_column(sheet: Any, number: int) -> None:
    """The decision column as a review's: a list to pick accept, edit or reject from (other values are
    kept: an applied review's "accepted" reads back), and a note on passing the file back."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    letter = get_column_letter(number)
    choice = DataValidation(type="list", formula1='"accept,edit,reject"', allow_blank=True, showErrorMessage=False,
                            showInputMessage=True, promptTitle="Review",
                            prompt="accept, edit (change suggested_alt) or reject; then pass this file back with "
                                   "--decisions")  # fmt: skip
    choice.add(f"{letter}2:{letter}1048576")
    sheet.data_validations.append(choice)


def _sheet(workbook: Any, title: str, columns: list[str], rows: Iterable[dict[str, Any]]) -> Any:
    """One sheet: a bold, frozen header with filters over every column, then the rows as text or numbers."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    header = []
    for name in columns:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in rows:
        sheet.append([_cell(sheet, row.get(name)) for name in columns])
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    return sheet


def _cell(sheet: Any, value: Any) -> Any:
    """A cell: numbers and booleans as they are, everything else as a text cell (never a formula)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None or value == "":
        return None
    if isinstance(value, bool | int | float):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", value if isinstance(value, str) else str(value))
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # openpyxl reads a leading "=" as a formula; a page's text never is one
    return cell
