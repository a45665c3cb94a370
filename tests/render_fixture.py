"""Fixture pages whose images exist only after JavaScript runs (no third-party code).

``build_js_site(server)`` serves them and returns ``{page path: {image path: (status, reason)}}``:
the outcome each image must reach when the page is rendered.
"""

from __future__ import annotations

import json

from conftest import FixtureServer, make_image

PNG, JPEG = "image/png", "image/jpeg"


def _img(server: FixtureServer, path: str, width: int, height: int, seed: int, fmt: str = "PNG") -> str:
    server.add(
        path,
        make_image(width, height, fmt, seed=seed, quality=95)
        if fmt == "JPEG"
        else make_image(width, height, fmt, seed=seed),
        content_type=JPEG if fmt == "JPEG" else PNG,
    )
    return path


def build_js_site(server: FixtureServer) -> dict[str, dict[str, tuple[str, str | None]]]:
    """Serve the client-rendered fixture pages; return the expected outcome of every image."""
    expected: dict[str, dict[str, tuple[str, str | None]]] = {}

    _client_rendered_app(server, expected)
    _setbg_placeholders(server, expected)
    _react_backgrounds(server, expected)
    _lazy_loader(server, expected)
    _sizes_and_network(server, expected)
    _infinite_scroll(server, expected)
    return expected


def _client_rendered_app(server: FixtureServer, expected: dict[str, dict[str, tuple[str, str | None]]]) -> None:
    """A tiny client-rendered app: an empty #app, images from a JSON array."""
    products = [{"src": _img(server, f"/js/cake-{i}.png", 300, 200, 100 + i), "alt": f"Cake {i}"} for i in range(4)]
    server.add("/js/products.json", json.dumps(products), content_type="application/json")
    server.add(
        "/js/app.js",
        """
fetch('/js/products.json').then(r => r.json()).then(items => {
  const root = document.getElementById('app');
  for (const item of items) {
    const fig = document.createElement('figure');
    const img = document.createElement('img');
    img.src = item.src; img.alt = item.alt; img.width = 300; img.height = 200;
    fig.appendChild(img);
    root.appendChild(fig);
  }
});
"""
        + "// padding so the bundle looks like one\n" * 10,
        content_type="text/javascript",
    )
    server.add(
        "/js/app.html",
        '<!doctype html><html lang="en"><head><title>Bakery</title><script src="/js/app.js" defer></script>'
        '</head><body><div id="app"></div></body></html>',
    )
    expected["/js/app.html"] = {f"/js/cake-{i}.png": ("captioned", None) for i in range(4)}


def _setbg_placeholders(server: FixtureServer, expected: dict[str, dict[str, tuple[str, str | None]]]) -> None:
    """jQuery-style "set-bg" placeholders."""
    for i in range(2):
        _img(server, f"/js/bg-{i}.jpg", 640, 360, 200 + i, "JPEG")
    server.add(
        "/js/setbg.html",
        "<html><body>"
        + "".join(
            f'<div class="set-bg" data-setbg="/js/bg-{i}.jpg" style="width:600px;height:300px"></div>' for i in range(2)
        )
        + "<script>document.querySelectorAll('.set-bg').forEach(el => "
        "{ el.style.backgroundImage = 'url(' + el.dataset.setbg + ')'; });</script></body></html>",
    )
    expected["/js/setbg.html"] = {f"/js/bg-{i}.jpg": ("captioned", None) for i in range(2)}


def _react_backgrounds(server: FixtureServer, expected: dict[str, dict[str, tuple[str, str | None]]]) -> None:
    """React-style inline-style backgrounds set from script."""
    _img(server, "/js/hero.png", 800, 400, 300)
    server.add(
        "/js/react.html",
        "<html><body><div id='root'></div><script>"
        "const hero = document.createElement('div');"
        "Object.assign(hero.style, {backgroundImage: \"url('/js/hero.png')\", width: '800px', height: '400px'});"
        "hero.setAttribute('role', 'img'); hero.setAttribute('aria-label', 'Our shop');"
        "document.getElementById('root').appendChild(hero);</script></body></html>",
    )
    expected["/js/react.html"] = {"/js/hero.png": ("captioned", None)}


