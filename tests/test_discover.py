"""Discovery rules on markup: srcset, CSS, lazy loading, charsets, hostile HTML."""

from __future__ import annotations

import time

import pytest

from scraper.css import inline_style_urls, matchable_selector, stylesheet_backgrounds
from scraper.discover import find_images, parse_page
from scraper.srcset import largest, parse_srcset


def images(
    html: str | bytes, url: str = "https://shop.example/dir/page.html", css: list[tuple[str, str]] | None = None
):
    data = html.encode() if isinstance(html, str) else html
    return find_images(parse_page(data, url), css or [])


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        ("a,b,,c,", ["a,b,,c"]),
        ("a.jpg 1x, b.jpg 2x", ["a.jpg", "b.jpg"]),
        (" , ,a.jpg 100w,, ", ["a.jpg"]),
        ("https://e.com/i.jpg?w=1,2 640w, j.jpg 1280w", ["https://e.com/i.jpg?w=1,2", "j.jpg"]),
        ("bad.jpg 10q, good.jpg 2x", ["good.jpg"]),
    ],
)
def test_srcset_parsing(value: str, urls: list[str]) -> None:
    assert [c.url for c in parse_srcset(value)] == urls


def test_srcset_largest() -> None:
    assert largest(parse_srcset("s.jpg 300w, l.jpg 1200w, m.jpg 800w")).url == "l.jpg"  # type: ignore[union-attr]
    assert largest(parse_srcset("a.jpg, b.jpg 3x, c.jpg 2x")).url == "b.jpg"  # type: ignore[union-attr]


def test_css_helpers() -> None:
    assert inline_style_urls("color:red;background:url( 'a.png' ) no-repeat") == ["a.png"]
    rules, imports = stylesheet_backgrounds("@import 'x.css'; @media print { .p { background-image: url(p.png) } }")
    assert [(r.selector, r.url) for r in rules] == [(".p", "p.png")] and imports == ["x.css"]
    assert matchable_selector("a.card:hover::after") == "a.card"
    assert matchable_selector("li:not(.x):focus") == "li:not(.x)"


def test_resolution_base_and_protocol_relative() -> None:
    found = images(
        '<base href="/assets/"><img src="a.png"><img src="//cdn.example/b.png"><img src="/c.png"><img src="  d.png\n">'
    )
    assert [r.source for r in found] == [
        "https://shop.example/assets/a.png",
        "https://cdn.example/b.png",
        "https://shop.example/c.png",
        "https://shop.example/assets/d.png",
    ]


def test_lazy_src_preferred_only_over_placeholders() -> None:
    found = images(
        '<img src="data:image/gif;base64,R0lGOD" data-src="real.jpg">'
        '<img src="blank.gif" data-lazy-src="lazy2.jpg"><img src="kept.jpg" data-src="other.jpg">'
        '<img src="spacer.png" data-original="orig.jpg" width=1 height=1>'
    )
    assert [r.source.rsplit("/", 1)[-1] for r in found] == ["real.jpg", "lazy2.jpg", "kept.jpg", "orig.jpg"]


def test_a_noscript_copy_of_a_lazy_image_is_not_a_second_occurrence() -> None:
    found = images(
        '<img class="lazy" src="data:image/svg+xml,%3Csvg%3E%3C/svg%3E" data-src="hero.jpg" alt="Our shop">'
        '<noscript><img src="hero.jpg" alt="Our shop"></noscript>'
        '<noscript><img src="only-without-scripts.jpg" alt="Map"></noscript><img src="after.jpg" alt="After">'
    )
    assert [(r.source.rsplit("/", 1)[-1], r.occurrences) for r in found] == [
        ("hero.jpg", 1), ("only-without-scripts.jpg", 1), ("after.jpg", 1),
    ]  # fmt: skip
    assert found[1].elements[0].sizing == "not_displayed"  # what only a visitor without scripts sees


def test_skipped_schemes_and_data_uris() -> None:
    found = images(
        '<img src="javascript:void(0)"><img src="about:blank"><img src="blob:https://x/1">'
        '<img src="data:image/png;base64,iVBORw0KGgo=">'
    )
    assert [(r.status, r.reason) for r in found[:3]] == [("skipped", "unsupported_scheme")] * 3
    assert found[3].status == "pending" and found[3].source.startswith("data:image/png")


