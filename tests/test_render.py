"""Rendered discovery in a real headless Chromium: JavaScript-built pages, budgets, fallbacks.

These tests need a Chromium (CI installs Debian's); without one they are skipped with the reason.
"""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
from conftest import FakeCaptioner, FixtureServer, make_image
from render_fixture import build_js_site
from site_fixture import build_site

from options import AuditOptions
from pipeline import run_audit
from pipeline.page_stage import discover_page, render_budget
from records import AuditReport, ImageRecord
from scraper.browser import BrowserUnavailableError, find_browser
from scraper.net import Fetcher
from scraper.render import Renderer, RenderError
from scraper.robots import RobotsCache

needs_browser = pytest.mark.usefixtures("chromium")

RENDERED = AuditOptions(
    render="always", allow_private=True, image_deadline_s=3, render_timeout_s=10, batch_size=4, thumbnail_size=64
)
STATIC = dataclasses.replace(RENDERED, render="never")


@pytest.fixture(scope="module")
def js_site() -> tuple[FixtureServer, dict]:
    server = FixtureServer()
    expected = build_js_site(server)
    yield server, expected
    server.close()


def by_path(report: AuditReport, base: str) -> dict[str, ImageRecord]:
    return {record.source.removeprefix(base): record for page in report.pages for record in page.images}


@pytest.fixture(scope="module")
def rendered_js(js_site, chromium: str) -> AuditReport:
    server, expected = js_site
    return run_audit([server.url(path) for path in expected], RENDERED, FakeCaptioner())


@needs_browser
def test_every_js_image_ends_in_its_expected_status(js_site, rendered_js: AuditReport) -> None:
    server, expected = js_site
    for page, (path, images) in zip(rendered_js.pages, expected.items(), strict=True):
        assert page.status == "ok" and page.rendered, (path, page.error)
        got = {r.source.removeprefix(server.base): (r.status, r.reason) for r in page.images}
        for image, outcome in images.items():
            assert got.get(image) == outcome, (path, image, got)


@needs_browser
def test_rendered_records_carry_what_the_browser_saw(js_site, rendered_js: AuditReport) -> None:
    server, _ = js_site
    images = by_path(rendered_js, server.base)
    cake = images["/js/cake-0.png"]
    assert "rendered" in cake.found_in and "img" in cake.found_in
    assert cake.alt == "Cake 0" and cake.in_figure and cake.visible
    assert (cake.rendered_width, cake.rendered_height) == (300, 200)
    hero = images["/js/hero.png"]
    assert "background" in hero.found_in and hero.name_fields()["role"] == "img"
    assert (hero.name_fields()["accessible_name"], hero.name_fields()["name_source"]) == ("Our shop", "aria-label")
    assert (hero.rendered_width, hero.rendered_height) == (800, 400)
    assert {"background", "rendered", "style", "lazy"} <= set(images["/js/bg-0.jpg"].found_in)  # merged with static
    icon = images["/js/icon-512.jpg"]
    assert (icon.rendered_width, icon.rendered_height) == (24, 24) and "shown at 24x24" in (icon.detail or "")
    # skipped, but read from the browser's copy: a 512 px file for a 24 px icon, and a thumbnail to review it by
    assert (icon.width, icon.height, icon.format) == (512, 512, "JPEG") and icon.bytes and icon.sha256 is None
    assert "oversized_image" in icon.seo_issues and icon.thumbnail and icon.thumbnail.startswith(b"\xff\xd8")
    photo = images["/js/photo-1600.jpg"]
    assert photo.width == 1600 and photo.rendered_width == 300 and "oversized_image" in photo.seo_issues
    assert "oversized_image" not in images["/js/cake-0.png"].seo_issues
    slide = images["/js/slide-2.png"]
    assert slide.visible is False and slide.width == 400
    assert images["/js/sprite.png"].found_in == ["network"]
    badge = images["/js/badge.png"]
    assert {"background", "rendered"} <= set(badge.found_in) and (badge.rendered_width, badge.rendered_height) == (
        200,
        150,
    )


@needs_browser
def test_no_image_is_downloaded_twice_and_nothing_captioned_the_browser_never_loaded(
    js_site, rendered_js: AuditReport
) -> None:
    server, expected = js_site
    for page in rendered_js.pages:
        for record in page.images:
            path = record.source.removeprefix(server.base).split("?", 1)[0]
            if record.status == "captioned":
                assert server.routes[path].hits >= 1, f"{path} captioned but never loaded by the browser"
    for images in expected.values():
        for path in images:
            assert server.routes[path].hits == 1, f"{path} fetched {server.routes[path].hits} times"


@needs_browser
def test_found_and_captioned_share_of_what_the_browser_loads(js_site, rendered_js: AuditReport) -> None:
    """Done-when: >= 95% of the images >= min size that the browser loads are found, >= 90% captioned."""
    server, expected = js_site
    big_enough = [path for images in expected.values() for path, outcome in images.items() if outcome[1] is None]
    images = by_path(rendered_js, server.base)
    found = [path for path in big_enough if path in images]
    captioned = [path for path in found if images[path].status == "captioned"]
    assert len(found) >= 0.95 * len(big_enough) and len(captioned) >= 0.9 * len(big_enough)


