"""Elements the browser draws with no image file of their own (inline SVG, canvas, an object that embeds
a document), role=img backgrounds and image buttons: captioned from the browser's rendering of the
element, so each gets a suggestion, not only a flag. Without a browser they are reported with why."""

from __future__ import annotations

import pytest
from conftest import FakeCaptioner, FixtureServer, make_image

from options import AuditOptions
from pipeline import run_audit
from records import ImageRecord

PAGE = """<!doctype html><html lang="en"><body>
<svg id="logo" width="240" height="160"><rect width="240" height="160" fill="#c81e1e"/></svg>
<canvas id="chart" width="300" height="200"></canvas>
<script>const c = document.getElementById("chart").getContext("2d");
c.fillStyle = "#1ec81e"; c.fillRect(0, 0, 300, 200);</script>
<div id="stars" role="img" style="width:220px;height:160px;background-image:url(/drawn/stars.png)"></div>
<object id="doc" data="/drawn/doc.html" width="300" height="200"></object>
<input id="go" type="image" src="/drawn/go.png">
<svg id="icon" role="img" width="24" height="24" aria-hidden="true"><rect width="24" height="24"/></svg>
<img id="nosrc" role="button">
</body></html>"""


@pytest.fixture(scope="module")
def drawn_site(server: FixtureServer) -> str:
    server.add("/drawn/stars.png", make_image(220, 160, seed=3), content_type="image/png")
    server.add("/drawn/go.png", make_image(160, 120, seed=4), content_type="image/png")
    server.add("/drawn/doc.html", "<body style='margin:0;background:#1e1ec8'>Opening hours</body>")
    return server.add("/drawn/page.html", PAGE)


def by_selector(records: list[ImageRecord]) -> dict[str, ImageRecord]:
    return {element.selector: record for record in records for element in record.elements if element.selector}


@pytest.fixture(scope="module")
def rendered(drawn_site: str, chromium: str) -> dict[str, ImageRecord]:
    options = AuditOptions(render="always", browser_path=chromium, allow_private=True, ocr="off")
    return by_selector(run_audit([drawn_site], options, FakeCaptioner()).pages[0].images)


@pytest.fixture(scope="module")
def static(drawn_site: str) -> dict[str, ImageRecord]:
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    return by_selector(run_audit([drawn_site], options, FakeCaptioner()).pages[0].images)


@pytest.mark.parametrize(("selector", "colour", "size"), [("#logo", "red", "240x160"), ("#chart", "green", "300x200")])
def test_svg_and_canvas_are_captioned_from_their_rendering(
    rendered: dict, selector: str, colour: str, size: str
) -> None:
    record = rendered[selector]
    assert record.status == "captioned" and {"element", "screenshot", "rendered"} <= set(record.found_in)
    assert (record.width, record.height) == tuple(int(n) for n in size.split("x"))
    assert record.caption == f"a {colour} picture {size}" and record.screenshot is None  # the bytes are not kept
    assert record.suggested_alt == f"A {colour} picture {size}" and record.suggestion_for == "aria-label"
    assert record.seo_issues == [] and record.bytes is None  # a screenshot is no file of the site


def test_an_object_embedding_a_document_is_captioned_from_its_rendering(rendered: dict) -> None:
    record = rendered["#doc"]
    assert record.status == "captioned" and record.caption == "a blue picture 300x200"
    assert record.alt_issues == ["object_no_name"] and record.suggestion_for == "aria-label"


def test_a_role_img_background_and_an_image_button_get_a_suggestion(rendered: dict) -> None:
    stars, button = rendered["#stars"], rendered["#go"]
    assert stars.source.endswith("/drawn/stars.png") and stars.alt_issues == ["role_img_no_name"]
    assert stars.suggested_alt and stars.suggestion_for == "aria-label"
    assert button.alt_issues == ["image_button_no_name"] and button.suggestion_for == "alt" and button.suggested_alt


def test_small_hidden_and_sourceless_elements_are_reported_with_why(rendered: dict) -> None:
    icon, nosrc = rendered["#icon"], rendered["#nosrc"]
    assert (icon.status, icon.reason) == ("skipped", "too_small") and icon.alt_issues == []  # aria-hidden
    assert (nosrc.status, nosrc.reason) == ("skipped", "no_source") and nosrc.alt_issues == ["missing_alt"]
    assert nosrc.seo_issues == ["empty_src"]  # no image file: nothing to size, but a src to fix


def test_without_a_browser_drawn_elements_are_reported_with_a_reason(static: dict) -> None:
    for selector in ("#logo", "#chart", "#doc"):
        assert (static[selector].status, static[selector].reason) == ("skipped", "needs_browser"), selector
        assert static[selector].detail and "rendered" in static[selector].detail
    assert static["#doc"].alt_issues == ["object_no_name"]
    assert static["#stars"].status == "captioned" and static["#stars"].alt_issues == ["role_img_no_name"]
