"""A review before export (issue 28, ``--decisions``): edits replace a suggestion, rejected ones are
never exported, and a file that cannot be used is one sentence."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import CaptionsByWidth, FixtureServer, make_image
from test_cli import run_cli, tiny_cli_args
from test_fix_exports import CAPTIONS, attachment_alts, serve

from options import AuditOptions
from pipeline import run_audit
from reports.decisions import Decision, DecisionsError, apply_decisions, read_decisions
from reports.fixes import held, write_shopify_csv
from reports.formats import FORMATS, write_atomically
from reports.html import render_html
from reports.patch import write_fix_patch
from reports.wordpress import write_wp_cli
from reports.writers import csv_rows


def test_decisions_from_json_and_csv(tmp_path: Path) -> None:
    as_json = tmp_path / "d.json"
    as_json.write_text(json.dumps({"decisions": [
        {"url": "http://h/a.jpg", "decision": "Accept"},
        {"url": "http://h/b.jpg", "decision": "edit", "text": " New  alt "},
    ]}))  # fmt: skip
    as_csv = tmp_path / "d.csv"
    as_csv.write_text("\ufeffurl,decision,text\nhttp://h/c.jpg,reject,\n", encoding="utf-8")
    decided = read_decisions(as_json) | read_decisions(as_csv)
    assert {url: (d.decision, d.text) for url, d in decided.items()} == {
        "http://h/a.jpg": ("accept", None), "http://h/b.jpg": ("edit", "New alt"), "http://h/c.jpg": ("reject", None),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        ('[{"url": "http://h/a.jpg", "decision": "maybe"}]', "entry 1: decision must be accept, edit or reject"),
        ("[{\"url\": \"http://h/a.jpg\", \"decision\": \"edit\"}]", "entry 1: an edit needs the new text (text)"),
        ("[{\"decision\": \"accept\"}]", "entry 1: the image URL (url) is missing"),
        ("{\"decisions\": 3}", "expected a list of decisions"),
        ("[{\"url\": 1,", "is not valid JSON"),
        ('{"pages": [], "summary": {}}', "is an AltScout JSON report, not a review; give the HTML report's decisions"),
    ],
)
def test_a_decisions_file_that_cannot_be_used_is_one_sentence(content: str, sentence: str, tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(content)
    with pytest.raises(DecisionsError) as caught:
        read_decisions(path)
    assert sentence in str(caught.value) and "\n" not in str(caught.value)


def test_exports_follow_the_review(fresh_server: FixtureServer, tmp_path: Path) -> None:
    serve(fresh_server)
    urls = [fresh_server.url(path) for path in ("/products/creme-brogue", "/blog/post")]
    report = run_audit(urls, AuditOptions(render="never", allow_private=True, ocr="off"), CaptionsByWidth(CAPTIONS))
    decisions = tmp_path / "d.json"
    decisions.write_text(json.dumps([
        {"url": fresh_server.url("/cdn/shop/products/brogue_600x.jpg?v=123&width=600"), "decision": "edit",
         "text": "Tan brogue, side view"},
        {"url": fresh_server.url("/wp-content/uploads/2024/hostile.jpg"), "decision": "reject"},
    ]))  # fmt: skip
    assert len(apply_decisions(report, read_decisions(decisions))) == 2
    rows = list(csv.DictReader(write_shopify_csv(report, tmp_path / "s.csv").open(encoding="utf-8-sig")))
    assert [row["Image Alt Text"] for row in rows] == ["Tan brogue, side view"]
    script = write_wp_cli(report, tmp_path / "w.sh").read_text()
    featured = fresh_server.url("/wp-content/uploads/2024/team-1024x768.jpg")
    assert set(attachment_alts(script)) == {"7", featured}  # 42 rejected: not exported


def test_a_persons_alt_is_replaced_only_once_a_review_accepts_it(fresh_server: FixtureServer, tmp_path: Path) -> None:
    page = """<html><body><article>
