"""A review decides an image's description wherever the image is shown: each place keeps what it adds (what its
link does), and the name of where a small icon's link goes is decided apart from the image's description."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import CaptionsByWidth, FixtureServer, make_image

from options import AuditOptions
from pipeline import run_audit
from records import AuditReport
from reports.decisions import (
    DecisionsError,
    apply_decisions,
    decisions_from,
    read_decisions,
    sheet_decisions,
    to_entries,
)
from reports.formats import FORMATS, write_atomically
from reports.patch import write_fix_patch
from reports.xlsx import review_rows

PAGES = {
    "a.html": '<html><head><title>Shoes</title></head><body><h1>Shoes</h1><img src="shoe.jpg"><img src="menu.jpg">'
    "</body></html>",
    "b.html": '<html><head><title>Sale</title></head><body><h1>Sale</h1><a href="/cart"><img src="shoe.jpg"></a>'
    '<a href="/menu.pdf"><img src="menu.jpg" width="24" height="24"></a></body></html>',
}
CART = " (link to the cart page)"


@pytest.fixture()
def site(fresh_server: FixtureServer, tmp_path: Path) -> tuple[FixtureServer, Path]:
    """The shoe is a picture on a.html and a link to the cart on b.html; the menu is a picture on a.html and a
    24-px icon that is the only content of a link to the PDF menu on b.html. b.html's source is kept for a patch."""
    source = tmp_path / "public"
    source.mkdir()
    for name, html in PAGES.items():
        fresh_server.add(f"/{name}", html)
        (source / name).write_text(html, encoding="utf-8")
    fresh_server.add("/shoe.jpg", make_image(401, 300, "JPEG", seed=1), content_type="image/jpeg")
    fresh_server.add("/menu.jpg", make_image(402, 300, "JPEG", seed=2), content_type="image/jpeg")
    return fresh_server, source


def audit(server: FixtureServer) -> AuditReport:
    captions = CaptionsByWidth({401: "a pair of red shoes", 402: "a printed lunch menu"})
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    return run_audit([server.url("/a.html"), server.url("/b.html")], options, captions)


def suggestions(report: AuditReport) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    return {(page.url.rsplit("/", 1)[-1], record.url.rsplit("/", 1)[-1]): (record.suggested_alt, record.decision)
            for page in report.pages for record in page.images}  # fmt: skip


def test_the_review_sheet_lists_a_description_and_a_link_name_apart(site) -> None:
    rows = {(row["url"].rsplit("/", 1)[-1], row["suggestion_basis"]): row for row in review_rows(audit(site[0]))}
    assert sorted(rows) == [("menu.jpg", "caption"), ("menu.jpg", "link_target"), ("shoe.jpg", "caption")]
    assert rows[("shoe.jpg", "caption")]["pages"] == 2 and rows[("menu.jpg", "link_target")]["suggested_alt"] == \
        "Menu (PDF)"  # fmt: skip


def test_accepting_the_description_keeps_what_each_place_adds(site) -> None:
    """The Review sheet shows a.html's words; accepted, they are accepted on b.html as b.html words them (it was
    an edit to "A pair of red shoes", and the link to the cart lost its purpose)."""
    report = audit(site[0])
    rows = [{**row, "decision": "accept"} for row in review_rows(report)]
    used = apply_decisions(report, sheet_decisions(rows, "the sheet"))
    assert set(used.values()) == {"accepted"} and len(used) == 3
    assert suggestions(report) == {
        ("a.html", "shoe.jpg"): ("A pair of red shoes", "accepted"),
        ("a.html", "menu.jpg"): ("A printed lunch menu", "accepted"),
        ("b.html", "shoe.jpg"): ("A pair of red shoes" + CART, "accepted"),
        ("b.html", "menu.jpg"): ("Menu (PDF)", "accepted"),
    }


