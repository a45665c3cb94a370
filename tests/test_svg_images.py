"""SVG images are captioned from the browser's drawing of them on a rendered page; without a browser
they are skipped with a reason that says so."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from conftest import CaptionsByWidth, FixtureServer
from PIL import Image

from options import AuditOptions
from pipeline import run_audit
from records import SCREENSHOT, ImageRecord

OVEN = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 200"><rect width="300" height="200" fill="#d22"/>'
    '<text x="40" y="110" font-size="30" fill="#fff">OPEN DAILY</text></svg>'
)
DOT = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='240' height='240'%3E%3Crect width='240' height='240' fill='%2322d'/%3E%3C/svg%3E"  # noqa: E501
PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>How we bake</title></head><body>
<h1>How we bake</h1>
<nav style="display:none"><img src="/oven.svg" width="300" height="200"></nav>
<img src="/oven.svg" width="300" height="200">
<img src="{DOT}" alt="A blue square">
<img src="/served-as-text.svg" width="250" height="250">
<img src="/missing.svg" width="300" height="200" alt="Broken">
</body></html>
"""
CAPTIONS = {300: "a red sign", 240: "a blue square", 250: "a red sign in a box"}


def _serve(server: FixtureServer) -> None:
    server.add("/", PAGE)
    server.add("/oven.svg", OVEN, content_type="image/svg+xml")
    server.add("/served-as-text.svg", OVEN, content_type="text/plain")  # an SVG by its bytes; Chromium won't draw it


def _record(report: Any, test: Callable[[str], bool]) -> ImageRecord:
    return next(record for record in report.pages[0].images if test(record.source))


def test_a_rendered_svg_image_is_captioned_from_the_browsers_drawing(
    fresh_server: FixtureServer, chromium: str
) -> None:
    _serve(fresh_server)
    options = AuditOptions(render="always", browser_path=chromium, allow_private=True, ocr="off", thumbnail_size=64)
    report = run_audit([fresh_server.url("/")], options, CaptionsByWidth(CAPTIONS))
    oven = _record(report, lambda url: url.endswith("/oven.svg"))
    dot = _record(report, lambda url: url.startswith("data:"))
    as_text = _record(report, lambda url: url.endswith("/served-as-text.svg"))
    missing = _record(report, lambda url: url.endswith("/missing.svg"))
    for record in (oven, dot):
        assert record.status == "captioned", (record.source, record.reason, record.detail)
        assert SCREENSHOT in record.found_in and record.format == "SVG" and record.bytes is None
    assert (oven.width, oven.height, oven.caption) == (300, 200, "a red sign")
    assert oven.occurrences == 2  # drawn where it is shown, though first met in a closed menu
    assert (dot.width, dot.height) == (240, 240) and "alt_mismatch" not in dot.alt_issues
    assert "non_descriptive_filename" not in dot.seo_issues and dot.suggested_filename is None  # no file to name
    assert oven.suggested_alt == "A red sign" and "missing_alt" in oven.alt_issues
    assert oven.thumbnail is not None
    thumbnail = Image.open(io.BytesIO(oven.thumbnail)).convert("RGB")
    red, green, blue = thumbnail.getpixel((2, 2))
    assert red > 180 and green < 80 and blue < 80  # the drawing, not a blank box
    assert (missing.status, missing.reason) == ("failed", "http_error")  # a broken SVG is not "drawn"
    assert (as_text.status, as_text.reason) == ("skipped", "svg_not_supported")  # no blank box captioned
    assert as_text.detail is not None and "served as image/svg+xml" in as_text.detail and not as_text.screenshot


def test_without_a_browser_an_svg_is_skipped_with_why(fresh_server: FixtureServer) -> None:
    _serve(fresh_server)
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    report = run_audit([fresh_server.url("/")], options, CaptionsByWidth(CAPTIONS))
    oven = _record(report, lambda url: url.endswith("/oven.svg"))
    assert (oven.status, oven.reason) == ("skipped", "svg_not_supported")
    assert oven.detail is not None and "browser draws it on a rendered page" in oven.detail


def test_an_svg_without_an_extension_is_renamed_as_an_svg() -> None:
    from auditing.suggest import suggest_filename

    assert suggest_filename("a red sign", "https://cdn.example/asset/9f2c?fmt=svg", "SVG", set()) == "red-sign.svg"
