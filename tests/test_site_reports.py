"""Site reports: the JSON site block and images view (schema-valid), pages.csv (golden), the HTML
site summary in Chromium, and comparison with a previous audit (--compare, --fail-on-new)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import jsonschema
import pytest
from conftest import FakeCaptioner, FixtureServer
from crawl_fixture import fake_dns, serve_shop

import cli
from auditing.compare import compare
from options import AuditOptions
from pipeline import run_audit
from reports import SCHEMA_PATH, write_html, write_pages_csv
from reports.writers import PAGES_CSV_COLUMNS

GOLDEN = Path(__file__).parent / "golden"
CRAWL = AuditOptions(render="never", crawl=True, allow_private=True, batch_size=4)


@pytest.fixture()
def shop(monkeypatch: pytest.MonkeyPatch, fresh_server: FixtureServer) -> FixtureServer:
    fake_dns(monkeypatch)
    serve_shop(fresh_server, crawl_delay=0.05)
    return fresh_server


def test_site_json_is_schema_valid_with_an_images_view(shop: FixtureServer) -> None:
    report = run_audit([f"http://shop.test:{shop.port}/"], CRAWL, FakeCaptioner())
    data = report.to_dict()
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    images = {tuple(image["urls"]): image for image in data["images"]}
    logo = next(image for urls, image in images.items() if urls[0].endswith("/img/logo.png"))
    assert len(logo["pages"]) == 6 and {p["alt"] for p in logo["pages"]} == {"Shop logo"}
    assert not logo["inconsistent_alt"]
    same = next(image for urls, image in images.items() if any("/img/same-" in u for u in urls))
    assert len(same["urls"]) == 2 and same["inconsistent_alt"]  # "Bread" on the home page, no alt on /about
    flagged = [r for p in report.pages for r in p.images if "inconsistent_alt" in r.alt_issues]
    assert len(flagged) == 2 and data["summary"]["issues"]["inconsistent_alt"] == 2
    assert data["site"]["unique_images"] == len(data["images"])


def test_pages_csv_matches_golden(shop: FixtureServer, tmp_path: Path) -> None:
    report = run_audit([f"http://shop.test:{shop.port}/"], CRAWL, FakeCaptioner())
    path = write_pages_csv(report, tmp_path / "pages.csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    assert list(rows[0]) == PAGES_CSV_COLUMNS
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PAGES_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: r["url"]):  # crawl order depends on timing; content does not
        writer.writerow({k: v.replace(str(shop.port), "PORT") for k, v in row.items()})
    assert out.getvalue() == (GOLDEN / "site-pages.csv").read_text(encoding="utf-8")


def test_html_site_summary_in_chromium(shop: FixtureServer, tmp_path: Path, chromium: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    options = dataclasses.replace(CRAWL, thumbnail_size=80)
    report = run_audit([f"http://shop.test:{shop.port}/"], options, FakeCaptioner())
    report.comparison = compare(report, {"pages": []})
    path = write_html(report, tmp_path / "site.html")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(path.as_uri())
        expect(page.locator("#coverage")).to_contain_text("6pages audited")
        expect(page.locator("#changes")).to_contain_text("not comparable")
        expect(page.locator("#worst-pages tbody tr")).not_to_have_count(0)
        rows = page.locator("tr.site-image")
        total = rows.count()
        page.check("#inconsistent-only")
        expect(page.locator("tr.site-image:visible")).to_have_count(1)
        page.uncheck("#inconsistent-only")
        expect(page.locator("tr.site-image:visible")).to_have_count(total)
        page.select_option("#issue-filter", "inconsistent_alt")
        expect(page.locator("#shown")).to_have_text("2")
        browser.close()


def _page(url: str, images: list[tuple[str, list[str]]]) -> dict:
    return {"url": url, "status": "ok", "images": [{"url": u, "alt_issues": i, "seo_issues": []} for u, i in images]}


def test_comparison_states() -> None:
    from records import AuditReport, ImageRecord, PageReport

    previous = {
        "pages": [
            _page(
                "https://a.example/",
                [("https://a.example/1.jpg", ["missing_alt"]), ("https://a.example/2.jpg", ["too_long"])],
            ),
            _page("https://a.example/gone", [("https://a.example/3.jpg", ["missing_alt"])]),
        ]
    }
    one = ImageRecord(source="https://a.example/1.jpg", alt_issues=["missing_alt"])
    two = ImageRecord(source="https://a.example/2.jpg", alt_issues=["duplicate_alt"])
    new_page = ImageRecord(source="https://a.example/4.jpg", alt_issues=["missing_alt"])
    current = AuditReport(
        pages=[PageReport(url="https://A.example:443/", images=[one, two]),
               PageReport(url="https://a.example/new", images=[new_page])]
    )  # fmt: skip
    result = compare(current, previous)
    states = {(row["image"].rsplit("/", 1)[-1], row["check"]): row["state"] for row in result["findings"]}
    assert states == {
        ("1.jpg", "missing_alt"): "persisting",
        ("2.jpg", "duplicate_alt"): "new",
        ("2.jpg", "too_long"): "fixed",
        ("4.jpg", "missing_alt"): "not_comparable",  # page not audited last time
        ("3.jpg", "missing_alt"): "not_comparable",  # page not audited now: never counted as fixed
    }
    assert result["counts"] == {"new": 1, "fixed": 1, "persisting": 1, "not_comparable": 2}


def test_cli_compare_and_fail_on_new(
    shop: FixtureServer, tiny_blip_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = f"http://shop.test:{shop.port}"
    common = [
        *(f"{base}/", "--crawl", "--model", str(tiny_blip_dir), "--allow-private", "--render", "never", "--quiet"),
        *("--max-new-tokens", "4", "--min-new-tokens", "2", "--out", str(tmp_path / "c.txt")),
    ]
    assert cli.main([*common, "--json", str(tmp_path / "before.json")]) == 0
    # The same site again: every finding persists, so gating on new serious issues passes...
    gate = ["--compare", str(tmp_path / "before.json"), "--fail-on", "serious", "--fail-on-new"]
    assert cli.main([*common, *gate, "--json", str(tmp_path / "same.json")]) == 0
    same = json.loads((tmp_path / "same.json").read_text())["comparison"]
    assert same["counts"]["new"] == 0 and same["counts"]["persisting"] > 0
    assert cli.main([*common, "--fail-on", "serious"]) == 3  # ...while --fail-on alone fails on old ones
    # A regression: an image loses its alt on the products page.
    shop.routes["/products"].body = shop.routes["/products"].body.replace(b' alt="Cakes"', b"")
    capsys.readouterr()
    assert cli.main([*common, *gate, "--json", str(tmp_path / "after.json")]) == 3
    err = capsys.readouterr().err.splitlines()
    why = [line for line in err if "or worse" in line]
    assert why == ["altscout: new issues of severity serious or worse (--fail-on-new): missing_alt (1, critical)"]
    named = [line for line in err if line.startswith("altscout:   ")]  # the one new finding, not the old ones
    assert len(named) == 1 and named[0].startswith(f"altscout:   missing_alt (critical): {base}/products · ")
    assert named[0].endswith("/products.png")
    after_report = json.loads((tmp_path / "after.json").read_text())
    jsonschema.validate(after_report, json.loads(SCHEMA_PATH.read_text()))
    after = after_report["comparison"]
    new = [row for row in after["findings"] if row["state"] == "new"]
    assert {(row["check"], row["image"].rsplit("/", 1)[-1]) for row in new} >= {("missing_alt", "products.png")}


def test_cli_says_how_many_urls_a_crawl_left_out(
    shop: FixtureServer, tiny_blip_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pages_csv = tmp_path / "pages.csv"
    args = [f"http://shop.test:{shop.port}/", "--crawl", "--max-pages", "1", "--model", str(tiny_blip_dir),
            "--allow-private", "--render", "never", "--max-new-tokens", "4", "--min-new-tokens", "2",
            "--out", str(tmp_path / "c.txt"), "--pages-csv", str(pages_csv)]  # fmt: skip
    assert cli.main(args) == 0
    rows = list(csv.DictReader(pages_csv.open(encoding="utf-8-sig")))
    left = sorted(row["reason"] for row in rows if row["status"] == "skipped")
    assert left.count("max_pages") >= 2
    why = ", ".join(f"{reason}: {left.count(reason)}" for reason in sorted(set(left)))
    said = [line for line in capsys.readouterr().err.splitlines() if "were not audited" in line]
    assert said == [f"altscout: {len(left)} URL(s) found were not audited ({why}); {pages_csv} lists them with the "
                    "reason"]  # fmt: skip
