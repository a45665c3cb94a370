"""The HTML audit report: structure, escaping, filtering in a real browser, and --fail-on."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import FakeCaptioner, FixtureServer, make_image
from test_cli import run_cli, tiny_cli_args

from auditing import ISSUES
from options import AuditOptions
from pipeline import run_audit
from records import AuditReport
from reports import render_html, write_html
from reports.decisions import read_decisions

CHROMIUM = "/usr/bin/chromium"
HOSTILE_ALT = '"><script>window.pwned=1</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def report(server: FixtureServer) -> AuditReport:
    for i in range(4):
        server.add(f"/h/p{i}.jpg", make_image(400, 300, "JPEG", seed=60 + i), content_type="image/jpeg")
    server.add("/h/tiny.png", make_image(10, 10), content_type="image/png")
    server.add(
        "/h/page.html",
        "<html lang='en'><title>Report page</title><body>"
        "<img src='p0.jpg' alt='image of a product' width=400 height=300>"
        "<a href='/buy'><img src='p1.jpg'></a>"
        f"<img src='p2.jpg' alt='{HOSTILE_ALT.replace(chr(39), '')}' width=400 height=300>"
        "<img src='p3.jpg' alt='IMG_0001.jpg'><img src='tiny.png' alt=''><img src='gone.png' alt='x'></body></html>",
    )
    options = AuditOptions(render="never", allow_private=True, thumbnail_size=120)
    return run_audit([server.url("/h/page.html")], options, FakeCaptioner())


def test_structure_and_escaping(report: AuditReport) -> None:
    html = render_html(report)
    soup = BeautifulSoup(html, "lxml")
    rows = soup.select("tbody tr.image-row")
    assert len(rows) == 6
    assert soup.find("title").text == "AltScout audit"
    assert [s.text for s in soup.find_all("script")] and len(soup.find_all("script")) == 1  # only our filter
    assert "window.pwned" not in "".join(s.text for s in soup.find_all("script"))
    assert "&lt;script&gt;" in html
    thumbs = soup.select("td.thumb img")
    assert len(thumbs) == 5 and all(img["src"].startswith("data:image/jpeg;base64,") for img in thumbs)  # tiny too
    options = [o["value"] for o in soup.select("#issue-filter option")]
    assert options[:2] == ["", "none"] and "linked_image_no_text" in options and "filename_alt" in options
    linked = next(r for r in rows if "p1.jpg" in r.text)
    assert "linked_image_no_text" in linked["data-issues"].split()
    assert linked.find("a", href="#issue-linked_image_no_text")  # explained once, in the guide
    guide = soup.select_one("#issue-guide tr#issue-linked_image_no_text")
    assert guide is not None and ISSUES["linked_image_no_text"].explanation in guide.text
    assert guide.find("a", href=ISSUES["linked_image_no_text"].help_url) and "link-name" in guide.text
    assert html.count(ISSUES["linked_image_no_text"].explanation) == 1
    counts = soup.select_one("#issue-counts").text
    assert "Linked image without text" in counts
    assert "http://" not in html.split("<body>")[0]  # self-contained: no external CSS/JS


def test_html_renders_and_filters_in_chromium(report: AuditReport, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: .ci/run installs it with apt")
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    path = write_html(report, tmp_path / "report.html")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(path.as_uri())
        expect(page.locator("tbody tr.image-row:visible")).to_have_count(6)
        assert page.evaluate("window.pwned") is None
        page.select_option("#issue-filter", "linked_image_no_text")
        expect(page.locator("tbody tr.image-row:visible")).to_have_count(1)
        expect(page.locator("#shown")).to_have_text("1")
        page.select_option("#issue-filter", "")
        expect(page.locator("tbody tr.image-row:visible")).to_have_count(6)
        failed = sum(1 for record in report.pages[0].images if record.status == "failed")
        page.select_option("#status-filter", "failed")
        expect(page.locator("tbody tr.image-row:visible")).to_have_count(failed)
        page.select_option("#status-filter", "")
        page.locator("tbody tr.image-row a[href='#issue-linked_image_no_text']").click()  # the guide opens there
        expect(page.locator("#issue-guide tr#issue-linked_image_no_text")).to_be_visible()
        first = page.locator("tbody tr.image-row").first
        expect(first.locator("details.more dl")).not_to_be_visible()
        first.locator("details.more summary").click()
        expect(first.locator("details.more dl")).to_contain_text("found in")
        images = page.locator("td.thumb img")
        assert all(images.nth(i).evaluate("img => img.naturalWidth > 0") for i in range(images.count()))
        reviews = page.locator(".review")
        assert reviews.count() >= 2  # a review control beside each suggestion for an alt
        reviews.nth(0).locator("select").select_option("reject")
        reviews.nth(1).locator("input").fill("Hand-written alt")  # typing makes it an edit
        with page.expect_download() as download:
            page.click("#download-decisions")
        saved = tmp_path / "decisions.json"
        download.value.save_as(saved)
        decided = read_decisions(saved)
        assert [(d.decision, d.text) for d in decided.values()] == [("reject", None), ("edit", "Hand-written alt")]
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert not errors and shot.stat().st_size > 10_000
    if os.environ.get("ALTSCOUT_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["ALTSCOUT_SCREENSHOT_DIR"]) / "screenshot-report.png")


@pytest.mark.parametrize(
    ("page", "fail_on", "code"),
    [
        ("/f/clean.html", "critical", 0),
        ("/f/linked.html", "critical", 3),
        ("/f/clean.html", "minor", 3),
        ("/f/linked.html", None, 0),
    ],
)
def test_fail_on_exit_codes(
    server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path, page: str, fail_on: str | None, code: int
) -> None:
    server.add("/f/red-running-shoes.png", make_image(300, 200, seed=3), content_type="image/png")
    server.add("/f/clean.html", "<img src='red-running-shoes.png' alt='Red shoes' width=300 height=200>")
    server.add("/f/linked.html", "<a href='/x'><img src='red-running-shoes.png' width=300 height=200></a>")
    args = [
        server.url(page),
        *tiny_cli_args(tiny_blip_dir),
        "--html",
        "r.html",
    ]
    if fail_on:
        args += ["--fail-on", fail_on]
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    # The gate says why, even with --quiet: the issues at or over the threshold, worst first, with their counts.
    why = [line for line in result.stderr.splitlines() if "or worse" in line]
    if code == 3 and page == "/f/linked.html":
        listed = "linked_image_no_text (1, critical), missing_alt (1, critical)"
        assert why == [f"altscout: issues of severity critical or worse (--fail-on): {listed}"]
    elif code == 3:
        assert len(why) == 1 and why[0].startswith("altscout: issues of severity minor or worse (--fail-on): ")
        assert "link" not in why[0]
    else:
        assert why == []


def test_the_gate_names_the_failing_images_and_annotates_a_github_job(
    server: FixtureServer,
    tiny_blip_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A red CI job says which images fail, where (page, selector, image), in the log and, on GitHub, as
    annotations and a summary table; past ten, the reports list the rest."""
    import cli

    server.add("/g/shoe.png", make_image(300, 200, seed=3), content_type="image/png")
    imgs = "".join(f"<img src='shoe.png?v={i}' width=300 height=200>" for i in range(12))
    server.add("/g/page.html", f"<a href='/x'><img src='shoe.png' width=300 height=200></a>{imgs}")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    args = [server.url("/g/page.html"), *tiny_cli_args(tiny_blip_dir), "--out", str(tmp_path / "c.txt")]
    assert cli.main([*args, "--fail-on", "critical"]) == 3
    out, err = capfd.readouterr()
    named = [line for line in err.splitlines() if line.startswith("altscout:   ")]
    page = server.url("/g/page.html")
    assert (
        named[0]
        == f"altscout:   linked_image_no_text (critical): {page} · body > a > img · {server.url('/g/shoe.png')}"
    )
    assert (
        len(named) == 11 and named[-1] == "altscout:   … and 4 more: the --csv, --html or --json report lists every one"
    )
    annotations = out.splitlines()
    assert len(annotations) == 10 and annotations[0].startswith("::error title=AltScout: Linked image without text::")
    table = summary.read_text()
    assert "### AltScout: 14 finding(s) of severity critical or worse" in table
    assert "| Image without a name | critical | 13 |" in table


