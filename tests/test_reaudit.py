"""Each image fetched once per site, even in a browser, and re-audits that fetch only what changed.

A 30-page loopback shop whose header, logo and badges are on every page, each response with an
ETag (the fixture server answers a matching If-None-Match with 304 and logs which answers had a
body). The server's own log is the measure.
"""

from __future__ import annotations

import dataclasses
import io
from collections import Counter
from pathlib import Path

import pytest
from conftest import FakeCaptioner, FixtureServer
from PIL import Image

from options import AuditOptions
from pipeline import run_audit
from records import AuditReport

PAGES = 30
SHARED = ["/img/header.png", "/img/logo.png", "/img/badge-1.png", "/img/badge-2.png"]
COLOURS = [(220, 30, 30), (30, 200, 40), (40, 40, 220), (230, 230, 20)]


def png(colour: tuple[int, int, int], size: tuple[int, int] = (240, 160)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def page_path(i: int) -> str:
    return "/" if i == 0 else f"/shop/{i}"


def serve_shop(server: FixtureServer, pages: int = PAGES) -> None:
    server.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain", etag=True)
    for path, colour in zip(SHARED, COLOURS, strict=True):
        server.add(path, png(colour), content_type="image/png", etag=True)
    nav = "".join(f'<a href="{page_path(j)}">Page {j}</a>' for j in range(pages))
    shared = "".join(f'<img src="{path}" alt="" width="240" height="160">' for path in SHARED)
    for i in range(pages):
        server.add(f"/img/item-{i}.png", png((i * 8, 90, 250 - i * 8), (200 + i, 150)), content_type="image/png",
                   etag=True)  # fmt: skip
        own = f'<img src="/img/item-{i}.png" alt="Item {i}" width="{200 + i}" height="150">'
        server.add(page_path(i), f"<html><body><nav>{nav}</nav>{shared}{own}</body></html>", etag=True)


def bodies(server: FixtureServer) -> list[str]:
    """Page and image answers that came with a body."""
    return sorted(path for path in server.bodies if path == "/" or path.startswith(("/shop/", "/img/")))


def captions(report: AuditReport) -> dict[str, str | None]:
    return {record.source.rsplit("/", 1)[-1]: record.caption for page in report.pages for record in page.images}


@pytest.fixture()
def shop(fresh_server: FixtureServer) -> FixtureServer:
    serve_shop(fresh_server)
    return fresh_server


def test_a_browser_crawl_fetches_each_image_once_and_a_reaudit_only_what_changed(
    shop: FixtureServer, chromium: str, tmp_path: Path
) -> None:
    options = AuditOptions(
        render="always", browser_path=chromium, crawl=True, allow_private=True, batch_size=4, ocr="off",
        render_timeout_s=10, state_path=str(tmp_path / "shop.db"),
    )  # fmt: skip
    captioner = FakeCaptioner()
    first = run_audit([shop.url("/")], options, captioner)
    assert first.site["pages_audited"] == PAGES and all(page.rendered for page in first.pages)
    image_requests = Counter(path for path, _ in shop.requests if path.startswith("/img/"))
    assert len(image_requests) == PAGES + len(SHARED) and set(image_requests.values()) == {1}
    # The same captions as a run whose every request goes to the site (no browser, no state).
    plain = run_audit([shop.url("/")], dataclasses.replace(options, render="never", state_path=None), FakeCaptioner())
    assert captions(first) == captions(plain) and all(captions(first).values())

    shop.requests.clear()
    shop.bodies.clear()
    captioned_before = sum(captioner.batches)
    second = run_audit([shop.url("/")], options, captioner)
    assert bodies(shop) == []  # every page and image answered 304
    assert sum(captioner.batches) == captioned_before and second.site["captioned_this_run"] == 0
    asked = [headers for path, headers in shop.requests if "sitemap" not in path]  # robots.txt too
    assert asked and all("If-None-Match" in headers for headers in asked)
    assert "/robots.txt" in [path for path, _ in shop.requests] and "/robots.txt" not in shop.bodies
    assert not any(page.rendered is False and page.status != "ok" for page in second.pages)
    changes = second.site["changes"]
    assert changes["pages"] == {"unchanged": PAGES, "changed": 0, "new": 0, "gone": 0}
    assert changes["images"] == {"unchanged": PAGES + len(SHARED), "changed": 0, "new": 0, "gone": 0}
    assert captions(second) == captions(first)

    shop.add("/img/logo.png", png((250, 250, 250)), content_type="image/png", etag=True)
    shop.add("/img/item-7.png", png((10, 250, 10), (207, 150)), content_type="image/png", etag=True)
    shop.routes["/shop/12"].body = shop.routes["/shop/12"].body.replace(b"</body>", b"<p>On sale</p></body>")
    shop.requests.clear()
    shop.bodies.clear()
    third = run_audit([shop.url("/")], options, captioner)
    assert bodies(shop) == ["/img/item-7.png", "/img/logo.png", "/shop/12"]
    assert sum(captioner.batches) == captioned_before + 2 and third.site["captioned_this_run"] == 2
    changes = third.site["changes"]
    assert changes["pages"] == {"unchanged": PAGES - 1, "changed": 1, "new": 0, "gone": 0}
    assert changes["images"] == {"unchanged": PAGES + len(SHARED) - 2, "changed": 2, "new": 0, "gone": 0}
    changed_page = next(page for page in third.pages if page.url.endswith("/shop/12"))
    assert changed_page.rendered  # rendered again, from the answer the conditional request brought
    assert captions(third)["logo.png"] != captions(first)["logo.png"]


def test_refresh_asks_for_everything_and_counts_new_and_gone_pages(fresh_server: FixtureServer, tmp_path: Path) -> None:
    serve_shop(fresh_server, pages=4)
    options = AuditOptions(render="never", crawl=True, allow_private=True, ocr="off", state_path=str(tmp_path / "s.db"))
    run_audit([fresh_server.url("/")], options, FakeCaptioner())
    # Page 3 goes away (404), page 4 appears; --refresh asks for everything in full.
    fresh_server.add("/shop/3", "gone", status=404)
    fresh_server.add("/shop/4", '<html><body><img src="/img/item-1.png" alt="One"></body></html>', etag=True)
    fresh_server.routes["/"].body += b'<a href="/shop/4">new</a>'
    fresh_server.requests.clear()
    report = run_audit([fresh_server.url("/")], dataclasses.replace(options, refresh=True), FakeCaptioner())
    assert not any("If-None-Match" in headers for _, headers in fresh_server.requests)
    changes = report.site["changes"]
    assert changes["pages"] == {"unchanged": 2, "changed": 1, "new": 1, "gone": 1}  # read again, compared by hash
    assert changes["images"]["gone"] == 1 and changes["images"]["unchanged"] == 7  # item-3 is on no page now
    assert changes["requests"]["conditional"] == 0


def test_the_services_next_job_of_a_site_asks_only_what_changed(fresh_server: FixtureServer, tmp_path: Path) -> None:
    from service.jobs import JobStore
    from service.runner import run_job

    serve_shop(fresh_server, pages=3)
    store = JobStore(tmp_path)
    options = {"render": "never", "allow_private": True, "ocr": "off", "max_pages": 10, "crawl": True}

    def audit_job(**extra: object) -> AuditReport:
        job = store.submit([fresh_server.url("/")], True, {**options, **extra}, "127.0.0.1")
        claimed = store.claim()
        assert claimed is not None and claimed.id == job.id
        outcome = run_job(store, claimed, lambda _: FakeCaptioner())
        assert outcome.state == "done" and outcome.report is not None
        return outcome.report

    audit_job()
    fresh_server.bodies.clear()
    second = audit_job()
    assert bodies(fresh_server) == [] and second.site["captioned_this_run"] == 0
    assert second.site["changes"]["pages"]["unchanged"] == 3
    fresh_server.bodies.clear()
    third = audit_job(refresh=True)  # the form's "Fetch everything again"
    assert len(bodies(fresh_server)) == 3 + 3 + len(SHARED) and third.site["changes"]["pages"]["new"] == 3


def test_a_page_read_another_way_before_is_read_in_full(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """A stored discovery stands only for the same way of reading: another size limit (or the
    browser where there was none) reads every page in full once, then re-audits are conditional again."""
    serve_shop(fresh_server, pages=3)
    options = AuditOptions(render="never", crawl=True, allow_private=True, ocr="off", state_path=str(tmp_path / "s.db"))
    run_audit([fresh_server.url("/")], options, FakeCaptioner())
    narrower = dataclasses.replace(options, min_width=230)
    fresh_server.bodies.clear()
    report = run_audit([fresh_server.url("/")], narrower, FakeCaptioner())
    assert [path for path in bodies(fresh_server) if not path.startswith("/img/")] == ["/", "/shop/1", "/shop/2"]
    records = [record for page in report.pages for record in page.images]
    skipped = {record.source.rsplit("/", 1)[-1] for record in records if record.status == "skipped"}
    assert skipped == {"item-0.png", "item-1.png", "item-2.png"}  # 200-202 px wide: below the new minimum
    fresh_server.bodies.clear()
    run_audit([fresh_server.url("/")], narrower, FakeCaptioner())
    assert bodies(fresh_server) == []


def test_a_reaudit_asks_whether_the_sitemap_changed(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """A sitemap and robots.txt go through the response store: a re-audit revalidates them, and a 304 still
    queues the sitemap's pages and keeps robots.txt's rules."""
    serve_shop(fresh_server, pages=2)
    fresh_server.add("/shop/only-in-sitemap", "<html><body>listed</body></html>", etag=True)
    urlset = f"<urlset><url><loc>{fresh_server.url('/shop/only-in-sitemap')}</loc></url></urlset>"
    fresh_server.add("/sitemap.xml", urlset, content_type="application/xml", etag=True)
    options = AuditOptions(render="never", crawl=True, allow_private=True, ocr="off", state_path=str(tmp_path / "s.db"))
    first = run_audit([fresh_server.url("/")], options, FakeCaptioner())
    assert "/sitemap.xml" in fresh_server.bodies and first.site["pages_audited"] == 3
    fresh_server.requests.clear()
    fresh_server.bodies.clear()
    second = run_audit([fresh_server.url("/")], options, FakeCaptioner())
    asked = [headers for path, headers in fresh_server.requests if path == "/sitemap.xml"]
    assert len(asked) == 1 and "If-None-Match" in asked[0] and "/sitemap.xml" not in fresh_server.bodies
    assert second.site["pages_audited"] == 3 and second.site["changes"]["pages"]["unchanged"] == 3
    robots = [headers for path, headers in fresh_server.requests if path == "/robots.txt"]
    assert len(robots) == 1 and "If-None-Match" in robots[0] and "/robots.txt" not in fresh_server.bodies
    fresh_server.routes["/robots.txt"].body = b"User-agent: *\nDisallow: /shop/1\n"  # changed: its new rules apply
    third = run_audit([fresh_server.url("/")], options, FakeCaptioner())
    assert third.site["pages_audited"] == 2 and third.site["skipped_by_reason"] == {"robots": 1}
