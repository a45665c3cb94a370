"""Unit tier for scraper/rendered.py: DOM snapshots to records, the merge, the client-rendered signs."""

from __future__ import annotations

from conftest import make_image

from options import AuditOptions
from pipeline.page_stage import prefilter, read_shown_too_small
from records import ImageRecord
from scraper.discover import find_images, parse_page
from scraper.net import FetchResult
from scraper.render_route import ResponseStash
from scraper.rendered import add_network_images, client_rendered_signs, merge_static, records_from_snapshot

BASE = "https://shop.example/"


def img(url: str, **extra: object) -> dict:
    item = {"kind": "img", "url": url, "src": url, "alt": "", "naturalWidth": 800, "w": 400, "h": 300}
    item.update(visible=True, decoded=True, srcsets=[], lazy=[], lazySrcsets=[], sources=[])
    item.update(extra)
    return item


def snapshot(*images: dict) -> dict:
    return {"url": BASE, "baseURI": BASE, "images": list(images)}


def test_same_image_twice_is_one_record_with_its_largest_visible_box() -> None:
    records, _ = records_from_snapshot(
        snapshot(
            img(BASE + "a.jpg", w=100, h=80), img(BASE + "a.jpg", w=400, h=300), img(BASE + "a.jpg", visible=False)
        )
    )
    (record,) = records
    assert record.occurrences == 3 and (record.rendered_width, record.rendered_height, record.visible) == (
        400,
        300,
        True,
    )


def test_static_srcset_choice_merges_into_the_browsers_choice() -> None:
    rendered, aliases = records_from_snapshot(
        snapshot(img(BASE + "s.jpg", srcsets=["s.jpg 400w, l.jpg 1600w"], src=BASE + "s.jpg"))
    )
    page = parse_page(
        b'<img src="s.jpg" srcset="s.jpg 400w, l.jpg 1600w"><meta property="og:image" content="/og.jpg">', BASE
    )
    merged = merge_static(rendered, aliases, find_images(page))
    assert [r.source for r in merged] == [BASE + "s.jpg", BASE + "og.jpg"]
    assert {"img", "rendered", "srcset"} <= set(merged[0].found_in) and merged[1].found_in == ["og:image"]


def test_a_placeholder_stands_for_its_lazy_image_without_the_placeholders_box() -> None:
    (record,), _ = records_from_snapshot(
        snapshot(img("data:image/gif;base64,R0lGOD", naturalWidth=1, w=1, h=1, lazy=[BASE + "real.jpg"]))
    )
    assert record.source == BASE + "real.jpg" and "lazy" in record.found_in and record.visible is None


def test_a_broken_image_is_not_judged_by_its_icon() -> None:
    (record,), _ = records_from_snapshot(snapshot(img(BASE + "gone.jpg", decoded=False, w=16, h=16)))
    assert record.visible is None and record.rendered_width is None


def test_an_undecodable_picture_source_falls_back_to_a_decodable_one() -> None:
    sources = [
        {"srcset": "v.svg", "type": "image/svg+xml"},
        {"srcset": "p-800.webp 800w, p-1600.webp 1600w", "type": ""},
    ]
    (record,), _ = records_from_snapshot(snapshot(img(BASE + "v.svg", sources=sources, picture=True)))
    assert record.source == BASE + "p-1600.webp"


def test_network_images_no_element_explains() -> None:
    records = [ImageRecord(source=BASE + "a.jpg")]
    add_network_images(
        records, {BASE + "a-small.jpg": records[0]}, [BASE + "a.jpg", BASE + "a-small.jpg", BASE + "sprite.png"]
    )
    assert [(r.source, r.found_in, r.occurrences) for r in records[1:]] == [(BASE + "sprite.png", ["network"], 0)]


def signs(html: str) -> list[str]:
    page = parse_page(html.encode(), BASE)
    return client_rendered_signs(page, len(find_images(page)))


def test_client_rendered_signs() -> None:
    assert signs('<div id="root"></div><script src="/main.js"></script>')
    assert any("data-setbg" in s for s in signs('<p>Bakery</p><div data-setbg="a.jpg"></div>'))
    assert any("Angular" in s for s in signs("<app-root></app-root><script src='main.js'></script>"))


def test_no_false_alarm_on_ordinary_or_server_rendered_pages() -> None:
    text = "<p>" + "Fresh bread every morning from our wood-fired oven. " * 6 + "</p>"
    assert signs(f"<h1>Bakery</h1>{text}<img src='a.jpg'><script src='/analytics.js'></script>") == []
    assert signs(f"<div id='__next'>{text}<img src='a.jpg'></div><script src='/_next/main.js'></script>") == []
    assert signs("<p>Just a note, no scripts</p>") == []


def test_an_image_shown_too_small_is_read_from_the_browsers_copy_only() -> None:
    """Skipped as shown at 24 px: its file's size, format and bytes come from the stash, a thumbnail only when
    the reports want one; an SVG, an image the browser never loaded and a captioned one stay as they were."""
    icon, svg = make_image(512, 512, "JPEG", quality=95), b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    stash = ResponseStash(10_000_000)
    for name, body in (("icon.jpg", icon), ("logo.svg", svg), ("photo.jpg", make_image(800, 600, "JPEG"))):
        stash.put(BASE + name, FetchResult(BASE + name, BASE + name, 200, {}, body), is_image=True)
    for thumbnail_size in (0, 64):
        options = AuditOptions(thumbnail_size=thumbnail_size)
        records = [ImageRecord(BASE + name, ["img", "rendered"]) for name in ("icon.jpg", "logo.svg", "gone.jpg")]
        records.append(ImageRecord(BASE + "photo.jpg", ["img", "rendered"]))
        for record, (width, height) in zip(records, [(24, 24), (40, 40), (24, 24), (400, 300)], strict=True):
            record.rendered_width, record.rendered_height, record.visible = width, height, True
            record.shown_size_applies = True
        prefilter(records, options)
        read_shown_too_small(records, stash, options)
        read, svg_record, gone, photo = records
        assert read.reason == "too_small" and (read.width, read.height, read.format) == (512, 512, "JPEG")
        assert read.bytes == len(icon) and (read.thumbnail is not None) == bool(thumbnail_size)
        assert svg_record.reason == gone.reason == "too_small" and svg_record.width is None and gone.width is None
        assert photo.status == "pending" and photo.width is None and photo.thumbnail is None