@needs_browser
def test_infinite_scroll_stops_at_the_budget(js_site) -> None:
    server, _ = js_site
    options = dataclasses.replace(RENDERED, render_timeout_s=4)
    report = run_audit([server.url("/js/infinite.html")], options, FakeCaptioner())
    page = report.pages[0]
    assert page.status == "ok" and page.rendered
    assert any("infinite scroll" in w or "time budget" in w for w in page.warnings), page.warnings
    assert sum(1 for r in page.images if r.status == "captioned") >= 2
    assert report.elapsed_s < 30


@needs_browser
@pytest.mark.parametrize(
    ("limits", "warning"),
    [({"render_max_requests": 4}, "request budget (4)"), ({"render_max_bytes": 30_000}, "byte budget (30,000 bytes)")],
)
def test_request_and_byte_budgets_keep_what_was_found(js_site, limits: dict, warning: str) -> None:
    server, _ = js_site
    for i in range(12):
        server.add(f"/js/many-{i}.png", b"\x89PNG" + bytes(4000), content_type="image/png")
    tags = "".join(f"<img src='/js/many-{i}.png'>" for i in range(12))
    server.add("/js/many.html", f"<html><body>{tags}</body></html>")
    page = run_audit([server.url("/js/many.html")], dataclasses.replace(RENDERED, **limits), FakeCaptioner()).pages[0]
    assert page.status == "ok" and page.rendered
    assert any(warning in w for w in page.warnings), page.warnings
    assert len(page.images) == 12  # every element is still recorded
    hits = [server.routes[f"/js/many-{i}.png"].hits for i in range(12)]
    if "render_max_requests" in limits:  # what the browser loaded is reused, what it refused is fetched once
        assert hits == [1] * 12
    else:  # the reuse store is bounded by the same byte budget: past it, the image stage fetches again
        assert all(1 <= count <= 2 for count in hits) and hits.count(1) >= 5


def test_static_reading_of_a_js_page_warns_instead_of_a_silent_zero(js_site) -> None:
    server, _ = js_site
    report = run_audit([server.url("/js/app.html"), server.url("/js/setbg.html")], STATIC, FakeCaptioner())
    app, setbg = report.pages
    assert app.images == [] and not app.rendered
    assert any("client-rendered" in w and "--render auto" in w for w in app.warnings), app.warnings
    assert any("data-setbg" in w for w in setbg.warnings), setbg.warnings
    # The static reader itself now reads data-setbg placeholders.
    assert {r.source.removeprefix(server.base) for r in setbg.images} == {"/js/bg-0.jpg", "/js/bg-1.jpg"}


def test_auto_without_a_browser_reads_statically_and_says_why(js_site, tmp_path: Path) -> None:
    server, _ = js_site
    options = dataclasses.replace(STATIC, render="auto", browser_path=str(tmp_path / "no-chromium"))
    report = run_audit([server.url("/js/app.html")], options, FakeCaptioner())
    warning = " ".join(report.pages[0].warnings)
    assert "client-rendered" in warning and "no-chromium is not an executable file" in warning


def test_always_without_a_browser_stops_before_any_page(js_site, tmp_path: Path) -> None:
    server, _ = js_site
    options = dataclasses.replace(STATIC, render="always", browser_path=str(tmp_path / "no-chromium"))
    before = server.routes["/js/app.html"].hits
    with pytest.raises(BrowserUnavailableError):
        run_audit([server.url("/js/app.html")], options, FakeCaptioner())
    assert server.routes["/js/app.html"].hits == before


@needs_browser
def test_static_pages_lose_nothing_when_rendered(server: FixtureServer) -> None:
    """Every image of the static fixture site keeps its record and outcome when the page is rendered.

    The allowed differences are the browser's own evidence: a background shown in a box smaller
    than the minimum (the fixture's one-line ``styled`` div) is skipped as shown, and the SVG that
    static reading skips is captioned from the browser's drawing of it.
    """
    page_url, _ = build_site(server)
    static = run_audit([page_url], STATIC, FakeCaptioner()).pages[0]
    rendered = run_audit([page_url], RENDERED, FakeCaptioner()).pages[0]
    assert rendered.rendered and rendered.status == "ok"
    got = {record.source: record for record in rendered.images}
    for record in static.images:
        twin = got.get(record.source)
        assert twin is not None, f"{record.source} lost when rendered"
        if record.reason == "svg_not_supported":  # the browser draws it: captioned from that drawing
            assert (twin.status, twin.format) == ("captioned", "SVG") and "screenshot" in twin.found_in, twin
        elif (twin.status, twin.reason) != (record.status, record.reason):
            assert twin.reason == "too_small" and (twin.detail or "").startswith("shown at"), (record, twin)
            assert twin.source.endswith("/img/style-bg.jpg")
    # Apart from meta images and stylesheet rules, every image on this page is one the browser shows.
    unseen = [
        r.source for r in rendered.images if not {"rendered", "og:image", "twitter:image", "css"} & set(r.found_in)
    ]
    assert unseen == []


