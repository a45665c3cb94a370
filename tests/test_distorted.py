"""``distorted_image`` is Lighthouse's image-aspect-ratio: a rendered img stretched or squashed in its box
(object-fit fill), 2 px or more off its file's ratio; SVGs, tiny files and object-fit cover/contain are not
judged."""

from __future__ import annotations

import pytest
from conftest import FakeCaptioner, FixtureServer, make_image

from auditing import audit_page
from options import AuditOptions
from pipeline import run_audit
from records import ElementInfo, ImageRecord, PageReport

SVG_DOT = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='120' height='120'%3E%3C/svg%3E"
# file -> (markup, the file's width and height (None: no file), flagged in Chromium)
CASES: dict[str, tuple[str, tuple[int, int] | None, bool]] = {
    "stretched.png": ('<img src="stretched.png" width="300" height="300" alt="a">', (400, 200), True),
    "fitting.png": ('<img src="fitting.png" width="200" height="100" alt="a">', (400, 200), False),
    "rounded.png": ('<img src="rounded.png" width="200" height="99" alt="a">', (401, 199), False),
    "cover.png": ('<img src="cover.png" width="300" height="300" style="object-fit:cover" alt="a">', (400, 200), False),
    "css-box.png": ('<img class="square" src="css-box.png" alt="a">', (400, 200), True),
    "height-auto.png": (
        '<img class="fluid" src="height-auto.png" width="300" height="300" alt="a">',
        (400, 200),
        False,
    ),
    "tiny.png": ('<img src="tiny.png" width="100" height="20" alt="a">', (5, 5), False),
    SVG_DOT: (f'<img src="{SVG_DOT}" width="300" height="100" alt="a">', None, False),
}
STYLESHEET = ".square { width: 240px; height: 240px; } .fluid { width: 200px; height: auto; }"


def test_a_stretched_image_is_flagged_as_lighthouse_does(fresh_server: FixtureServer, chromium: str) -> None:
    fresh_server.add("/shapes/site.css", STYLESHEET, content_type="text/css")
    for seed, (name, (_, size, _)) in enumerate(CASES.items()):
        if size is not None:
            fresh_server.add(f"/shapes/{name}", make_image(*size, seed=seed), content_type="image/png")
    body = "\n".join(markup for markup, _, _ in CASES.values())
    fresh_server.add(
        "/shapes/page.html",
        f'<!doctype html><html lang="en"><head><link rel="stylesheet" href="site.css"></head><body>{body}</body>',
    )
    options = AuditOptions(render="always", browser_path=chromium, allow_private=True, ocr="off")
    report = run_audit([fresh_server.url("/shapes/page.html")], options, FakeCaptioner())
    records = {
        r.source if r.source.startswith("data:") else r.source.rsplit("/", 1)[-1]: r for r in report.pages[0].images
    }
    for name, (_, _, flagged) in CASES.items():
        assert ("distorted_image" in records[name].seo_issues) is flagged, (name, records[name].elements)
    stretched = next(e for e in records["stretched.png"].elements if e.tag == "img")
    assert (stretched.shown_size, stretched.object_fit) == ([300, 300], "fill")
    static = run_audit(
        [fresh_server.url("/shapes/page.html")], AuditOptions(render="never", allow_private=True), FakeCaptioner()
    )
    assert not any("distorted_image" in r.seo_issues for r in static.pages[0].images)  # no laid-out box to compare


def _shown(file: tuple[int, int], shown: tuple[int, int], fit: str = "fill", fmt: str = "PNG") -> ImageRecord:
    record = ImageRecord(source="https://shop.test/a.png", found_in=["img"], width=file[0], height=file[1], format=fmt)
    record.add_element(ElementInfo(tag="img", shown_size=list(shown), object_fit=fit))
    return record


@pytest.mark.parametrize(
    ("record", "flagged"),
    [
        (_shown((400, 200), (300, 300)), True),
        (_shown((400, 200), (300, 151)), False),  # 1 px off: rounding
        (_shown((400, 200), (300, 152)), True),  # 2 px off
        (_shown((1000, 10), (500, 6)), False),  # a thin banner: judged on its short side, 1 px off
        (_shown((1000, 10), (500, 8)), True),
        (_shown((10, 1000), (6, 500)), False),
        (_shown((400, 200), (300, 300), fit="contain"), False),
        (_shown((400, 200), (300, 300), fmt="SVG"), False),
        (_shown((400, 200), (0, 0)), False),  # not laid out
        (_shown((6, 6), (100, 20)), True),
        (_shown((5, 6), (100, 20)), False),  # Lighthouse judges files over 5 px a side
    ],
)
def test_the_ratio_is_compared_on_the_side_the_file_fits_shorter(record: ImageRecord, flagged: bool) -> None:
    audit_page(PageReport(url="https://shop.test/", images=[record]))
    assert ("distorted_image" in record.seo_issues) is flagged
