"""Crawl building blocks: robots.txt by RFC 9309, URL normalisation and scope, safe sitemaps."""

from __future__ import annotations

import gzip

import pytest
from conftest import FixtureServer

from scraper.net import Fetcher, FetchPolicy
from scraper.robots import RobotsCache
from scraper.sitemaps import SitemapError, parse_sitemap
from scraper.urls import Scope, ScopeError, looks_non_html, normalise_url, registered_domain

ROBOTS = """User-agent: *
Disallow: /private
Allow: /private/public
Disallow: /*.pdf$
Crawl-delay: 1.5
Sitemap: https://shop.example/sitemap_index.xml
"""


@pytest.fixture()
def robots(fresh_server: FixtureServer) -> tuple[RobotsCache, str]:
    fresh_server.add("/robots.txt", ROBOTS, content_type="text/plain")
    return RobotsCache(Fetcher(FetchPolicy(allow_private=True))), fresh_server.base


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/private/public/page", True),  # the longest match wins, not the first (urllib.robotparser refused it)
        ("/private/secret", False),
        ("/docs/a.pdf", False),  # `*` and `$` are patterns (urllib.robotparser allowed it)
        ("/docs/a.pdf?download=1", True),
        ("/", True),
    ],
)
def test_robots_follow_rfc_9309(robots, path: str, allowed: bool) -> None:
    cache, base = robots
    assert cache.rules_for(base + path).allowed(base + path) is allowed


def test_robots_crawl_delay_and_sitemaps(robots) -> None:
    cache, base = robots
    rules = cache.rules_for(base + "/")
    assert rules.crawl_delay() == 1.5 and rules.sitemaps == ("https://shop.example/sitemap_index.xml",)


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTP://Shop.EXAMPLE:80/a/../b/./c?b=2&a=1#top", "http://shop.example/b/c?a=1&b=2"),
        ("https://shop.example:443", "https://shop.example/"),
        ("https://shop.example:8443/x", "https://shop.example:8443/x"),
        ("https://shop.example/caf%c3%a9", "https://shop.example/caf%C3%A9"),
        ("https://shop.example/café", "https://shop.example/caf%C3%A9"),
    ],
)
def test_normalise_url(url: str, normal: str) -> None:
    assert normalise_url(url) == normal


def test_registered_domain() -> None:
    assert registered_domain("www.shop.example.co.uk") == "example.co.uk"
    assert registered_domain("blog.github.io") == "blog.github.io"  # a public suffix of its own
    assert registered_domain("127.0.0.1") == "127.0.0.1"


def test_scope_hosts_domains_and_patterns() -> None:
    hosts = Scope.for_start(["https://www.shop.example/"], exclude=[r"/cart"])
    assert hosts.why_out("https://www.shop.example/about") is None
    assert "blog.shop.example is not www.shop.example" in (hosts.why_out("https://blog.shop.example/") or "")
    assert "--exclude" in (hosts.why_out("https://www.shop.example/cart?x") or "")
    domain = Scope.for_start(["https://www.shop.example/"], by_domain=True, include=[r"/(blog|about)"])
    assert domain.why_out("https://blog.shop.example/blog/1") is None
    assert "outside" in (domain.why_out("https://other.example/blog") or "")
    assert "--include" in (domain.why_out("https://www.shop.example/shop") or "")
    with pytest.raises(ScopeError):
        Scope.for_start(["https://a.example/"], include=["("])


@pytest.mark.parametrize(
    ("url", "non_html"),
    [
        ("https://a.example/menu.pdf", True),
        ("https://a.example/x.JPG?v=1", True),
        ("https://a.example/about", False),
        ("https://a.example/page.html", False),
        ("https://a.example/a.php?id=3", False),
    ],
)
def test_non_html_links_by_extension(url: str, non_html: bool) -> None:
    assert looks_non_html(url) is non_html


URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://shop.example/</loc><lastmod>2026-10-01</lastmod></url>
  <url><loc> https://shop.example/about </loc></url>
