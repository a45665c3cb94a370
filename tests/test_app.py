"""The Gradio app on the tiny random BLIP: its API through gradio_client, and a real browser."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import ROOT, FixtureServer, make_image, serving, unused_port

from options import AuditOptions
from service import Service

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def shop(server: FixtureServer) -> str:
    """A small shop page: four good images, a tiny icon, a missing image, an SVG logo (captioned from the
    browser's drawing of it)."""
    for i, (w, h) in enumerate([(640, 480), (800, 600), (500, 500), (1200, 400)]):
        server.add(f"/shop/p{i}.jpg", make_image(w, h, "JPEG", seed=40 + i), content_type="image/jpeg")
    server.add("/shop/icon.png", make_image(16, 16), content_type="image/png")
    server.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    logo = b"<svg xmlns='http://www.w3.org/2000/svg' width='200' height='120'><circle cx='60' cy='60' r='50'/></svg>"
    server.add("/shop/logo.svg", logo, content_type="image/svg+xml")
    return server.add(
        "/shop/index.html",
        "<html lang='en'><title>Shop</title><body><h1>Shop</h1>"
        "<img src='p0.jpg' alt='Red shoes'><a href='/cart'><img src='p1.jpg'></a>"
        "<img src='p2.jpg' alt=''><div style='background:url(p3.jpg)'></div>"
        "<img src='icon.png'><img src='missing.jpg' alt='Gone'><img src='logo.svg' alt='Logo'></body></html>",
    )


@pytest.fixture(scope="module")
def app_url(tiny_blip_dir: Path, tiny_marian_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    defaults = AuditOptions(
        render="auto",  # the form renders with the system Chromium
        model=str(tiny_blip_dir),
        device="cpu",
        dtype="float32",
        min_new_tokens=3,
        allow_private=True,
        translation_models=(("fr", str(tiny_marian_dir)),),
    )
    with serving(Service(defaults, tmp_path_factory.mktemp("app-data"), max_site_pages=20)) as base:
        yield f"{base}/"


@pytest.fixture(scope="module")
def client(app_url: str):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def audit_args(url: str, tiny_blip_dir: Path, render: str = "auto") -> tuple:
    return (url, 100, 50, str(tiny_blip_dir), 1, 8, "", "en", render)


def test_api_audit_returns_records_and_files(client, shop: str, tiny_blip_dir: Path) -> None:
    summary, gallery, table, files = client.predict(*audit_args(shop, tiny_blip_dir), api_name="/audit")
    assert summary.startswith("**7 images found**: 5 captioned, 1 skipped, 1 failed")
    assert "Read as a headless browser shows it." in summary
    assert len(gallery) == 5 and all(item["caption"] for item in gallery)
    rows = {row[0].rsplit("/", 1)[-1]: row for row in table["data"]}
    assert rows["p0.jpg"][1:2] == ["captioned"] and rows["p0.jpg"][3] == "Red shoes"
    assert rows["p1.jpg"][3] == "(none)" and rows["p2.jpg"][3] == '(empty: "")'
    assert rows["icon.png"][1] == "skipped" and "minimum" in rows["icon.png"][2]
    assert rows["missing.jpg"][1] == "failed" and "404" in rows["missing.jpg"][2]
    assert rows["logo.svg"][1] == "captioned"  # the browser drew it
    names = sorted(Path(f).name for f in files)
    assert names == ["captions.txt", "report.csv", "report.html", "report.json", "report.xlsx"]  # not a Shopify
    # or WordPress site: no export that could set nothing
    assert "linked_image_no_text (critical)" in rows["p1.jpg"][5] and rows["p1.jpg"][4].endswith(
        "(link to the cart page)"
    )
    assert "empty_alt_on_content" in rows["p2.jpg"][5] and rows["p0.jpg"][4]
    by_name = {Path(f).name: Path(f) for f in files}
    report = json.loads(by_name["report.json"].read_text())
    assert report["summary"]["captioned"] == 5 and report["model"]["id"] == str(tiny_blip_dir)
    assert by_name["captions.txt"].read_text().startswith(f"# Page: {shop}")
    assert len(list(csv.DictReader(by_name["report.csv"].open(encoding="utf-8-sig")))) == 7


def test_api_js_page_rendered_or_warned(client, server: FixtureServer, tiny_blip_dir: Path) -> None:
    """The form renders a page whose images come from JavaScript; read statically, it says so."""
    server.add("/spa/photo.png", make_image(300, 200, seed=21), content_type="image/png")
    server.add(
        "/spa/index.html",
        "<html><body><div id='app'></div><script>const i = document.createElement('img');"
        "i.src = '/spa/photo.png'; i.alt = 'Fresh bread'; document.getElementById('app').appendChild(i);"
        "</script></body></html>",
    )
    rendered = client.predict(*audit_args(server.url("/spa/index.html"), tiny_blip_dir), api_name="/audit")[0]
    assert rendered.startswith("**1 images found**: 1 captioned")
    static = client.predict(*audit_args(server.url("/spa/index.html"), tiny_blip_dir, "never"), api_name="/audit")[0]
    assert static.startswith("**0 images found**") and "looks client-rendered" in static


def test_api_audit_in_french(client, shop: str, tiny_blip_dir: Path) -> None:
    _, _, table, files = client.predict(*audit_args(shop, tiny_blip_dir)[:-2], "fr", "auto", api_name="/audit")
    rows = {row[0].rsplit("/", 1)[-1]: row for row in table["data"]}
    assert "\n[fr] " in rows["p0.jpg"][6] and "\n[fr] " in rows["p0.jpg"][4]
    report = json.loads(next(Path(f) for f in files if f.endswith(".json")).read_text())
    first = report["pages"][0]["images"][0]
    assert first["translation_lang"] == "fr" and first["caption_translated"] and first["caption"]
    assert report["model"]["lang"] == "fr"


def test_api_single_image_upload_and_url(
    client, server: FixtureServer, shop: str, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    from gradio_client import handle_file

    image = tmp_path / "photo.png"
    image.write_bytes(make_image(320, 240, seed=7))
    caption, size = client.predict(handle_file(str(image)), "", str(tiny_blip_dir), api_name="/caption")
    assert caption and size.startswith("320x240")
    caption, size = client.predict(None, server.url("/shop/p0.jpg"), str(tiny_blip_dir), api_name="/caption")
    assert caption and size == "640x480 JPEG"
    # Typed without a scheme, as a dev server's address is: https:// first, then http:// (nothing speaks TLS).
    typed = server.url("/shop/p0.jpg").removeprefix("http://")
    caption, size = client.predict(None, f"\u200b{typed}", str(tiny_blip_dir), api_name="/caption")
    assert caption and size == "640x480 JPEG"
    with pytest.raises(Exception, match=r"is not a web address; give it as https://"):
        client.predict(None, "https//" + typed, str(tiny_blip_dir), api_name="/caption")
    # Uploads reach AltScout's guarded decoder unread: Gradio's Image no longer converts a non-RGB file
    # itself, and a file that is no image is one sentence, not Gradio's generic error.
    translucent = tmp_path / "logo.png"
    translucent.write_bytes(make_image(120, 90, mode="RGBA"))
    caption, size = client.predict(handle_file(str(translucent)), "", str(tiny_blip_dir), api_name="/caption")
    assert caption and size == "120x90 PNG"
    fake = tmp_path / "notes.png"
    fake.write_text("not an image")
    with pytest.raises(Exception, match=r"That file is not an image AltScout can read\."):
        client.predict(handle_file(str(fake)), "", str(tiny_blip_dir), api_name="/caption")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "An address is empty; enter the address of a web page."),
        ("ftp://example.com/", "only http:// and https:// pages can be audited."),
        ("http://exa mple.com/", "is not a web address"),
        ("http://169.254.169.254/latest/meta-data/", "refused for safety"),
        ("http://[fe80::1]/", "refused for safety"),
    ],
)
def test_api_errors_are_sentences(client, tiny_blip_dir: Path, url: str, message: str) -> None:
    with pytest.raises(Exception) as caught:  # gradio_client re-raises the app's gr.Error
        client.predict(*audit_args(url, tiny_blip_dir), api_name="/audit")
    text = str(caught.value)
    assert message in text
    assert "Traceback" not in text and "169.254" not in text.replace(url, "")