def test_alt_absent_empty_and_context() -> None:
    found = images(
        '<a href="/shop" aria-label="Shop now"><img src="a.png"></a><img src="b.png" alt="">'
        '<figure><img src="c.png" alt="C" title="T" width="640" height="480"><figcaption>Cap</figcaption>'
        "</figure>"
    )
    a, b, c = found
    assert a.alt is None and a.in_link and a.link_text == "Shop now"
    assert b.alt == ""
    assert (c.alt, c.title, c.width_attr, c.height_attr, c.in_figure, c.figcaption) == ("C", "T", 640, 480, True, "Cap")


def test_linked_css_resolves_against_stylesheet_url() -> None:
    found = images(
        '<div class="hero"></div>', css=[(".hero{background:url(../img/h.jpg)}", "https://cdn.example/css/s.css")]
    )
    assert [r.source for r in found] == ["https://cdn.example/img/h.jpg"]


def test_twitter_and_og_images_dedupe() -> None:
    found = images('<meta property="og:image" content="/s.jpg"><meta name="twitter:image" content="/s.jpg">')
    assert len(found) == 1 and found[0].found_in == ["og:image", "twitter:image"] and found[0].occurrences == 2


@pytest.mark.parametrize(("encoding", "header"), [("shift_jis", False), ("windows-1252", False), ("shift_jis", True)])
def test_charsets(encoding: str, header: bool) -> None:
    alt = "日本語の写真" if encoding == "shift_jis" else "Café crème"
    meta = "" if header else f'<meta charset="{encoding}">' if encoding == "shift_jis" else ""
    html = f'<html><head>{meta}<title>t</title></head><body><img src="a.png" alt="{alt}"></body></html>'
    page = parse_page(html.encode(encoding), "https://x.example/", encoding if header else None)
    assert find_images(page)[0].alt == alt


@pytest.mark.parametrize(
    ("content", "header", "guessed"),
    [
        ('<img src="Café.png" alt="Crème">'.encode(), None, True),  # browsers disagree: Chromium reads windows-1252
        ('<meta charset="utf-8"><img alt="Crème">'.encode(), None, False),
        ('<img alt="Crème">'.encode(), "utf-8", False),
        ('\ufeff<img alt="Crème">'.encode(), None, False),  # a BOM decides
        ('<img alt="Crème">'.encode("cp1252"), None, False),  # not UTF-8: every reader falls back alike
        (b'<img alt="plain">', None, False),  # ASCII reads the same in every encoding
    ],
)
def test_an_undeclared_utf8_page_is_noticed(content: bytes, header: str | None, guessed: bool) -> None:
    page = parse_page(content, "https://x.example/", header)
    assert page.guessed_utf8 is guessed
    assert find_images(page)[0].alt == ("plain" if content.isascii() else "Crème")


def test_deeply_nested_html_is_bounded() -> None:
    html = "<div>" * 100_000 + '<img src="deep.png">' + "</div>" * 100_000
    started = time.monotonic()
    found = images(html)
    assert time.monotonic() - started < 30
    assert all(r.source.startswith("https://") for r in found)


def test_each_image_has_the_last_heading_before_it_as_the_tree_says() -> None:
    """The one-pass heading index gives what ``find_previous`` gives, nested or not."""
    from scraper.context import nearest_heading

    html = (
        '<img src="/a.png"><div><h2>Shoes</h2><p><img src="/b.png"></p></div>'
        '<h3>Boots <img src="/c.png"></h3><section><div><img src="/d.png"></div><h1>Sale</h1></section>'
        '<img src="/e.png">'
    )
    found = {record.source.rsplit("/", 1)[1]: record.heading for record in images(html)}
    assert found == {"a.png": None, "b.png": "Shoes", "c.png": "Boots", "d.png": "Boots", "e.png": "Sale"}
    soup = parse_page(html.encode(), "https://shop.example/").soup
    assert [nearest_heading(img) for img in soup.find_all("img")] == list(found.values())


def test_many_images_and_huge_data_uri() -> None:
    big = "data:image/png;base64," + "A" * 2_000_000
    found = images("".join(f'<img src="/i{i}.png">' for i in range(10_000)) + f'<img src="{big}">')
    assert len(found) == 10_001