</urlset>"""
INDEX = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://shop.example/pages.xml.gz</loc></sitemap></sitemapindex>"""
LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]><urlset><url><loc>&lol3;</loc></url></urlset>"""


def test_sitemaps_urlset_index_and_gzip() -> None:
    pages = parse_sitemap(URLSET)
    assert pages.pages == [("https://shop.example/", "2026-10-01"), ("https://shop.example/about", None)]
    assert parse_sitemap(INDEX).sitemaps == ["https://shop.example/pages.xml.gz"]
    assert parse_sitemap(gzip.compress(URLSET)).pages == pages.pages


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (LAUGHS, "DTDs and entities are not allowed"),
        (gzip.compress(b"<urlset>" + b" " * 3000 + b"</urlset>"), "inflates to more than"),
        (b"<html><body>not a sitemap</body></html>", "root element is <html>"),
        (b"<urlset><url>", "not well-formed"),
    ],
)
def test_unsafe_or_broken_sitemaps_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(SitemapError, match=message):
        parse_sitemap(data, max_bytes=2000)


def test_the_frontier_hands_out_each_queued_url_once_and_reads_a_row_per_page(tmp_path) -> None:
    """Many pages open at once (a GPU's batches) must not make every call read every queued row; a
    URL whose outcome left it queued is handed out again."""
    from options import AuditOptions
    from pipeline.frontier import Frontier
    from state.store import AUDITED, AuditStore

    store = AuditStore(str(tmp_path / "state.sqlite"))
    store.bind({"start": ["https://shop.example/"]})
    frontier = Frontier(
        store, Scope.for_start(["https://shop.example/"], False, (), ()), AuditOptions(crawl=True, max_pages=1000)
    )
    for i in range(600):
        frontier.offer(f"https://shop.example/p{i}", 1, "link")
    taken = [frontier.next() for _ in range(600)]
    assert [row.url for row in taken] == [f"https://shop.example/p{i}" for i in range(600)]  # type: ignore[union-attr]
    reads: list[str] = []
    store._db.set_trace_callback(reads.append)
    assert frontier.next() is None and frontier.next() is None  # all 600 open: nothing more, cheaply
    assert len(reads) == 1  # one query, not the 600 queued rows in windows; none again until offer() queues
    store.set_status("https://shop.example/p0", AUDITED)
    frontier.done("https://shop.example/p0")
    frontier.done("https://shop.example/p1")  # its outcome left it queued: due again
    assert frontier.next().url == "https://shop.example/p1"  # type: ignore[union-attr]
    assert frontier.next() is None
    frontier.offer("https://shop.example/new", 1, "link")
    assert frontier.next().url == "https://shop.example/new"  # type: ignore[union-attr]
    frontier.offer("https://elsewhere.example/x", 1, "link")  # out of scope: skipped, nothing queued
    reads.clear()
    assert frontier.next() is None and frontier.next() is None and len(reads) == 1
    frontier.offer("https://shop.example/newer", 1, "link")
    assert frontier.next().url == "https://shop.example/newer"  # type: ignore[union-attr]


def test_a_link_met_again_costs_the_frontier_no_query_and_memory_stays_bounded(tmp_path, monkeypatch) -> None:
    """A site's menu is on every page: the second offer of a link asks the store nothing, records nothing
    new, and the links remembered are capped (cleared when full), so a big site's crawl stays bounded."""
    from options import AuditOptions
    from pipeline import frontier as frontier_module
    from pipeline.frontier import Frontier
    from state.store import AuditStore

    monkeypatch.setattr(frontier_module, "_MET", 3)
    store = AuditStore(str(tmp_path / "state.sqlite"))
    store.bind({"start": ["https://shop.example/"]})
    frontier = Frontier(
        store, Scope.for_start(["https://shop.example/"], False, (), ()), AuditOptions(crawl=True, max_pages=1000)
    )
    menu = ["https://shop.example/a", "https://shop.example/b#top", "https://elsewhere.example/x"]
    for link in menu:
        frontier.offer(link, 1, "link")
    reads: list[str] = []
    store._db.set_trace_callback(reads.append)
    for link in menu:
        frontier.offer(link, 2, "link")
    assert reads == []  # met before: no query at all
    frontier.offer("https://shop.example/c", 1, "link")  # full: the remembered links are cleared
    assert len(frontier._met) == 1
    frontier.offer("https://shop.example/a", 1, "link")  # forgotten: asked again, and still recorded once
    assert reads and [row.url for row in store.urls()].count("https://shop.example/a") == 1
    rows = {row.url: row for row in store.urls()}
    assert rows["https://shop.example/b"].depth == 1 and rows["https://elsewhere.example/x"].status == "skipped"