<img class="wp-image-9" src="/up/team.jpg" alt="Our team at the 2025 summit">
<img class="wp-image-10" src="/up/crew.jpg" alt="IMG_1234.jpg">
<img class="wp-image-11" src="/up/desk.jpg">
</article></body></html>"""
    fresh_server.add("/blog/team", page)
    for width, name in ((406, "team"), (407, "crew"), (408, "desk")):
        fresh_server.add(f"/up/{name}.jpg", make_image(width, 300, "JPEG", seed=width), content_type="image/jpeg")
    captions = {406: "a blue vase of flowers on a shelf", 407: "a group of people on a stage", 408: "a wooden desk"}
    source = tmp_path / "site"
    (source / "blog").mkdir(parents=True)
    (source / "blog" / "team.html").write_text(page)
    report = run_audit([fresh_server.url("/blog/team")], AuditOptions(render="never", allow_private=True, ocr="off"),
                       CaptionsByWidth(captions))  # fmt: skip
    team = fresh_server.url("/up/team.jpg")
    assert [record.url for _, record in held(report)] == [team]  # a mismatch is a judgement: the person's alt waits
    exported = {row["url"].rsplit("/", 1)[-1]: row["export"] for row in csv_rows(report.pages[0])}
    assert exported == {"team.jpg": "held", "crew.jpg": "yes", "desk.jpg": "yes"}  # the spreadsheets' export column

    script = write_wp_cli(report, tmp_path / "w.sh").read_text()
    assert set(attachment_alts(script)) == {"10", "11"}  # a file name, missing; not 9 (held)
    held_lines = [line for line in script.splitlines() if line.startswith("# held for review")]
    assert len(held_lines) == 1 and "attachment 9, " in held_lines[0]
    assert "would replace the alt 'Our team at the 2025 summit' with " in held_lines[0]
    patch = write_fix_patch(report, source, tmp_path / "fix.patch")
    text = (tmp_path / "fix.patch").read_text()
    assert patch.tags == 2 and len(patch.held) == 1 and "Our team at the 2025 summit" in patch.held[0]
    assert "# held for review" in text and '-<img class="wp-image-9"' not in text
    html_report = render_html(report)
    assert html_report.count("replaces alt text a person wrote") == 1

    apply_decisions(report, {team: Decision(team, "accept", None)})
    assert [row["export"] for row in csv_rows(report.pages[0])] == ["yes"] * 3
    assert not list(held(report)) and "9" in attachment_alts(write_wp_cli(report, tmp_path / "w2.sh").read_text())
    write_fix_patch(report, source, tmp_path / "fix2.patch")
    assert '+<img class="wp-image-9" src="/up/team.jpg" alt="' in (tmp_path / "fix2.patch").read_text()


def test_an_empty_alt_on_what_looks_like_content_waits_for_a_person(
    fresh_server: FixtureServer, tmp_path: Path
) -> None:
    """alt="" says "decorative", which the audit doubts on a large captioned photo ("decorative? verify"). The
    suggestion is held, as a person's alt is: listed, and exported once a review accepts it (accepting it used to
    change nothing, since no export carried a suggestion for an image marked decorative)."""
    page = '<html><body><img class="wp-image-12" src="/up/hall.jpg" alt="">\n</body></html>\n'
    fresh_server.add("/", page)
    fresh_server.add("/up/hall.jpg", make_image(409, 300, "JPEG", seed=409), content_type="image/jpeg")
    source = tmp_path / "site"
    source.mkdir()
    (source / "index.html").write_text(page)
    report = run_audit([fresh_server.url("/")], AuditOptions(render="never", allow_private=True, ocr="off"),
                       CaptionsByWidth({409: "a concert hall full of people"}))  # fmt: skip
    record = report.pages[0].images[0]
    assert record.decorative and "empty_alt_on_content" in record.alt_issues and record.suggested_alt
    assert [r.url for _, r in held(report)] == [record.url]
    assert [row["export"] for row in csv_rows(report.pages[0])] == ["held"]
    script = write_wp_cli(report, tmp_path / "w.sh").read_text()
    assert attachment_alts(script) == {} and 'would replace alt="" (marked decorative) with ' in script
    patch = write_fix_patch(report, source, tmp_path / "fix.patch")
    assert patch.tags == 0 and 'replaces alt="" (marked decorative) (empty_alt_on_content)' in patch.held[0]
    assert 'alt="" marks it decorative: exported once accepted' in render_html(report)
    apply_decisions(report, {record.url: Decision(record.url, "accept", None)})
    assert [row["export"] for row in csv_rows(report.pages[0])] == ["yes"] and not list(held(report))
    script = write_wp_cli(report, tmp_path / "w2.sh").read_text()
    assert attachment_alts(script) == {"12": "A concert hall full of people"}
    write_fix_patch(report, source, tmp_path / "fix2.patch")
    assert '+<html><body><img class="wp-image-12" src="/up/hall.jpg" alt="A concert hall full of people">' in (
        tmp_path / "fix2.patch"
    ).read_text()


def test_the_review_list_says_which_suggestions_replace_a_persons_alt(tmp_path: Path) -> None:
    from service.form import _choice_label
    from service.review import review_items

    def image(url: str, alt: str | None, issues: list[str]) -> dict:
        return {"url": url, "status": "captioned", "suggestion_for": "alt", "suggested_alt": "A desk",
                "decorative": False, "alt": alt, "alt_issues": issues}  # fmt: skip

    images = [image("http://h/a.jpg", "Our office", ["alt_mismatch"]), image("http://h/b.jpg", "IMG_1.jpg",
              ["filename_alt"]), image("http://h/c.jpg", None, ["missing_alt"]),
              {**image("http://h/d.jpg", "", ["empty_alt_on_content"]), "decorative": True}]  # fmt: skip
    (tmp_path / "report.json").write_text(json.dumps({"pages": [{"url": "http://h/", "images": images}]}))
    store = SimpleNamespace(job_dir=lambda job_id: tmp_path)
    items = review_items(store, SimpleNamespace(id="j"))  # type: ignore[arg-type]
    assert [(item["url"], item["replaces"]) for item in items] == [
        ("http://h/a.jpg", "Our office"), ("http://h/b.jpg", None), ("http://h/c.jpg", None),
        ("http://h/d.jpg", "")]  # fmt: skip
    assert _choice_label(items[0]) == "a.jpg: A desk (replaces “Our office”: exported once accepted)"
    assert _choice_label(items[2]) == "c.jpg: A desk"
    assert _choice_label(items[3]) == (
        'd.jpg: A desk (replaces alt="", which marks it decorative: exported once accepted)'
    )


def test_the_reports_own_sheets_are_review_sheets(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """The SEO team fills the decision column of the CSV or XLSX it was given (and edits suggested_alt in
    place): that file is the review. Rows left blank are not reviewed; a spreadsheet in a comma-decimal
    language saves semicolons; the reports' own words (accepted, edited, rejected) read back."""
    from openpyxl import load_workbook

    serve(fresh_server)
    urls = [fresh_server.url(path) for path in ("/products/creme-brogue", "/blog/post")]
    report = run_audit(urls, AuditOptions(render="never", allow_private=True, ocr="off"), CaptionsByWidth(CAPTIONS))
    write_atomically(FORMATS["csv"], report, tmp_path / "r.csv")
    write_atomically(FORMATS["xlsx"], report, tmp_path / "r.xlsx")
    rows = list(csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8-sig")))
    suggested = [row for row in rows if row["suggested_alt"]]
    edited, rejected, accepted, retyped = (row["url"] for row in suggested[:4])
    kept_text = suggested[2]["suggested_alt"]
    wanted = {edited: ("edit", "Tan brogue, side view"), rejected: ("reject", None), accepted: ("accept", kept_text),
              retyped: ("accept", "Retyped, decision left at accept")}  # fmt: skip
    review = {edited: ("edit", "Tan brogue, side view"), rejected: ("Rejected", None), accepted: ("accepted", None),
              retyped: ("accept", "Retyped, decision left at accept")}  # fmt: skip

    for row in rows:
        if row["url"] in review:
            row["decision"], text = review[row["url"]]
            row["suggested_alt"] = text or row["suggested_alt"]
    with (tmp_path / "semicolons.csv").open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    decided = read_decisions(tmp_path / "semicolons.csv")
    assert {url: (d.decision, d.text) for url, d in decided.items()} == wanted

    book = load_workbook(tmp_path / "r.xlsx")
    sheet = book["Images"]
    header = [cell.value for cell in sheet[1]]
    for cells in sheet.iter_rows(min_row=2):
        url = cells[header.index("url")].value
        if url in review:
            cells[header.index("decision")].value, text = review[url]
            if text:
                cells[header.index("suggested_alt")].value = text
    book.save(tmp_path / "reviewed.xlsx")
    decided = read_decisions(tmp_path / "reviewed.xlsx")
    assert {url: (d.decision, d.text) for url, d in decided.items()} == wanted
    applied = apply_decisions(report, decided)  # a changed text under "accept" is an edit, as in the form
    assert applied == {edited: "edited", rejected: "rejected", accepted: "accepted", retyped: "edited"}


@pytest.mark.parametrize(
    ("name", "content", "sentence"),
    [
        ("d.csv", "url,decision,text\nhttp://h/a.jpg,accept,\nhttp://h/a.jpg,reject,\n",
         "d.csv, rows 2 and 3 decide differently for http://h/a.jpg"),
        ("d.csv", "url,decision,text\nhttp://h/a.jpg,edit,Caf\xe9\n".encode("cp1252"),
         "d.csv is not UTF-8 text; save it as CSV UTF-8, or pass the .xlsx"),
        ("d.xlsx", b"not a workbook", "d.xlsx cannot be read: it is not an .xlsx workbook"),
        ("d.csv", "url,decision,text\nhttp://h/a.jpg,edit,\n", "d.csv, row 2: an edit needs the new text (text)"),
    ],
)
def test_a_review_sheet_that_cannot_be_used_is_one_sentence(
    name: str, content: str | bytes, sentence: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DecisionsError) as caught:
        read_decisions(path)
    assert str(caught.value) == f"--decisions {path}{sentence.removeprefix(name)}"


def test_the_cli_says_what_a_review_did(server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path) -> None:
    """Even with --quiet, a decision that names no image of the audit is said (a review of another audit
    used to change nothing, silently); a review that decides nothing is said too."""
    server.add("/rv/a.jpg", make_image(321, 200, "JPEG", seed=5), content_type="image/jpeg")
    page = server.add("/rv/page", "<html><body><img src='/rv/a.jpg'></body></html>")
    (tmp_path / "d.csv").write_text(f"url,decision,text\n{server.url('/rv/a.jpg')},reject,\n"
                                    "https://other.test/b.jpg,accept,\nhttps://other.test/c.jpg,,\n")  # fmt: skip
    result = run_cli(page, *tiny_cli_args(tiny_blip_dir), "--decisions", "d.csv", "--json", "r.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "altscout: review d.csv: 1 suggestion(s) decided (1 rejected); 1 decision(s) name no image with a "
        "suggestion in this audit, e.g. https://other.test/b.jpg"
    ]
    images = json.loads((tmp_path / "r.json").read_text())["pages"][0]["images"]
    assert [image["decision"] for image in images] == ["rejected"]
    (tmp_path / "blank.csv").write_text("url,decision,text\nhttps://other.test/c.jpg,,\n")
    result = run_cli(page, *tiny_cli_args(tiny_blip_dir), "--decisions", "blank.csv", cwd=tmp_path)
    assert result.stderr.splitlines() == [
        "altscout: the review blank.csv decides nothing: fill its decision column (accept, edit, reject)"
    ]
