"""The Gradio app on the tiny random BLIP: its API through gradio_client, and a real browser."""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, FixtureServer, make_image, unused_port

import app
from options import AuditOptions

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def shop(server: FixtureServer) -> str:
    """A small shop page: four good images, a tiny icon, a missing image, an SVG."""
    for i, (w, h) in enumerate([(640, 480), (800, 600), (500, 500), (1200, 400)]):
        server.add(f"/shop/p{i}.jpg", make_image(w, h, "JPEG", seed=40 + i), content_type="image/jpeg")
    server.add("/shop/icon.png", make_image(16, 16), content_type="image/png")
    server.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    server.add("/shop/logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", content_type="image/svg+xml")
    return server.add(
        "/shop/index.html",
        "<html lang='en'><title>Shop</title><body><h1>Shop</h1>"
        "<img src='p0.jpg' alt='Red shoes'><a href='/cart'><img src='p1.jpg'></a>"
        "<img src='p2.jpg' alt=''><div style='background:url(p3.jpg)'></div>"
        "<img src='icon.png'><img src='missing.jpg' alt='Gone'><img src='logo.svg' alt='Logo'></body></html>",
    )


@pytest.fixture(scope="module")
def app_url(tiny_blip_dir: Path, tiny_marian_dir: Path) -> Iterator[str]:
    defaults = AuditOptions(
        render="auto",  # the form renders with the system Chromium
        model=str(tiny_blip_dir),
        device="cpu",
        dtype="float32",
        min_new_tokens=3,
        allow_private=True,
        translation_models=(("fr", str(tiny_marian_dir)),),
    )
    demo = app.build_app(defaults)
    port = unused_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, show_error=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def client(app_url: str):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def audit_args(url: str, tiny_blip_dir: Path, render: str = "auto") -> tuple:
    return (url, 100, 50, str(tiny_blip_dir), 1, 8, "", "en", render)


def test_api_audit_returns_records_and_files(client, shop: str, tiny_blip_dir: Path) -> None:
    summary, gallery, table, files = client.predict(*audit_args(shop, tiny_blip_dir), api_name="/audit")
    assert summary.startswith("**7 images found**: 4 captioned, 2 skipped, 1 failed")
    assert "Read as a headless browser shows it." in summary
    assert len(gallery) == 4 and all(item["caption"] for item in gallery)
    rows = {row[0].rsplit("/", 1)[-1]: row for row in table["data"]}
    assert rows["p0.jpg"][1:2] == ["captioned"] and rows["p0.jpg"][3] == "Red shoes"
    assert rows["p1.jpg"][3] == "(none)" and rows["p2.jpg"][3] == '(empty: "")'
    assert rows["icon.png"][1] == "skipped" and "minimum" in rows["icon.png"][2]
    assert rows["missing.jpg"][1] == "failed" and "404" in rows["missing.jpg"][2]
    assert rows["logo.svg"][1] == "skipped"
    names = sorted(Path(f).name for f in files)
    assert names == ["captions.txt", "report.csv", "report.html", "report.json"]
    assert "linked_image_no_text (critical)" in rows["p1.jpg"][5] and rows["p1.jpg"][4].endswith(
        "(link to the cart page)"
    )
    assert "empty_alt_on_content" in rows["p2.jpg"][5] and rows["p0.jpg"][4]
    by_name = {Path(f).name: Path(f) for f in files}
    report = json.loads(by_name["report.json"].read_text())
    assert report["summary"]["captioned"] == 4 and report["model"]["id"] == str(tiny_blip_dir)
    assert by_name["captions.txt"].read_text().startswith(f"# Page: {shop}")
    assert len(list(csv.DictReader(by_name["report.csv"].open()))) == 7


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


def test_api_single_image_upload_and_url(client, server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path) -> None:
    from gradio_client import handle_file

    image = tmp_path / "photo.png"
    image.write_bytes(make_image(320, 240, seed=7))
    caption, size = client.predict(handle_file(str(image)), "", str(tiny_blip_dir), api_name="/caption")
    assert caption and size.startswith("320x240")
    caption, size = client.predict(None, server.url("/shop/p0.jpg"), str(tiny_blip_dir), api_name="/caption")
    assert caption and size == "640x480 JPEG"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Please enter the address of a web page."),
        ("ftp://example.com/", "Only http:// and https:// addresses can be audited."),
        ("http://exa mple.com/", "does not look like a valid web address"),
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
    demo = app.build_app(AuditOptions(render="never", model=missing, device="cpu", allow_private=True))
    port = unused_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with pytest.raises(Exception, match="captioning model could not be loaded") as caught:
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
                shop, 100, 50, missing, 1, 8, "", "en", api_name="/audit"
            )
        assert "Traceback" not in str(caught.value)
    finally:
        demo.close()


def test_private_guard_on_by_default(server: FixtureServer, tiny_blip_dir: Path, shop: str) -> None:
    from gradio_client import Client

    demo = app.build_app(AuditOptions(render="never", model=str(tiny_blip_dir), device="cpu", dtype="float32"))
    port = unused_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with pytest.raises(Exception) as caught:
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
                *audit_args(shop, tiny_blip_dir), api_name="/audit"
            )
        assert "refused for safety" in str(caught.value) and "127.0.0.1" not in str(caught.value).replace(shop, "")
    finally:
        demo.close()


def test_unknown_model_is_refused(client, shop: str) -> None:
    with pytest.raises(Exception, match=r"not offered by this server|not in the list of choices"):
        client.predict(shop, 100, 50, "/etc", 1, 8, "", "en", api_name="/audit")


def test_browser_audit(app_url: str, shop: str, tmp_path: Path) -> None:
    """Playwright drives the system Chromium: type the URL, Run, check gallery and table."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: .ci/run installs it with apt")
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(app_url)
        page.locator("#url textarea, #url input").first.fill(shop)
        page.locator("#run").click()
        expect(page.locator("#summary")).to_contain_text("7 images found", timeout=120_000)
        expect(page.locator("#summary")).to_contain_text("4 captioned, 2 skipped, 1 failed")
        expect(page.locator("#summary")).to_contain_text("Read as a headless browser shows it")
        expect(page.locator("#gallery img")).to_have_count(4, timeout=30_000)
        table = page.locator("#table")
        for text in ("p0.jpg", "Red shoes", "captioned", "skipped", "failed", "missing.jpg"):
            expect(table).to_contain_text(text)
        shot = tmp_path / "audit.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    target = os.environ.get("ALTSCOUT_SCREENSHOT_DIR")
    if target:
        shutil.copy(shot, Path(target) / "screenshot-audit.png")
    assert ROOT.exists()
