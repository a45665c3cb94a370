"""An address given to audit that is an image, not a page: the image is captioned as the page's one record."""

from __future__ import annotations

import dataclasses

from conftest import FakeCaptioner, FixtureServer, make_image

from options import AuditOptions
from pipeline import run_audit

STATIC = AuditOptions(render="never", allow_private=True, batch_size=4, ocr="off")


def test_an_image_address_is_captioned_from_the_one_answer_read(fresh_server: FixtureServer) -> None:
    """The local engine's threads (worker processes: test_processes.py; Ray: test_ray_engine.py)."""
    server = fresh_server
    server.add("/photos/shop-front.jpg", make_image(640, 480, "JPEG", seed=3), content_type="image/jpeg")
    server.add("/icon.png", make_image(24, 24), content_type="image/png")
    server.add("/page.html", '<html><body><img src="/photos/shop-front.jpg" alt="Our shop"></body></html>')
    urls = [server.url(path) for path in ("/photos/shop-front.jpg", "/icon.png", "/page.html")]
    report = run_audit(urls, STATIC, FakeCaptioner())
    photo_page, icon_page, html_page = report.pages
    assert [page.status for page in report.pages] == ["ok", "ok", "ok"]
    (photo,) = photo_page.images
    assert photo.status == "captioned" and photo.found_in == ["url"] and photo.caption
    assert (photo.width, photo.height) == (640, 480) and photo.alt_issues == []
    assert photo.suggestion_for == "alt" and photo.suggested_alt  # an alt to paste into the CMS
    (icon,) = icon_page.images
    assert icon.status == "skipped" and icon.reason == "too_small"  # the same minimum as on a page
    assert html_page.images[0].alt == "Our shop"
    assert server.routes["/photos/shop-front.jpg"].hits == 1  # read once: as the address, and for the caption
    assert server.routes["/icon.png"].hits == 1


def test_a_crawl_audits_a_start_image_and_skips_linked_ones(fresh_server: FixtureServer) -> None:
    """A start URL is what a person typed: an image there is audited as itself, in a crawl too. A linked
    image (by its extension, or by its Content-Type) and a start URL that is a PDF are no pages: skipped."""
    server = fresh_server
    server.add("/photo.jpg", make_image(640, 480, "JPEG"), content_type="image/jpeg")
    server.add("/", "<html><body><a href='/big.jpg'>big</a><a href='/view?id=7'>view</a></body></html>")
    server.add("/big.jpg", make_image(800, 600, "JPEG", seed=1), content_type="image/jpeg")
    server.add("/view", make_image(700, 500, "JPEG", seed=2), content_type="image/jpeg")
    server.add("/menu.pdf", b"%PDF-1.4 " + b"x" * 200_000, content_type="application/pdf")
    urls = [server.url(path) for path in ("/photo.jpg", "/", "/menu.pdf")]
    report = run_audit(urls, dataclasses.replace(STATIC, crawl=True), FakeCaptioner())
    photo_page, home = report.pages
    (photo,) = photo_page.images
    assert photo.status == "captioned" and photo.found_in == ["url"] and photo.suggested_alt
    assert home.status == "ok" and home.images == []
    outcomes = {row["url"].removeprefix(server.url("")): (row["status"], row["reason"]) for row in report.site["urls"]}
    assert outcomes == {
        "/photo.jpg": ("audited", None), "/": ("audited", None), "/menu.pdf": ("skipped", "non_html"),
        "/big.jpg": ("skipped", "non_html"), "/view?id=7": ("skipped", "non_html"),
    }  # fmt: skip
    assert server.routes["/photo.jpg"].hits == 1 and server.routes["/big.jpg"].hits == 0
    details = {row["url"].removeprefix(server.url("")): row["detail"] for row in report.site["urls"]}
    assert details["/menu.pdf"] == "it is application/pdf, not a web page or an image"  # typed: by its type
    assert details["/view?id=7"] == "it is image/jpeg, not a page"


def test_a_page_refused_by_its_type_says_where_a_redirect_led(fresh_server: FixtureServer) -> None:
    """The sentence names the address only when it is not the one asked for (it was said twice on the CLI's
    line: "page failed: …/menu.pdf: …/menu.pdf is application/pdf, not a page")."""
    fresh_server.add("/menu.pdf", b"%PDF-1.4 " + b"x" * 2_000, content_type="application/pdf")
    fresh_server.add("/menu", b"", status=302, headers={"Location": "/menu.pdf"})
    report = run_audit([fresh_server.url("/menu"), fresh_server.url("/menu.pdf")], STATIC, FakeCaptioner())
    assert [page.error for page in report.pages] == [
        f"it redirects to {fresh_server.url('/menu.pdf')}, which is application/pdf, not a web page or an image",
        "it is application/pdf, not a web page or an image",
    ]