@pytest.mark.parametrize("edited_on", ["a.html", "b.html"])
def test_an_edited_description_is_written_with_each_places_addition(site, edited_on: str, tmp_path: Path) -> None:
    """Edited on either page's row of the CSV report (one row a place), the shoe's description is the same on
    both, each with its own addition (it lost the link's purpose); the icon that names the PDF menu keeps its
    name when the menu's description is edited (it became "Lunch menu photo")."""
    report = audit(site[0])
    rows = csv_rows_of(report, tmp_path)
    for row in rows:
        if row["page_url"].endswith(edited_on) and row["url"].endswith("shoe.jpg"):
            added = CART if edited_on == "b.html" else ""
            row.update(decision="edit", suggested_alt="Red leather derby shoes" + added)
        if row["url"].endswith("menu.jpg") and row["suggestion_basis"] != "link_target":  # a.html's row
            row.update(decision="edit", suggested_alt="Lunch menu photo")
    apply_decisions(report, sheet_decisions(rows, "the sheet"))
    assert suggestions(report) == {
        ("a.html", "shoe.jpg"): ("Red leather derby shoes", "edited"),
        ("a.html", "menu.jpg"): ("Lunch menu photo", "edited"),
        ("b.html", "shoe.jpg"): ("Red leather derby shoes" + CART, "edited"),
        ("b.html", "menu.jpg"): ("Menu (PDF)", None),  # the name of where its link goes: not this decision's
    }


def test_rows_that_differ_only_by_what_their_place_adds_are_one_decision(site, tmp_path: Path) -> None:
    """The CSV report lists the shoe on both pages; accepting both rows was refused as deciding differently."""
    report = audit(site[0])
    rows = [{**row, "decision": "accept"} for row in csv_rows_of(report, tmp_path)]
    decisions = sheet_decisions(rows, "the sheet")
    assert sorted(key.rsplit("/", 1)[-1] for key in decisions) == ["menu.jpg", "menu.jpg (the name of its link)",
                                                                   "shoe.jpg"]  # fmt: skip
    apply_decisions(report, decisions)
    assert suggestions(report)[("b.html", "shoe.jpg")] == ("A pair of red shoes" + CART, "accepted")


def test_a_link_name_decided_apart_reaches_only_the_link_and_survives_a_round_trip(site, tmp_path: Path) -> None:
    """The HTML report's decisions.json says which widget was the link's name; the service saves the decisions
    with it (to_entries) and reads them back the same. The patch writes each place's text."""
    server, source = site
    report = audit(server)
    menu = server.url("/menu.jpg")
    entries = [{"url": menu, "decision": "edit", "text": "Lunch menu (PDF)", "suggestion_basis": "link_target"},
               {"url": menu, "decision": "reject"}]  # fmt: skip
    decisions = decisions_from(json.loads(json.dumps(to_entries(decisions_from(entries, "d")))), "d")
    assert len(decisions) == 2
    apply_decisions(report, decisions)
    assert suggestions(report)[("b.html", "menu.jpg")] == ("Lunch menu (PDF)", "edited")
    assert suggestions(report)[("a.html", "menu.jpg")] == ("A printed lunch menu", "rejected")
    patch = write_fix_patch(report, source, tmp_path / "alt.patch")
    text = (tmp_path / "alt.patch").read_text(encoding="utf-8")
    assert patch.tags == 4 - 1  # the rejected description is not written
    assert 'alt="Lunch menu (PDF)"' in text and f'alt="A pair of red shoes{CART}"' in text


def test_a_decision_that_does_not_say_which_reaches_an_image_with_one_kind_of_text(site, tmp_path: Path) -> None:
    """An older decisions.json (no suggestion_basis) on an image whose only suggestion names its link still
    decides it; on an image with both, it decides the description."""
    server, _ = site
    server.add("/b.html", PAGES["b.html"].replace("<h1>Sale</h1>", '<h1>Sale</h1><a href="/"><img src="logo.png" '
                                                  'width="20" height="20"></a>'))  # fmt: skip
    server.add("/logo.png", make_image(403, 300, "PNG", seed=3), content_type="image/png")
    report = audit(server)
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"url": server.url("/logo.png"), "decision": "edit", "text": "Shop home"},
                                {"url": server.url("/menu.jpg"), "decision": "reject"}]))  # fmt: skip
    apply_decisions(report, read_decisions(path))
    assert suggestions(report)[("b.html", "logo.png")] == ("Shop home", "edited")
    assert suggestions(report)[("b.html", "menu.jpg")] == ("Menu (PDF)", None)
    assert suggestions(report)[("a.html", "menu.jpg")] == ("A printed lunch menu", "rejected")