def test_fail_on_takes_precedence_over_failed_pages(server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path) -> None:
    server.add("/f/red-running-shoes.png", make_image(300, 200, seed=3), content_type="image/png")
    server.add("/f/linked.html", "<a href='/x'><img src='red-running-shoes.png' width=300 height=200></a>")
    result = run_cli(
        server.url("/f/linked.html"),
        server.url("/f/missing.html"),
        "--model",
        str(tiny_blip_dir),
        "--allow-private",
        "--render",
        "never",
        "--quiet",
        "--max-new-tokens",
        "4",
        "--fail-on",
        "serious",
        cwd=tmp_path,
    )
    assert result.returncode == 3


def test_absent_empty_and_blank_alts_are_told_apart() -> None:
    from reports.html import _text

    assert "(none)" in _text(None) and '(empty: "")' in _text("")
    assert str(_text("  ")) == '<span class="none">(whitespace only: "  ")</span>'
    assert str(_text("<b>")) == "&lt;b&gt;"


@pytest.mark.parametrize(
    ("size", "shown"),
    [(312, "312 B"), (3_500, "3.4 KB"), (120_000, "117 KB"), (1_700_000, "1.6 MB")],
)
def test_image_sizes_read_as_a_person_reads_them(size: int, shown: str) -> None:
    """A 40-px logo of 312 bytes was "0 KB"."""
    from reports.html import file_size

    assert file_size(size) == shown