def _lazy_loader(server: FixtureServer, expected: dict[str, dict[str, tuple[str, str | None]]]) -> None:
    """An IntersectionObserver lazy loader with a non-standard attribute, far down the page."""
    for i in range(2):
        _img(server, f"/js/io-{i}.png", 300, 200, 400 + i)
    server.add(
        "/js/lazy.html",
        "<html><body><div style='height:3000px'>top</div>"
        + "".join(
            f'<img class="io" data-lazy-img="/js/io-{i}.png" width="300" height="200" alt="Tart {i}">'
            "<div style='height:1500px'></div>"
            for i in range(2)
        )
        + "<script>const io = new IntersectionObserver(entries => { for (const e of entries) if (e.isIntersecting)"
        " { e.target.src = e.target.dataset.lazyImg; io.unobserve(e.target); } });"
        "document.querySelectorAll('img.io').forEach(img => io.observe(img));</script></body></html>",
    )
    expected["/js/lazy.html"] = {f"/js/io-{i}.png": ("captioned", None) for i in range(2)}


def _sizes_and_network(server: FixtureServer, expected: dict[str, dict[str, tuple[str, str | None]]]) -> None:
    """Sizes, hidden slides and images no element explains."""
    _img(server, "/js/icon-512.jpg", 512, 512, 500, "JPEG")
    _img(server, "/js/photo-1600.jpg", 1600, 1000, 501, "JPEG")
    _img(server, "/js/slide-2.png", 400, 300, 502)
    _img(server, "/js/sprite.png", 300, 300, 503)
    _img(server, "/js/badge.png", 200, 150, 504)
    _img(server, "/js/share.jpg", 1200, 630, 505, "JPEG")
    server.add(
        "/js/sizes.html",
        '<html><head><meta property="og:image" content="/js/share.jpg">'
        "<style>.badge::before { content: ''; display: block; width: 200px; height: 150px;"
        " background-image: url(/js/badge.png) }</style></head><body><div class='badge'></div>"
        "<div style='background-image:url(/js/share.jpg)'><h1>Fresh bread daily</h1></div>"
        '<img src="/js/icon-512.jpg" style="width:24px;height:24px" alt="Cart">'
        '<img src="/js/photo-1600.jpg" style="width:300px" alt="Shop front">'
        '<div class="slide" style="display:none"><img src="/js/slide-2.png" alt="Slide two"></div>'
        "<script>new Image().src = '/js/sprite.png';</script></body></html>",
    )
    expected["/js/sizes.html"] = {
        "/js/icon-512.jpg": ("skipped", "too_small"),  # shown at 24 px whatever its file
        "/js/photo-1600.jpg": ("captioned", None),  # and oversized_image
        "/js/slide-2.png": ("captioned", None),  # hidden slide: judged by its natural size
        "/js/sprite.png": ("captioned", None),  # found_in: network
        "/js/badge.png": ("captioned", None),  # a ::before background
        "/js/share.jpg": ("captioned", None),  # a 40 px strip here, but the og:image every share shows whole
    }


def _infinite_scroll(server: FixtureServer, expected: dict[str, dict[str, tuple[str, str | None]]]) -> None:
    """Infinite scroll: every screen adds another; the render budget must stop it."""
    _img(server, "/js/more.png", 200, 150, 600)
    server.add(
        "/js/infinite.html",
        "<html><body><div id='feed'></div><script>let n = 0;"
        "function more() { for (let i = 0; i < 2; i++) { const d = document.createElement('div');"
        "d.style.height = '900px'; const img = document.createElement('img');"
        "img.src = '/js/more.png?n=' + (n++); img.width = 200; img.height = 150; d.appendChild(img);"
        "document.getElementById('feed').appendChild(d); } }"
        "more(); window.addEventListener('scroll', () => {"
        " if (innerHeight + scrollY >= document.body.scrollHeight - 200) more(); });</script></body></html>",
    )
