"""The first hour at the server: every mistake answered with one sentence, as the API and the form say it.

Each case goes through the real server: its HTTP status and its one sentence, or the page a person sees.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import ROOT, FakeCaptioner, FixtureServer, make_image, serving
from test_first_hour import API, one_line, serve_first_page

from options import AuditOptions
from service import Service


@pytest.fixture(scope="module")
def page(server: FixtureServer) -> str:
    return serve_first_page(server)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> str:
    service = Service(AuditOptions(render="never", allow_private=True), tmp_path_factory.mktemp("first-hour"),
                      captioner=FakeCaptioner())  # fmt: skip
    with serving(service) as base:
        yield base


def wait_final(base: str, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = requests.get(f"{base}{API}/{job_id}", timeout=10).json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError("the job did not finish")


def test_unknown_routes_and_wrong_methods_answer_one_sentence(api: str) -> None:
    missing = requests.get(f"{api}/api/v1/nothing-here", timeout=10)
    assert missing.status_code == 404 and missing.json() == {
        "error": "There is no API route /api/v1/nothing-here; the routes are listed at /docs."
    }
    wrong = requests.put(f"{api}{API}", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"] == f"PUT is not allowed on {API}; use GET, POST."
    invalid = requests.post(f"{api}{API}", json={"urls": ["http://a.test/"], "crawl": "yes"}, timeout=10)
    assert invalid.status_code == 422 and set(invalid.json()) == {"error"}


def test_jobs_say_when_pages_failed(api: str, page: str, server: FixtureServer) -> None:
    gone = server.url("/first/gone.html")
    failed = wait_final(api, requests.post(f"{api}{API}", json={"urls": [gone]}, timeout=10).json()["id"])
    assert failed["state"] == "failed" and failed["error"] == "The page answered with HTTP 404."
    partly = requests.post(f"{api}{API}", json={"urls": [page, gone]}, timeout=10).json()
    job = wait_final(api, partly["id"])
    assert job["state"] == "done" and job["summary"]["pages_note"] == "1 of 2 page(s) could not be audited."


def test_options_are_echoed_under_the_names_a_request_gives_them(api: str, page: str) -> None:
    body = {"urls": [page], "options": {"min_size": 50, "max_images": 7}}
    job = requests.post(f"{api}{API}", json=body, timeout=10).json()
    assert job["options"]["min_size"] == 50 and job["options"]["max_images"] == 7 and "min_width" not in job["options"]


def test_api_docs_work_offline(api: str) -> None:
    html = requests.get(f"{api}/docs", timeout=10).text
    assert "/docs-assets/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert requests.get(f"{api}/docs-assets/{asset}", timeout=10).status_code == 200


def test_an_api_job_opens_on_the_form_by_its_link(api: str, page: str) -> None:
    job = wait_final(api, requests.post(f"{api}{API}", json={"urls": [page]}, timeout=10).json()["id"])
    assert requests.get(f"{api}/jobs/{job['id']}/report.html", timeout=10).status_code == 200
    assert job["links"]["self"].endswith(job["id"])


def test_an_address_that_is_no_page_or_image_is_one_sentence(api: str, server: FixtureServer) -> None:
    """A PDF given to audit is refused by its Content-Type before its body is read (it was read as an
    HTML page with no images, "ok"); an image given to audit is audited as itself."""
    pdf = server.add("/first/menu.pdf", b"%PDF-1.4 " + b"x" * 5000, content_type="application/pdf")
    job = wait_final(api, requests.post(f"{api}{API}", json={"urls": [pdf]}, timeout=10).json()["id"])
    sentence = "That address is not a web page or an image (a PDF, a video or another file)."
    assert job["state"] == "failed" and job["error"] == sentence and job["summary"]["page_error"] == sentence
    photo = server.add("/first/photo.jpg", make_image(500, 400, "JPEG", seed=99), content_type="image/jpeg")
    job = wait_final(api, requests.post(f"{api}{API}", json={"urls": [photo]}, timeout=10).json()["id"])
    assert job["state"] == "done" and job["summary"]["captioned"] == 1


@contextmanager
def job_gallery(api: str, job_id: str, chromium: str, images: int) -> Iterator[Any]:
    """The form's page of a finished job in Chromium, once its gallery shows ``images`` images."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1200, "height": 800})
        tab.goto(f"{api}/?job={job_id}")
        tab.wait_for_function(f"() => document.querySelectorAll('#gallery img').length === {images}", timeout=30_000)
        yield tab
        browser.close()