def csv_rows_of(report: AuditReport, folder: Path) -> list[dict[str, str]]:
    """The CSV report's rows (one a place), as a spreadsheet gives them back."""
    path = write_atomically(FORMATS["csv"], report, folder / "report.csv")
    return list(csv.DictReader(path.open(encoding="utf-8-sig")))


def test_the_form_lists_the_link_name_apart_and_saves_it_as_such(
    site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form's review list (and the API's suggestions) has the menu twice: its description and the name of
    its link, each with its own key; saving the link name's row files the decision under the link's name."""
    from types import SimpleNamespace

    import service.form as form
    from service.review import review_items

    report = audit(site[0])
    write_atomically(FORMATS["json"], report, tmp_path / "report.json")
    store = SimpleNamespace(job_dir=lambda job_id: tmp_path)
    items = review_items(store, SimpleNamespace(id="j"))  # type: ignore[arg-type]
    labels = {item["key"]: form._choice_label(item) for item in items}
    menu = site[0].url("/menu.jpg")
    assert labels[menu] == "menu.jpg: A printed lunch menu"
    assert labels[f"{menu} (the name of its link)"] == "menu.jpg (the name of its link): Menu (PDF)"
    saved: list[dict] = []
    monkeypatch.setattr(form, "review_items", lambda store, job: items)
    monkeypatch.setattr(form, "save_review", lambda store, job, entries: saved.extend(entries) or
                        decisions_from(entries, "decisions"))  # fmt: skip
    monkeypatch.setattr(form, "report_paths", lambda folder: [])
    calls = form.FormCallbacks.__new__(form.FormCallbacks)
    calls.store = store
    monkeypatch.setattr(calls, "find", lambda job_id: SimpleNamespace(id="j"), raising=False)
    calls.save_decision("j", f"{menu} (the name of its link)", "accept", "Lunch menu (PDF)")
    assert saved == [{"url": menu, "decision": "edit", "text": "Lunch menu (PDF)", "suggestion_basis": "link_target"}]


def test_the_html_reports_review_says_which_widget_is_a_link_name(site) -> None:
    """Its decisions.json entries carry suggestion_basis for the link's name (read as in the round trip above)."""
    from reports.html import render_html

    page = render_html(audit(site[0]))
    assert page.count('data-basis="link_target"') == 1 and "e.suggestion_basis=r.dataset.basis" in page


def test_rows_that_edit_one_image_to_two_texts_still_disagree() -> None:
    """Only what one place adds is forgiven: two years in parentheses are two decisions."""
    rows = [{"url": "http://h/team.jpg", "decision": "edit", "suggested_alt": text}
            for text in ("Our team (2024)", "Our team (2025)")]  # fmt: skip
    with pytest.raises(DecisionsError, match=r"rows 2 and 3 decide differently for http://h/team\.jpg"):
        sheet_decisions(rows, "the sheet")
    agreeing = [{**rows[0], "suggested_alt": "Our team"}, rows[0]]
    assert [d.text for d in sheet_decisions(agreeing, "the sheet").values()] == ["Our team"]


def test_the_html_reports_review_keeps_the_last_decision_on_each_image(site, chromium: str, tmp_path: Path) -> None:
    """The shoe has a review control on each page; deciding it on both downloads one entry, the one made last
    (the file had two, and the first in page order won whatever the person did last)."""
    from playwright.sync_api import sync_playwright

    from reports.html import write_html

    path = write_html(audit(site[0]), tmp_path / "report.html")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(path.as_uri())
        shoe = page.locator(f".review[data-url='{site[0].url('/shoe.jpg')}']")
        assert shoe.count() == 2
        shoe.nth(1).locator("input").fill("Red leather derby shoes" + CART)  # an edit on b.html
        shoe.nth(0).locator("select").select_option("accept")  # then an accept on a.html, last
        page.locator(".review[data-basis='link_target']").locator("select").select_option("reject")
        with page.expect_download() as download:
            page.click("#download-decisions")
        saved = tmp_path / "decisions.json"
        download.value.save_as(saved)
        browser.close()
    entries = json.loads(saved.read_text())
    menu_name = {"url": site[0].url("/menu.jpg"), "decision": "reject", "suggestion_basis": "link_target"}
    assert entries == [{"url": site[0].url("/shoe.jpg"), "decision": "accept"}, menu_name]
