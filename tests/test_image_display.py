"""How a rendered img's file fits its box, as Lighthouse judges it: ``distorted_image`` (image-aspect-ratio: stretched
or squashed, object-fit fill, 2 px or more off its file's ratio; SVGs, tiny files and object-fit cover/contain are
not judged) and ``low_resolution_image`` (image-size-responsive at device pixel ratio 1: a file under 75% of its
box, under all of it for an icon; pixel art, density srcsets and boxes larger than the window are not judged)."""

from __future__ import annotations

import pytest
from conftest import FakeCaptioner, FixtureServer, make_image

from auditing import audit_page
from options import AuditOptions
from pipeline import run_audit
from records import ElementInfo, ImageRecord, PageReport
from scraper.sizing import resolution_needed

SVG_DOT = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='120' height='120'%3E%3C/svg%3E"
# file -> (markup, the file's width and height (None: no file), distorted, blurry) in Chromium
CASES: dict[str, tuple[str, tuple[int, int] | None, bool, bool]] = {
    "stretched.png": ('<img src="stretched.png" width="300" height="300" alt="a">', (400, 200), True, True),
    "fitting.png": ('<img src="fitting.png" width="200" height="100" alt="a">', (400, 200), False, False),
    "rounded.png": ('<img src="rounded.png" width="200" height="99" alt="a">', (401, 199), False, False),
    "cover.png": (
        '<img src="cover.png" width="300" height="300" style="object-fit:cover" alt="a">',
        (400, 200),
        False,
        False,
    ),
    "css-box.png": ('<img class="square" src="css-box.png" alt="a">', (400, 200), True, False),
    "height-auto.png": (
        '<img class="fluid" src="height-auto.png" width="300" height="300" alt="a">',
        (400, 200),
        False,
        False,
    ),
    "tiny.png": ('<img src="tiny.png" width="100" height="20" alt="a">', (5, 5), False, True),
    "blurry.png": ('<img src="blurry.png" width="300" height="200" alt="a">', (150, 100), False, True),
    "a-little-small.png": ('<img src="a-little-small.png" width="300" height="200" alt="a">', (240, 160), False, False),
    "icon-upscaled.png": ('<img src="icon-upscaled.png" width="48" height="48" alt="a">', (40, 40), False, True),
    "pixel-art.png": (
        '<img src="pixel-art.png" width="300" height="200" style="image-rendering:pixelated" alt="a">',
        (150, 100),
        False,
        False,
    ),
    "retina.png": (
        '<img src="retina.png" srcset="retina.png 2x" width="300" height="200" alt="a">',
        (150, 100),
        False,
        False,
    ),
    "banner.png": ('<img src="banner.png" width="1500" height="100" alt="a">', (300, 20), False, False),
    SVG_DOT: (f'<img src="{SVG_DOT}" width="300" height="100" alt="a">', None, False, False),
}
STYLESHEET = ".square { width: 240px; height: 240px; } .fluid { width: 200px; height: auto; }"


def test_stretched_and_blurry_images_are_flagged_as_lighthouse_does(fresh_server: FixtureServer, chromium: str) -> None:
    fresh_server.add("/shapes/site.css", STYLESHEET, content_type="text/css")
    for seed, (name, (_, size, _, _)) in enumerate(CASES.items()):
        if size is not None:
            fresh_server.add(f"/shapes/{name}", make_image(*size, seed=seed), content_type="image/png")
    body = "\n".join(markup for markup, _, _, _ in CASES.values())
    fresh_server.add(
        "/shapes/page.html",
        f'<!doctype html><html lang="en"><head><link rel="stylesheet" href="site.css"></head><body>{body}</body>',
    )
    options = AuditOptions(render="always", browser_path=chromium, allow_private=True, ocr="off")
    report = run_audit([fresh_server.url("/shapes/page.html")], options, FakeCaptioner())
    records = {
        r.source if r.source.startswith("data:") else r.source.rsplit("/", 1)[-1]: r for r in report.pages[0].images
    }
    for name, (_, _, distorted, blurry) in CASES.items():
        issues = records[name].seo_issues
        assert ("distorted_image" in issues, "low_resolution_image" in issues) == (distorted, blurry), name
    stretched = next(e for e in records["stretched.png"].elements if e.tag == "img")
    assert (stretched.shown_size, stretched.object_fit, stretched.resolution_needed) == ([300, 300], "fill", [225, 225])
    static = run_audit(
        [fresh_server.url("/shapes/page.html")], AuditOptions(render="never", allow_private=True), FakeCaptioner()
    )
    found = {slug for r in static.pages[0].images for slug in r.seo_issues}
    assert not found & {"distorted_image", "low_resolution_image"}  # no laid-out box to compare


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


def _item(shown: tuple[int, int], **facts: object) -> dict[str, object]:
    return {"kind": "img", "shownSize": list(shown), "visible": True, "fitsViewport": True, "objectFit": "fill",
            "imageRendering": "auto", "srcsets": [""], **facts}  # fmt: skip


@pytest.mark.parametrize(
    ("item", "needed"),
    [
        (_item((300, 200)), [225, 150]),
        (_item((64, 64)), [64, 64]),  # an icon needs every pixel
        (_item((65, 20)), [49, 15]),
        (_item((1, 200)), None),
        (_item((300, 200), visible=False), None),
        (_item((300, 200), fitsViewport=False), None),
        (_item((300, 200), objectFit="contain"), None),
        (_item((300, 200), imageRendering="crisp-edges"), None),
        (_item((300, 200), srcsets=["a.png 1x, a@2x.png 2x"]), None),
        (_item((300, 200), srcsets=["a.png 300w, b.png 600w"]), [225, 150]),  # width descriptors are judged
    ],
)
def test_the_resolution_a_box_needs_follows_lighthouse(item: dict[str, object], needed: list[int] | None) -> None:
    assert resolution_needed(item) == needed