def test_api_unreachable_and_robots_messages(client, server: FixtureServer, tiny_blip_dir: Path) -> None:
    with pytest.raises(Exception, match="could not be reached"):
        client.predict(*audit_args(f"http://127.0.0.1:{unused_port()}/", tiny_blip_dir), api_name="/audit")
    with pytest.raises(Exception, match=r"robots\.txt does not allow"):
        client.predict(*audit_args(server.url("/private/page.html"), tiny_blip_dir), api_name="/audit")
    with pytest.raises(Exception, match="HTTP 404"):
        client.predict(*audit_args(server.url("/shop/nothing.html"), tiny_blip_dir), api_name="/audit")


def test_model_that_cannot_load_is_one_sentence(shop: str, tmp_path: Path) -> None:
    from gradio_client import Client

    missing = str(tmp_path / "no-model")
    service = Service(AuditOptions(render="never", model=missing, device="cpu", allow_private=True), tmp_path / "d")
    with serving(service) as base:
        with pytest.raises(Exception, match=r"The captioning model folder '.*no-model' could not be loaded") as caught:
            Client(f"{base}/", verbose=False).predict(shop, 100, 50, missing, 1, 8, "", "en", api_name="/audit")
        text = str(caught.value)
        assert "Traceback" not in text and "there is no such folder" in text
        assert "pass --model FOLDER naming the folder" in text
        assert "(" + "Error" not in text and "Repository" not in text  # the library's own words stay in the log