# --- browser lifecycle ---------------------------------------------------------------


def test_find_browser_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    other = tmp_path / "chrome-env"
    other.write_text("#!/bin/sh\n")
    other.chmod(other.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("ALTSCOUT_CHROMIUM", raising=False)
    assert find_browser() == str(fake)  # PATH
    assert find_browser(playwright_default=str(other)) == str(other)  # Playwright's own before PATH
    monkeypatch.setenv("ALTSCOUT_CHROMIUM", str(other))
    assert find_browser(playwright_default=str(fake)) == str(other)  # the variable before both
    assert find_browser(str(fake)) == str(fake)  # --browser first
    with pytest.raises(BrowserUnavailableError, match="--browser"):
        find_browser(str(tmp_path / "missing"))
    monkeypatch.delenv("ALTSCOUT_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BrowserUnavailableError, match="apt-get install chromium"):
        find_browser()


@needs_browser
def test_crashed_browser_restarts_once_then_pages_are_read_statically(js_site, chromium: str) -> None:
    server, _ = js_site
    renderer = Renderer(chromium)
    fetcher = Fetcher(RENDERED.fetch_policy)
    robots = RobotsCache(fetcher)
    try:
        first = discover_page(server.url("/js/react.html"), RENDERED, fetcher, robots, renderer)
        assert first.page.rendered
        renderer.kill_browser_for_test()
        second = discover_page(server.url("/js/react.html"), RENDERED, fetcher, robots, renderer)
        assert second.page.rendered and renderer.restarts == 1
        renderer.kill_browser_for_test()
        third = discover_page(server.url("/js/sizes.html"), RENDERED, fetcher, robots, renderer)
        assert not third.page.rendered and third.page.status == "ok"
        assert any("read statically" in w for w in third.page.warnings)
        assert third.page.images  # the static reader still found the page's images
        with pytest.raises(RenderError):
            renderer.render(server.url("/js/react.html"), fetcher, render_budget(RENDERED))
    finally:
        renderer.close()


@needs_browser
def test_contexts_are_closed_on_every_path(js_site, chromium: str) -> None:
    server, _ = js_site
    server.add("/js/slow.html", "<html><body><img src='/js/slow.png'></body></html>")
    server.add("/js/slow.png", b"x" * 10, content_type="image/png", delay_s=3)
    renderer = Renderer(chromium)
    fetcher = Fetcher(RENDERED.fetch_policy)
    robots = RobotsCache(fetcher)
    quick = dataclasses.replace(RENDERED, render_timeout_s=1.5)
    try:
        discover_page(server.url("/js/app.html"), RENDERED, fetcher, robots, renderer)  # success
        slow = discover_page(server.url("/js/slow.html"), quick, fetcher, robots, renderer)  # time budget
        assert any("budget" in w for w in slow.page.warnings), slow.page.warnings
        with pytest.raises(Exception, match="404"):
            discover_page(server.url("/js/nope.html"), RENDERED, fetcher, robots, renderer)  # page error
        assert renderer.open_contexts() == 0
    finally:
        renderer.close()


@needs_browser
def test_a_crawl_follows_links_that_only_javascript_adds(fresh_server: FixtureServer) -> None:
    fresh_server.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    fresh_server.add(
        "/",
        "<html><body><nav id='menu'></nav><script>const a = document.createElement('a');"
        "a.href = '/menu'; a.textContent = 'Menu'; document.getElementById('menu').appendChild(a);"
        "</script></body></html>",
    )
    fresh_server.add("/menu", "<html><body><img src='/dish.png' alt='Soup' width='300' height='200'></body></html>")
    fresh_server.add("/dish.png", make_image(300, 200, seed=77), content_type="image/png")
    options = dataclasses.replace(RENDERED, crawl=True)
    report = run_audit([fresh_server.url("/")], options, FakeCaptioner())
    by_url = {row["url"].removeprefix(fresh_server.base): row for row in report.site["urls"]}
    assert by_url["/menu"]["status"] == "audited" and by_url["/menu"]["via"] == "link"
    menu = next(page for page in report.pages if page.url.endswith("/menu"))
    assert menu.rendered and [r.status for r in menu.images] == ["captioned"]
    static = run_audit([fresh_server.url("/")], dataclasses.replace(options, render="never"), FakeCaptioner())
    assert "/menu" not in {row["url"].removeprefix(fresh_server.base) for row in static.site["urls"]}


@needs_browser
def test_an_image_address_is_captioned_when_read_in_the_browser(fresh_server: FixtureServer) -> None:
    fresh_server.add("/lone.jpg", make_image(640, 480, "JPEG", seed=9), content_type="image/jpeg")
    report = run_audit([fresh_server.url("/lone.jpg")], RENDERED, FakeCaptioner())
    (page,) = report.pages
    (record,) = page.images
    assert page.status == "ok" and record.status == "captioned" and record.found_in == ["url"]
    assert fresh_server.routes["/lone.jpg"].hits == 1  # the browser's answer is the one captioned
