"""``missing_dimensions`` agrees with Lighthouse's unsized-images: an img sized by CSS (width and height, or one
of them with aspect-ratio), out of the flow, not displayed or a data: SVG is not flagged. In the browser the
CSS is Chromium's matched styles; without one, only the attributes and inline styles count."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import FakeCaptioner, FixtureServer, make_image

from auditing import audit_page
from options import AuditOptions
from pipeline import run_audit
from records import ElementInfo, ImageRecord, PageReport
from scraper.sizing import (
    INLINE_SVG,
    NOT_DISPLAYED,
    OUT_OF_FLOW,
    SIZED_BY_ATTRIBUTES,
    SIZED_BY_CSS,
    SIZING_VALUES,
    STYLES_NOT_READ,
    UNSIZED,
    effective_sizing,
    explicit_css,
    img_sizing,
)

SVG_DOT = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='120' height='120'%3E%3C/svg%3E"
STYLESHEET = """
img.thumb { width: 120px; height: 90px; }
.thumb { height: auto; }
.fluid { max-width: 100%; height: auto; }
.logo { width: 120px; height: 80px; }
.hero { width: 100%; aspect-ratio: 3 / 2; }
.badge { position: absolute; top: 0; left: 0; }
.closed { display: none; }
"""
# file -> (markup, sizing in Chromium, sizing from the HTML alone)
CASES: dict[str, tuple[str, str, str]] = {
    "both-attrs.png": (
        '<img src="both-attrs.png" width="300" height="200" alt="a">',
        SIZED_BY_ATTRIBUTES,
        SIZED_BY_ATTRIBUTES,
    ),
    "attrs-height-auto.png": (
        '<img class="fluid" src="attrs-height-auto.png" width="300" height="200" alt="a">',
        SIZED_BY_ATTRIBUTES,
        SIZED_BY_ATTRIBUTES,
    ),
    "css-both.png": ('<img class="logo" src="css-both.png" alt="a">', SIZED_BY_CSS, UNSIZED),
    "css-ratio.png": ('<img class="hero" src="css-ratio.png" alt="a">', SIZED_BY_CSS, UNSIZED),
    "most-specific.png": ('<img class="thumb" src="most-specific.png" alt="a">', SIZED_BY_CSS, UNSIZED),
    "width-ratio-inline.png": (
        '<img src="width-ratio-inline.png" width="300" style="aspect-ratio: 3 / 2" alt="a">',
        SIZED_BY_CSS,
        SIZED_BY_CSS,
    ),
    "inline-both.png": (
        '<img src="inline-both.png" style="width:300px;height:200px" alt="a">',
        SIZED_BY_CSS,
        SIZED_BY_CSS,
    ),
    "width-height-auto.png": ('<img class="fluid" src="width-height-auto.png" width="300" alt="a">', UNSIZED, UNSIZED),
    "inline-auto.png": ('<img src="inline-auto.png" style="width:auto;height:inherit" alt="a">', UNSIZED, UNSIZED),
    "no-size.png": ('<img src="no-size.png" alt="a">', UNSIZED, UNSIZED),
    "badge.png": ('<img class="badge" src="badge.png" alt="a">', OUT_OF_FLOW, UNSIZED),
    "inline-absolute.png": (
        '<img src="inline-absolute.png" style="position:absolute" alt="a">',
        OUT_OF_FLOW,
        OUT_OF_FLOW,
    ),
    "picture-fixed.png": (
        '<picture style="position:fixed;bottom:0"><img src="picture-fixed.png" alt="a"></picture>',
        OUT_OF_FLOW,
        OUT_OF_FLOW,
    ),
    "closed-menu.png": ('<div class="closed"><img src="closed-menu.png" alt="a"></div>', NOT_DISPLAYED, UNSIZED),
    "hidden-attr.png": ('<div hidden><img src="hidden-attr.png" alt="a"></div>', NOT_DISPLAYED, NOT_DISPLAYED),
    SVG_DOT: (f'<img src="{SVG_DOT}" alt="a">', INLINE_SVG, INLINE_SVG),
}
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sizes</title>'
    '<link rel="stylesheet" href="site.css"></head><body><h1>Sizes</h1>'
    + "\n".join(markup for markup, _, _ in CASES.values())
    + "</body></html>"
)


def _audit(server: FixtureServer, options: AuditOptions) -> dict[str, ImageRecord]:
    server.add("/sizes/site.css", STYLESHEET, content_type="text/css")
    for seed, name in enumerate(CASES):
        if not name.startswith("data:"):
            server.add(f"/sizes/{name}", make_image(300, 200, seed=seed), content_type="image/png")
    server.add("/sizes/page.html", PAGE)
    report = run_audit([server.url("/sizes/page.html")], options, FakeCaptioner())
    return {
        record.source.rsplit("/", 1)[-1] if not record.source.startswith("data:") else record.source: record
        for record in report.pages[0].images
    }


def _img_sizings(record: ImageRecord) -> list[str | None]:
    return [element.sizing for element in record.elements if element.tag == "img"]


def test_in_the_browser_css_sizes_an_image_as_lighthouse_reads_it(fresh_server: FixtureServer, chromium: str) -> None:
    options = AuditOptions(render="always", browser_path=chromium, allow_private=True, ocr="off")
    records = _audit(fresh_server, options)
    for name, (_, rendered, _) in CASES.items():
        record = records[name]
        assert _img_sizings(record) == [rendered], name
        assert ("missing_dimensions" in record.seo_issues) == (rendered == UNSIZED), name


def test_without_a_browser_attributes_and_inline_styles_size_an_image(fresh_server: FixtureServer) -> None:
    records = _audit(fresh_server, AuditOptions(render="never", allow_private=True, ocr="off"))
    for name, (_, _, static) in CASES.items():
        record = records[name]
        assert _img_sizings(record) == [static], name
        assert ("missing_dimensions" in record.seo_issues) == (static == UNSIZED), name


@pytest.mark.parametrize(
    ("width_attr", "height_attr", "css", "position", "url", "box", "expected"),
    [
        (300, 200, {}, "static", "/a.png", (300, 200), SIZED_BY_ATTRIBUTES),
        (0, 0, {}, "static", "/a.png", (0, 0), SIZED_BY_ATTRIBUTES),  # zero is a size
        (300, None, {"aspect-ratio": "16 / 9"}, "static", "/a.png", (300, 169), SIZED_BY_CSS),
        (None, None, {"height": "50px", "aspect-ratio": "1"}, "relative", "/a.png", (50, 50), SIZED_BY_CSS),
        (None, None, {"width": "100%", "height": "auto"}, "static", "/a.png", (300, 200), UNSIZED),
        (None, None, {"aspect-ratio": "auto"}, "static", "/a.png", (300, 200), UNSIZED),
        (None, None, {}, "static", "/a.png", (0, 0), NOT_DISPLAYED),
        (None, None, {}, "absolute", "/a.png", (300, 200), OUT_OF_FLOW),
        (None, None, {}, "Fixed", "/a.png", (300, 200), OUT_OF_FLOW),
        (None, None, {}, "static", "DATA:image/svg+xml;base64,AAAA", (300, 200), INLINE_SVG),
        (None, None, {}, "static", "data:image/png;base64,AAAA", (300, 200), UNSIZED),  # only an SVG is exempt
        (None, None, None, "static", "/a.png", (300, 200), STYLES_NOT_READ),
    ],
)
def test_img_sizing_asks_lighthouses_questions_in_its_order(
    width_attr: int | None,
    height_attr: int | None,
    css: dict[str, str] | None,
    position: str,
    url: str,
    box: tuple[float, float],
    expected: str,
) -> None:
    got = img_sizing(width_attr=width_attr, height_attr=height_attr, css=css, position=position, url=url, box=box)
    assert got == expected


def test_the_effective_size_is_inline_then_attributes_then_the_last_matching_rule() -> None:
    def style(**values: str) -> dict[str, Any]:
        return {"cssProperties": [{"name": name.replace("_", "-"), "value": value} for name, value in values.items()]}

    matched = {
        "inlineStyle": style(height="40px"),
        "attributesStyle": style(width="300px", height="200px"),
        "matchedCSSRules": [
            {"rule": {"style": style(width="10px", aspect_ratio="2")}},
            {"rule": {"style": style(aspect_ratio="auto")}},
            {"rule": {"style": {"cssProperties": [{"name": "width", "value": "nonsense", "parsedOk": False}]}}},
        ],
    }
    assert effective_sizing(matched) == {"width": "300px", "height": "40px", "aspect-ratio": "auto"}
    assert effective_sizing({}) == {"width": None, "height": None, "aspect-ratio": None}
    assert [explicit_css(v) for v in ("0", "50%", "auto", "INHERIT", "", None, "auto !important")] == [
        True, True, False, False, False, False, False,
    ]  # fmt: skip


def _page_with(record: ImageRecord) -> PageReport:
    return PageReport(url="https://shop.test/", status="ok", images=[record])


def test_one_unsized_occurrence_flags_the_image_and_unread_styles_flag_nothing() -> None:
    shown = [ElementInfo(tag="img", sizing=SIZED_BY_ATTRIBUTES), ElementInfo(tag="img", sizing=UNSIZED)]
    record = ImageRecord(source="https://shop.test/a.png", found_in=["img"], elements=shown, width_attr=300,
                         height_attr=200)  # fmt: skip
    audit_page(_page_with(record))
    assert "missing_dimensions" in record.seo_issues  # the record's first tag had both attributes
    unread = ImageRecord(source="https://shop.test/b.png", found_in=["img"],
                         elements=[ElementInfo(tag="img", sizing=STYLES_NOT_READ)])  # fmt: skip
    audit_page(_page_with(unread))
    assert "missing_dimensions" not in unread.seo_issues
    button = ImageRecord(source="https://shop.test/c.png", found_in=["input"], elements=[ElementInfo(tag="input")])
    audit_page(_page_with(button))
    assert "missing_dimensions" not in button.seo_issues  # Lighthouse audits img elements only
    older = ImageRecord(source="https://shop.test/d.png", found_in=["img"], width_attr=300)
    audit_page(_page_with(older))
    assert "missing_dimensions" in older.seo_issues  # a record from before elements knew their sizing


def test_the_schema_lists_every_sizing() -> None:
    import json
    from pathlib import Path

    schema = json.loads((Path(__file__).parents[1] / "schema" / "report.schema.json").read_text())
    element = next(d for d in schema["$defs"].values() if "sizing" in d.get("properties", {}))
    assert element["properties"]["sizing"]["enum"] == [*SIZING_VALUES, None]