def test_private_guard_on_by_default(server: FixtureServer, tiny_blip_dir: Path, shop: str, tmp_path: Path) -> None:
    from gradio_client import Client

    service = Service(AuditOptions(render="never", model=str(tiny_blip_dir), device="cpu"), tmp_path / "d")
    with serving(service) as base:
        with pytest.raises(Exception) as caught:
            Client(f"{base}/", verbose=False).predict(*audit_args(shop, tiny_blip_dir), api_name="/audit")
        assert "refused for safety" in str(caught.value) and "127.0.0.1" not in str(caught.value).replace(shop, "")


def test_unknown_model_is_refused(client, shop: str) -> None:
    with pytest.raises(Exception, match=r"not offered by this server|not in the list of choices"):
        client.predict(shop, 100, 50, "/etc", 1, 8, "", "en", api_name="/audit")


def launch(p: Any) -> Any:
    return p.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    )


def need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: .ci/run installs it with apt")
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")


def test_browser_audit(app_url: str, shop: str, tmp_path: Path) -> None:
    """Playwright drives the system Chromium: type the URL, Run, read the job page's results."""
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app_url)
        page.locator("#url textarea, #url input").first.fill(shop)
        page.locator("#run").click()
        expect(page.locator("#progress")).to_contain_text("Done", timeout=120_000)
        assert "?job=" in page.url
        summary = page.locator("#summary")
        expect(summary).to_contain_text("7 images found: 5 captioned, 1 skipped, 1 failed")
        expect(summary).to_contain_text("Read as a headless browser shows it")
        expect(page.locator("#gallery img")).to_have_count(5, timeout=30_000)
        expect(page.locator("#files a")).to_have_count(5)  # no Shopify CSV or WP-CLI script: not such a site
        frame = page.frame_locator("#results iframe")
        rows = frame.locator("tr.image-row")
        expect(rows).to_have_count(7, timeout=30_000)
        for text in ("p0.jpg", "Red shoes", "captioned", "skipped", "failed", "missing.jpg"):
            expect(frame.locator("body")).to_contain_text(text)
        box = page.locator("#results iframe").bounding_box()
        assert box and box["height"] >= 0.8 * 1000  # a screenful of rows, not a two-row scroll box
        frame.locator("#status-filter").select_option("failed")
        expect(frame.locator("tr.image-row:visible")).to_have_count(1)
        expect(frame.locator("tr.image-row:visible")).to_contain_text("missing.jpg")
        frame.locator("tr.image-row:visible details.more summary").click()
        expect(frame.locator("tr.image-row:visible details.more dl")).to_contain_text("reason code")
        frame.locator("#status-filter").select_option("")
        expect(page.locator("#recent")).to_contain_text("127.0.0.1")
        # Issue 28: review a suggestion in the form; it is saved with the job and the downloads follow it.
        page.get_by_text("Review the suggestions before export").click()
        page.locator("#review-image input").click()
        option = page.locator('[data-testid="dropdown-option"]').first
        expect(option).to_be_visible(timeout=15_000)
        option.click()
        text_box = page.locator("#review-text textarea, #review-text input").first
        expect(text_box).not_to_have_value("", timeout=15_000)
        text_box.fill("Edited in the form")
        page.locator("#review-decision label").filter(has_text="edit").click()
        page.locator("#review-save").click()
        expect(page.locator("#review-status")).to_contain_text("Saved: 1 edited", timeout=30_000)
        job_id = page.url.split("?job=")[1]
        kept = requests.get(f"{app_url}api/v1/audits/{job_id}/decisions", timeout=10).json()["decisions"]
        assert [(entry["decision"], entry.get("text")) for entry in kept] == [("edit", "Edited in the form")]
        rows = csv.DictReader(io.StringIO(requests.get(f"{app_url}api/v1/audits/{job_id}/report.csv",
                                                       timeout=10).content.decode("utf-8-sig")))  # fmt: skip
        assert [row["suggested_alt"] for row in rows if row["decision"] == "edited"] == ["Edited in the form"]
        # ...and the report's own CSV, its decision column filled in a spreadsheet, uploaded as the review.
        text = requests.get(f"{app_url}api/v1/audits/{job_id}/report.csv", timeout=10).content.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        target = next(row["url"] for row in rows if row["suggested_alt"] and not row["decision"])
        for row in rows:
            row["decision"] = "reject" if row["url"] == target else row["decision"]
        sheet = tmp_path / "reviewed.csv"
        with sheet.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        page.locator("#review-sheet input[type=file]").set_input_files(str(sheet))
        expect(page.locator("#review-status")).to_contain_text("Saved: 1 edited, 1 rejected", timeout=30_000)
        shot = tmp_path / "audit.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    target = os.environ.get("ALTSCOUT_SCREENSHOT_DIR")
    if target:
        shutil.copy(shot, Path(target) / "screenshot-audit.png")
    assert ROOT.exists()


