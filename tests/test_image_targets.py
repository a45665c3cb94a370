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


def test_a_crawl_still_skips_what_is_not_a_page(fresh_server: FixtureServer) -> None:
    server = fresh_server
    server.add("/photo.jpg", make_image(640, 480, "JPEG"), content_type="image/jpeg")
    report = run_audit([server.url("/photo.jpg")], dataclasses.replace(STATIC, crawl=True), FakeCaptioner())
    assert report.pages == [] or all(not page.images for page in report.pages)
    assert report.site["skipped_by_reason"] == {"non_html": 1}
