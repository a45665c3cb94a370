"""A small shop site for crawl tests, reachable as ``shop.test`` (and ``blog.shop.test``, ``other.test``).

``serve_shop(server)`` registers every route and returns ``{url path: (status, reason)}``: the
outcome each URL the crawl meets must have. Host names resolve to the loopback fixture server
through :func:`fake_dns`, which tests install with ``monkeypatch``.
"""

from __future__ import annotations

import gzip
import ipaddress

import pytest
from conftest import FixtureServer, make_image

import scraper.net

HOSTS = ("shop.test", "blog.shop.test", "other.test")
LOGO = make_image(300, 120, seed=901)
SAME = make_image(240, 180, seed=902)


def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """``*.test`` host names resolve to 127.0.0.1 and pass the guard, for the fetcher only."""
    original = scraper.net.resolve_checked

    def resolve(host: str, port: int, *, allow_private: bool = False) -> list:
        if host in HOSTS:
            return [ipaddress.ip_address("127.0.0.1")]
        return original(host, port, allow_private=allow_private)

    monkeypatch.setattr(scraper.net, "resolve_checked", resolve)


def _page(title: str, body: str, head: str = "") -> str:
    return (
        f'<!doctype html><html lang="en"><head><title>{title}</title>{head}</head><body>'
        f'<img src="/img/logo.png" alt="Shop logo" width="300" height="120">{body}</body></html>'
    )


def serve_shop(server: FixtureServer, crawl_delay: float = 0.2) -> dict[str, tuple[str, str | None]]:
    """Serve the shop; return the expected status (and reason) of every URL the crawl meets."""
    base = f"http://shop.test:{server.port}"
    server.add(
        "/robots.txt",
        f"User-agent: *\nDisallow: /private/\nCrawl-delay: {crawl_delay}\nSitemap: {base}/sitemap_index.xml\n",
        content_type="text/plain",
    )
    server.add(
        "/sitemap_index.xml",
        f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemap-pages.xml.gz</loc></sitemap>"
        f"<sitemap><loc>{base}/sitemap-bomb.xml</loc></sitemap></sitemapindex>",
        content_type="application/xml",
    )
    pages_xml = (
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/</loc><lastmod>2026-11-01</lastmod></url>"
        f"<url><loc>{base}/sitemap-only</loc><lastmod>2026-10-01</lastmod></url></urlset>"
    )
    server.add("/sitemap-pages.xml.gz", gzip.compress(pages_xml.encode()), content_type="application/x-gzip")
    server.add(
        "/sitemap-bomb.xml",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        "<urlset><url><loc>&b;</loc></url></urlset>",
        content_type="application/xml",
    )
    server.add("/img/logo.png", LOGO, content_type="image/png")
    for name in ("about", "products", "a", "b", "sitemap-only"):
        server.add(f"/img/{name}.png", make_image(320, 240, seed=hash(name) % 1000), content_type="image/png")
    server.add("/img/same-1.png", SAME, content_type="image/png")
    server.add("/img/same-2.png", SAME, content_type="image/png")
    server.add(
        "/",
        _page(
            "Home",
            '<a href="/about">About</a> <a href="/products">Products</a> <a href="/products?sort=price">Cheap first</a>'
            '<a href="/a">A</a> <a href="/private/secret">Staff</a> <a href="/menu.pdf">Menu</a>'
            '<a href="/download">Download</a> <a href="/go-elsewhere">Partner</a> <a href="/old-about">Old</a>'
            f'<a href="http://other.test:{server.port}/">Other</a> <a href="http://blog.shop.test:{server.port}/">Blog</a>'
            '<a href="mailto:shop@example.com">Mail</a> <a href="/about#team">Team</a>'
            '<img src="/img/same-1.png" alt="Bread">',
        ),
    )
    server.add("/about", _page("About", '<img src="/img/about.png" alt="Our team"><img src="/img/same-2.png">'))
    server.add("/products", _page("Products", '<img src="/img/products.png" alt="Cakes">'))
    server.add("/a", _page("A", '<a href="/b">B</a><img src="/img/a.png" alt="A">'))
    server.add("/b", _page("B", '<a href="/a">A again</a><a href="/">Home</a><img src="/img/b.png" alt="B">'))
    server.add("/sitemap-only", _page("Only in the sitemap", '<img src="/img/sitemap-only.png" alt="Pies">'))
    server.add("/private/secret", _page("Staff", ""))
    server.add("/menu.pdf", b"%PDF-1.4", content_type="application/pdf")
    server.add("/download", b"%PDF-1.4", content_type="application/pdf")
    server.add("/go-elsewhere", status=302, headers={"Location": f"http://other.test:{server.port}/"})
    server.add("/old-about", status=301, headers={"Location": "/about"})
    # /products?sort=price is served by the /products route (query ignored) and declares its canonical:
    server.routes["/products"].body = _page(
        "Products", '<img src="/img/products.png" alt="Cakes">', f'<link rel="canonical" href="{base}/products">'
    ).encode()
    return {
        "/": ("audited", None),
        "/sitemap-only": ("audited", None),
        "/about": ("audited", None),
        "/products": ("audited", None),
        "/products?sort=price": ("skipped", "canonical_duplicate"),
        "/a": ("audited", None),
        "/b": ("audited", None),
        "/private/secret": ("skipped", "robots"),
        "/menu.pdf": ("skipped", "non_html"),
        "/download": ("skipped", "non_html"),
        "/go-elsewhere": ("skipped", "redirect_out_of_scope"),
        "/old-about": ("skipped", "redirect_duplicate"),
        "other.test/": ("skipped", "out_of_scope"),
        "blog.shop.test/": ("skipped", "out_of_scope"),
    }