def test_browser_site_audit_survives_a_reload(app_url: str, server: FixtureServer) -> None:
    """Start a whole-site audit from the form, reload mid-run, watch it go on from another browser too."""
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    server.add("/web-site/logo.png", make_image(300, 120, seed=80), content_type="image/png")
    links = "".join(f'<a href="/web-site/p{i}">Page {i}</a>' for i in range(6))
    for i in range(6):
        server.add(f"/web-site/p{i}.jpg", make_image(320, 200, "JPEG", seed=81 + i), content_type="image/jpeg")
        server.add(
            f"/web-site/p{i}",
            f"<html><body><img src='/web-site/logo.png' alt='Logo'><img src='/web-site/p{i}.jpg' alt='Photo'></body>",
            delay_s=1.5,
        )
    start = server.add("/web-site/", f"<html><body><img src='/web-site/logo.png' alt='Logo'>{links}</body></html>")
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app_url)
        page.locator("#url textarea, #url input").first.fill(start)
        page.locator("#what").get_by_text("Whole site").click()
        page.locator("#run").click()
        expect(page.locator("#progress")).to_contain_text("Running", timeout=60_000)
        job_url = page.url
        assert "?job=" in job_url
        page.reload()
        expect(page.locator("#progress")).to_contain_text("Running", timeout=30_000)
        expect(page.locator("#cancel")).to_be_visible()
        other = launch(p).new_page()  # another browser: the job's link shows the same audit
        other.goto(job_url)
        expect(other.locator("#progress")).to_contain_text("pages", timeout=30_000)
        expect(page.locator("#progress")).to_contain_text("Done", timeout=180_000)
        expect(page.locator("#progress")).to_contain_text("7 of 7 pages")
        expect(page.locator("#summary")).to_contain_text("Site: 7 URLs found, 7 pages audited")
        expect(page.frame_locator("#results iframe").locator("#site-summary")).to_be_visible(timeout=30_000)
        expect(other.locator("#progress")).to_contain_text("Done", timeout=30_000)
        browser.close()