def test_the_forms_gallery_shows_every_captioned_image(api: str, server: FixtureServer, chromium: str) -> None:
    formats = [("png", "PNG", "RGBA"), ("jpg", "JPEG", "CMYK"), ("webp", "WEBP", "RGB"), ("gif", "GIF", "P"),
               ("png", "PNG", "LA"), ("jpg", "JPEG", "L"), ("png", "PNG", "I;16"), ("png", "PNG", "1"),
               ("jpg", "JPEG", "RGB"), ("png", "PNG", "P")]  # fmt: skip
    types = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}
    body = ""
    for i, (ext, fmt, mode) in enumerate(formats):
        server.add(f"/gallery/p{i}.{ext}", make_image(600, 400, fmt, seed=120 + i, mode=mode), content_type=types[ext])
        body += f"<img src='p{i}.{ext}' alt='Product {i}' width=300 height=200>"
    url = server.add("/gallery/product.html", f"<html lang=en><body>{body}</body></html>")
    job = wait_final(api, requests.post(f"{api}{API}", json={"urls": [url]}, timeout=10).json()["id"])
    assert job["summary"]["captioned"] == 10
    with job_gallery(api, job["id"], chromium, 10) as tab:
        tab.locator("#gallery").scroll_into_view_if_needed()
        tab.wait_for_function(
            "() => Array.from(document.querySelectorAll('#gallery img')).every(i => i.complete && i.naturalWidth > 0)",
            timeout=30_000,
        )
        flat = tab.evaluate(
            """() => Array.from(document.querySelectorAll('#gallery img')).filter(img => {
                 const c = document.createElement('canvas'); c.width = 16; c.height = 16;
                 const g = c.getContext('2d'); g.drawImage(img, 0, 0, 16, 16);
                 const d = g.getImageData(0, 0, 16, 16).data; const first = d.slice(0, 3).join();
                 for (let i = 0; i < d.length; i += 4) if (d.slice(i, i + 3).join() !== first) return false;
                 return true; }).length"""
        )
    assert flat == 0  # no tile is one flat colour (a 16-bit PNG once came out black)


def test_the_forms_gallery_shows_an_image_once_and_at_thumbnail_size(
    api: str, server: FixtureServer, chromium: str
) -> None:
    """One photo on two pages: it was shown twice, and a single captioned image filled the page's width."""
    server.add("/once/photo.jpg", make_image(600, 400, "JPEG", seed=140), content_type="image/jpeg")
    urls = [server.add(f"/once/{name}.html", "<html lang=en><body><img src='photo.jpg' width=300 height=200>"
                       "</body></html>") for name in ("a", "b")]  # fmt: skip
    job = wait_final(api, requests.post(f"{api}{API}", json={"urls": urls}, timeout=10).json()["id"])
    assert job["summary"]["captioned"] == 2
    with job_gallery(api, job["id"], chromium, 1) as tab:
        tab.wait_for_timeout(500)  # the page's last answers (a second image would have come with the first)
        count = tab.locator("#gallery img").count()
        tile = tab.locator("#gallery img").first.bounding_box()
        gallery = tab.locator("#gallery").bounding_box()
    assert count == 1 and tile is not None and gallery is not None
    assert tile["width"] < gallery["width"] / 4 and gallery["height"] < 400


def test_the_server_refuses_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    """``app.py --data-dir`` naming a file is one sentence and exit 2 (it was an errno)."""
    (tmp_path / "r.json").write_text("{}")
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--data-dir", "r.json"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2 and one_line(result.stderr) == (
        "altscout-app: error: --data-dir r.json is a file, not a folder; give a folder's name (it is made when "
        "missing)."
    )


def test_the_server_on_a_port_in_use_is_one_sentence_before_anything_starts(tmp_path: Path) -> None:
    """It announced "AltScout on http://…" and resumed the interrupted audits, then uvicorn printed its errno."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--data-dir", "jobs"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2 and one_line(result.stderr) == (
        f"altscout-app: error: --port {port} is in use on 127.0.0.1 by another program; give another --port, or "
        "stop the program that holds it."
    )
