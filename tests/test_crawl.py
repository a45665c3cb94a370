"""Whole-site audits (--crawl) on a loopback shop: coverage, sharing, politeness, bounds."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from conftest import FakeCaptioner, FixtureServer
from crawl_fixture import fake_dns, serve_shop

from options import AuditOptions
from pipeline import PageStarted, audit, run_audit
from records import AuditReport

CRAWL = AuditOptions(render="never", crawl=True, allow_private=True, batch_size=4)


@pytest.fixture()
def shop(monkeypatch: pytest.MonkeyPatch, fresh_server: FixtureServer) -> tuple[FixtureServer, dict]:
    fake_dns(monkeypatch)
    return fresh_server, serve_shop(fresh_server)


def statuses(report: AuditReport, port: int) -> dict[str, tuple[str, str | None]]:
    out = {}
    for row in report.site["urls"]:
        key = row["url"].replace(f"http://shop.test:{port}", "").replace(f":{port}", "").replace("http://", "")
        out[key] = (row["status"], row["reason"])
    return out


def test_every_discovered_url_ends_with_its_status(shop) -> None:
    server, expected = shop
    captioner = FakeCaptioner()
    report = run_audit([f"http://shop.test:{server.port}/"], CRAWL, captioner)
    assert statuses(report, server.port) == expected
    site = report.site
    assert site["pages_audited"] == 6 and site["skipped_by_reason"]["non_html"] == 2
    assert any("sitemap-bomb.xml" in w and "DTDs and entities are not allowed" in w for w in site["warnings"])
    sitemap_row = next(r for r in site["urls"] if r["url"].endswith("/sitemap-only"))
    assert (sitemap_row["via"], sitemap_row["lastmod"], sitemap_row["depth"]) == ("sitemap", "2026-10-01", 1)
    # Never fetched: robots-disallowed pages, links whose extension says "not a page".
    assert server.routes["/private/secret"].hits == 0 and server.routes["/menu.pdf"].hits == 0


def test_work_is_shared_across_pages(shop) -> None:
    server, _ = shop
    captioner = FakeCaptioner()
    report = run_audit([f"http://shop.test:{server.port}/"], CRAWL, captioner)
    assert server.routes["/img/logo.png"].hits == 1  # on all six pages, downloaded once
    logos = [r for p in report.pages for r in p.images if r.source.endswith("/img/logo.png")]
    assert len(logos) == 6 and {r.caption for r in logos} == {logos[0].caption} and logos[0].status == "captioned"
    same = [r for p in report.pages for r in p.images if "/img/same-" in r.source]
    assert {r.sha256 for r in same} == {same[0].sha256} and len({r.caption for r in same}) == 1
    unique_bytes = {r.sha256 for p in report.pages for r in p.images if r.sha256}
    assert sum(captioner.batches) == len(unique_bytes)  # every distinct image captioned exactly once


def test_crawl_delay_spaces_page_requests(shop) -> None:
    server, _ = shop
    run_audit([f"http://shop.test:{server.port}/"], CRAWL, FakeCaptioner())
    page_paths = {"/", "/about", "/products", "/a", "/b", "/sitemap-only", "/old-about", "/go-elsewhere", "/download"}
    times = [t for path, t in server.times if path.split("?")[0] in page_paths]
    starts = [t for i, t in enumerate(times) if i == 0 or t - times[i - 1] > 0.05]  # a redirect's hops: one fetch
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) >= 8 and min(gaps) >= 0.18, gaps  # Crawl-delay: 0.2


def test_scope_domain_takes_in_subdomains(shop) -> None:
    server, _ = shop
    options = dataclasses.replace(CRAWL, scope="domain", exclude=(r"/a$", r"/b$"))
    got = statuses(run_audit([f"http://shop.test:{server.port}/"], options, FakeCaptioner()), server.port)
    assert got["blog.shop.test/"] == ("audited", None) and got["other.test/"] == ("skipped", "out_of_scope")
    assert got["/a"] == ("skipped", "out_of_scope")  # --exclude


def test_max_depth_and_max_pages(shop) -> None:
    server, _ = shop
    shallow = statuses(
        run_audit([f"http://shop.test:{server.port}/"], dataclasses.replace(CRAWL, max_depth=1), FakeCaptioner()),
        server.port,
    )
    assert shallow["/a"] == ("audited", None) and shallow["/b"] == ("skipped", "max_depth")
    few = run_audit([f"http://shop.test:{server.port}/"], dataclasses.replace(CRAWL, max_pages=2), FakeCaptioner())
    assert few.site["pages_audited"] == 2 and few.site["skipped_by_reason"]["max_pages"] >= 3


def test_a_10000_url_sitemap_is_bounded_by_max_pages(monkeypatch, fresh_server: FixtureServer) -> None:
    fake_dns(monkeypatch)
    base = f"http://shop.test:{fresh_server.port}"
    locs = "".join(f"<url><loc>{base}/p/{i}</loc></url>" for i in range(10_000))
    fresh_server.add("/sitemap.xml", f"<urlset>{locs}</urlset>", content_type="application/xml")
    fresh_server.add("/", "<html><body>home</body></html>")
    for i in range(10):
        fresh_server.add(f"/p/{i}", f"<html><body>product {i}</body></html>")
    options = dataclasses.replace(CRAWL, max_pages=5)
    report = run_audit([f"{base}/"], options, FakeCaptioner())
    site = report.site
    assert site["pages_audited"] == 5 and site["pages_discovered"] == 10_001
    assert site["skipped_by_reason"] == {"max_pages": 9_996}
    assert len(fresh_server.requests) <= 2 + 5  # robots.txt, the sitemap, five pages: nothing more


def test_a_guessed_sitemap_robots_txt_disallows_is_not_read(fresh_server: FixtureServer) -> None:
    """/sitemap.xml, guessed, is a URL like any other; a sitemap robots.txt names is read wherever it lies."""
    robots = "User-agent: *\nDisallow: /sitemap.xml\nDisallow: /maps/\n"
    fresh_server.add("/robots.txt", robots, content_type="text/plain")
    fresh_server.add("/", "<html><body>home</body></html>")
    fresh_server.add("/sitemap.xml", f"<urlset><url><loc>{fresh_server.url('/guessed')}</loc></url></urlset>",
                     content_type="application/xml")  # fmt: skip
    fresh_server.add("/maps/site.xml", f"<urlset><url><loc>{fresh_server.url('/named')}</loc></url></urlset>",
                     content_type="application/xml")  # fmt: skip
    fresh_server.add("/guessed", "<html><body>guessed</body></html>")
    fresh_server.add("/named", "<html><body>named</body></html>")
    report = run_audit([fresh_server.url("/")], CRAWL, FakeCaptioner())
    assert fresh_server.routes["/sitemap.xml"].hits == 0
    assert [p.url for p in report.pages] == [fresh_server.url("/")]
    assert not any("sitemap" in warning for warning in report.site["warnings"])
    fresh_server.add("/robots.txt", f"User-agent: *\nDisallow: /maps/\nSitemap: {fresh_server.url('/maps/site.xml')}\n",
                     content_type="text/plain")  # fmt: skip
    named = run_audit([fresh_server.url("/")], CRAWL, FakeCaptioner())
    assert sorted(p.url for p in named.pages) == [fresh_server.url("/"), fresh_server.url("/named")]
    assert fresh_server.routes["/maps/site.xml"].hits == 1 and fresh_server.routes["/sitemap.xml"].hits == 0


def test_url_list_with_state_uses_the_site_engine_without_following_links(shop, tmp_path) -> None:
    server, _ = shop
    options = dataclasses.replace(CRAWL, crawl=False, state_path=str(tmp_path / "s.db"))
    report = run_audit(
        [f"http://shop.test:{server.port}/", f"http://shop.test:{server.port}/about"], options, FakeCaptioner()
    )
    assert [p.url.rsplit("/", 1)[-1] for p in report.pages] == ["", "about"]
    assert report.site["pages_discovered"] == 2


def test_rerun_of_a_finished_state_re_audits_with_no_captioning(shop, tmp_path) -> None:
    server, _ = shop
    options = dataclasses.replace(CRAWL, state_path=str(tmp_path / "site.db"))
    first = run_audit([f"http://shop.test:{server.port}/"], options, FakeCaptioner())
    home_hits = server.routes["/"].hits
    captioner = FakeCaptioner()
    second = run_audit([f"http://shop.test:{server.port}/"], options, captioner)
    assert server.routes["/"].hits == home_hits + 1  # the site is read again, to see what changed
    assert second.site["captioned_this_run"] == 0 and captioner.batches == []
    by_url = lambda report: sorted((p.to_dict() for p in report.pages), key=lambda page: page["url"])  # noqa: E731
    assert by_url(second) == by_url(first)


def test_a_url_robots_txt_refuses_takes_no_place_under_max_pages(fresh_server: FixtureServer) -> None:
    """--max-pages counts pages to audit: a URL skipped when its turn comes (robots.txt, not HTML, a duplicate)
    frees its place, as a resumed run counts, and the progress total follows."""
    fresh_server.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    fresh_server.add("/", '<html><body><a href="/private/x">x</a> <a href="/a">a</a></body></html>')
    fresh_server.add("/a", '<html><body><a href="/b">b</a></body></html>')
    fresh_server.add("/b", "<html><body>b</body></html>")
    fresh_server.add("/private/x", "<html><body>x</body></html>")
    options = dataclasses.replace(CRAWL, max_pages=3)
    events = list(audit([fresh_server.url("/")], options, FakeCaptioner()))
    report = events[-1].report
    got = {row["url"].removeprefix(fresh_server.base): (row["status"], row["reason"]) for row in report.site["urls"]}
    assert got == {"/": ("audited", None), "/private/x": ("skipped", "robots"), "/a": ("audited", None),
                   "/b": ("audited", None)}  # fmt: skip
    assert fresh_server.routes["/private/x"].hits == 0
    assert [(e.index, e.total) for e in events if isinstance(e, PageStarted)][-1] == (2, 3)
