"""The alt-text and SEO checks: one positive and one negative case per slug, and a golden file."""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path

import pytest
from conftest import FakeCaptioner, FixtureServer
from PIL import Image

from auditing import ISSUES, audit_page
from auditing.suggest import (
    is_descriptive_filename,
    overlap_score,
    slugify,
    suggest_alt,
    suggest_filename,
    trim_to,
)
from options import AuditOptions
from pipeline import run_audit
from records import ElementInfo, ImageRecord, PageReport

GOLDEN = Path(__file__).parent / "golden" / "checks.json"
RED = (200, 30, 30)


def solid(width: int, height: int, fmt: str = "PNG", colour: tuple[int, int, int] = RED) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, fmt)
    return buffer.getvalue()


def noise(width: int, height: int, fmt: str) -> bytes:
    """Seeded, red-tinted noise: large files whose fake caption is always 'red'."""
    raw = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
    tinted = Image.blend(raw, Image.new("RGB", (width, height), RED), 0.5)
    buffer = io.BytesIO()
    tinted.save(buffer, fmt, quality=95)
    return buffer.getvalue()


LONG_ALT = "A red square " + "with a very long description that goes on and on " * 3

# name -> (markup, bytes); every image file is named after the case it proves.
CASES: dict[str, tuple[str, bytes | None]] = {
    "missing-alt-pos.png": ('<img src="missing-alt-pos.png" width="300" height="200">', solid(300, 200)),
    "missing-alt-neg.png": (
        '<img src="missing-alt-neg.png" alt="Red square" width="300" height="200">',
        solid(300, 200),
    ),
    "linked-pos.png": (
        '<a href="/products/shoes"><img src="linked-pos.png" width="300" height="200"></a>',
        solid(300, 200),
    ),
    "linked-neg.png": (
        '<a href="/products/hats">Shop hats <img src="linked-neg.png" alt="" width="300" height="200"></a>',
        solid(300, 200),
    ),
    "empty-content-pos.png": ('<img src="empty-content-pos.png" alt="" width="300" height="200">', solid(300, 200)),
    "empty-spacer-neg.png": ('<img src="empty-spacer-neg.png" alt="" width="160" height="40">', solid(160, 40)),
    "filename-pos.png": ('<img src="filename-pos.png" alt="IMG_2031.jpg" width="300" height="200">', solid(300, 200)),
    "filename-neg.png": (
        '<img src="filename-neg.png" alt="Red square on a page" width="300" height="200">',
        solid(300, 200),
    ),
    "placeholder-pos.png": ('<img src="placeholder-pos.png" alt="photo" width="300" height="200">', solid(300, 200)),
    "placeholder-neg.png": (
        '<img src="placeholder-neg.png" alt="Red photo square" width="300" height="200">',
        solid(300, 200),
    ),
    "prefix-pos.png": (
        '<img src="prefix-pos.png" alt="Image of a red square" width="300" height="200">',
        solid(300, 200),
    ),
    "prefix-neg.png": (
        '<img src="prefix-neg.png" alt="A red square, imaged" width="300" height="200">',
        solid(300, 200),
    ),
    "long-pos.png": (f'<img src="long-pos.png" alt="{LONG_ALT}" width="300" height="200">', solid(300, 200)),
    "long-neg.png": ('<img src="long-neg.png" alt="A red square, briefly" width="300" height="200">', solid(300, 200)),
    "dup-a-pos.png": ('<img src="dup-a-pos.png" alt="Our red product" width="300" height="200">', solid(300, 201)),
    "dup-b-pos.png": ('<img src="dup-b-pos.png" alt="Our red product" width="300" height="200">', solid(300, 202)),
    "mismatch-pos.png": (
        '<img src="mismatch-pos.png" alt="Smiling chef in a kitchen" width="300" height="200">',
        solid(300, 200),
    ),
    "mismatch-neg.png": ('<img src="mismatch-neg.png" alt="Red picture" width="300" height="200">', solid(300, 200)),
    "broken-pos.png": ('<img src="broken-pos.png" alt="Red square gone" width="300" height="200">', None),
    "large-pos.png": (
        '<img src="large-pos.png" alt="Red noise large" width="400" height="400">',
        noise(400, 400, "PNG"),
    ),
    "large-webp-neg.webp": (
        '<img src="large-webp-neg.webp" alt="Red noise webp" width="400" height="400">',
        noise(400, 400, "WEBP"),
    ),
    "no-dimensions-pos.png": ('<img src="no-dimensions-pos.png" alt="Red square unsized">', solid(300, 200)),
    "IMG_2031.jpg": (
        '<img src="IMG_2031.jpg" alt="Red square camera" width="300" height="200">',
        solid(300, 200, "JPEG"),
    ),
    "red-square-descriptive.png": (
        '<img src="red-square-descriptive.png" alt="Red square named" width="300" height="200">',
        solid(300, 200),
    ),
    "figure-pos.png": (
        '<figure><img src="figure-pos.png" alt="" width="300" height="200"><figcaption>A red picture '
        "300x200</figcaption></figure>",
        solid(300, 200),
    ),
    "css-bg.png": ('<div style="background-image:url(css-bg.png)"></div>', solid(300, 200)),
    "social-pos.png": ('<meta property="og:image" content="social-pos.png">', solid(300, 200)),
    "social-neg.png": (
        '<meta name="twitter:image" content="social-neg.png"><meta name="twitter:image:alt" content="Red card">',
        solid(300, 200),
    ),
    "button-pos.png": ('<input type="image" src="button-pos.png" width="300" height="200">', solid(300, 200)),
    "button-neg.png": (
        '<input type="image" src="button-neg.png" alt="Search the red shop" width="300" height="200">',
        solid(300, 200),
    ),
    "conflict-pos.png": (
        '<img src="conflict-pos.png" role="presentation" tabindex="0" width="300" height="200">',
        solid(300, 200),
    ),
    "conflict-neg.png": ('<img src="conflict-neg.png" role="presentation" width="300" height="200">', solid(300, 200)),
    "redundant-pos.png": (
        '<a href="/shoes"><img src="redundant-pos.png" alt="Red shoes" width="300" height="200"> Red shoes</a>',
        solid(300, 200),
    ),
    "redundant-neg.png": (
        '<a href="/hats"><img src="redundant-neg.png" alt="Red felt hat" width="300" height="200"> Hats</a>',
        solid(300, 200),
    ),
    # Elements with no image file of their own: their records are keyed by the page and their selector.
    "page.html##svg-pos": ('<svg id="svg-pos" role="img" width="300" height="200"><rect/></svg>', None),
    "page.html##svg-neg": ('<svg id="svg-neg" role="img"><title>Company logo</title><rect/></svg>', None),
    "page.html##role-img-pos": ('<div id="role-img-pos" role="img"></div>', None),
    "page.html##role-img-neg": ('<div id="role-img-neg" role="img" aria-label="Four stars of five"></div>', None),
    "page.html##area-pos": (
        '<map name="m"><area id="area-pos" href="/a" coords="0,0,9,9"><area id="area-neg" href="/b" alt="Shoes" '
        'coords="9,9,19,19"></map>',
        None,
    ),
    "page.html##object-pos": ('<object id="object-pos" data="doc.html"></object>', None),
    "page.html##object-neg": ('<object id="object-neg" data="doc2.html" title="Opening hours"></object>', None),
    "page.html##empty-src-pos": ('<img id="empty-src-pos" src="" alt="Nothing here">', None),
}

# slug -> (file proving it, file proving its absence)
POS_NEG = {
    "missing_alt": ("missing-alt-pos.png", "missing-alt-neg.png"),
    "linked_image_no_text": ("linked-pos.png", "linked-neg.png"),
    "empty_alt_on_content": ("empty-content-pos.png", "linked-neg.png"),
    "filename_alt": ("filename-pos.png", "filename-neg.png"),
    "placeholder_alt": ("placeholder-pos.png", "placeholder-neg.png"),
    "redundant_prefix": ("prefix-pos.png", "prefix-neg.png"),
    "too_long": ("long-pos.png", "long-neg.png"),
    "duplicate_alt": ("dup-a-pos.png", "mismatch-neg.png"),
    "alt_mismatch": ("mismatch-pos.png", "mismatch-neg.png"),
    "broken_image": ("broken-pos.png", "missing-alt-neg.png"),
    "large_file": ("large-pos.png", "missing-alt-neg.png"),
    "modern_format": ("large-pos.png", "large-webp-neg.webp"),
    "missing_dimensions": ("no-dimensions-pos.png", "missing-alt-neg.png"),
    "non_descriptive_filename": ("IMG_2031.jpg", "red-square-descriptive.png"),
    "social_image_no_alt": ("social-pos.png", "social-neg.png"),
    "image_button_no_name": ("button-pos.png", "button-neg.png"),
    "presentational_role_ignored": ("conflict-pos.png", "conflict-neg.png"),
    "redundant_alt": ("redundant-pos.png", "redundant-neg.png"),
    "svg_no_name": ("page.html##svg-pos", "page.html##svg-neg"),
    "role_img_no_name": ("page.html##role-img-pos", "page.html##role-img-neg"),
    "area_no_name": ("page.html##area-pos", "page.html##area-neg"),
    "object_no_name": ("page.html##object-pos", "page.html##object-neg"),
    "empty_src": ("page.html##empty-src-pos", "missing-alt-neg.png"),
}


@pytest.fixture(scope="module")
def audited(server: FixtureServer) -> dict[str, ImageRecord]:
    for name, (_, data) in CASES.items():
        if data is not None and "#" not in name:
            kind = "image/jpeg" if name.endswith(".jpg") else "image/webp" if name.endswith(".webp") else "image/png"
            server.add(f"/checks/{name}", data, content_type=kind)
    server.add("/checks/page.html", "<html><body>" + "\n".join(m for m, _ in CASES.values()) + "</body></html>")
    report = run_audit(
        [server.url("/checks/page.html")], AuditOptions(render="never", allow_private=True), FakeCaptioner()
    )
    return {record.source.rsplit("/", 1)[-1]: record for record in report.pages[0].images}


# oversized_image needs the rendered size (tests/test_render.py, the unit test below); inconsistent_alt
# compares pages (tests/test_site_reports.py).
RENDERED_ONLY = {"oversized_image", "distorted_image", "low_resolution_image", "inconsistent_alt"}
TEXT_IN_IMAGES = {"image_of_text", "alt_missing_text"}  # need images of text: tests/test_ocr.py


def test_every_slug_has_a_positive_and_a_negative_case(audited: dict[str, ImageRecord]) -> None:
    assert set(POS_NEG) == set(ISSUES) - RENDERED_ONLY - TEXT_IN_IMAGES
    for slug, (positive, negative) in POS_NEG.items():
        pos, neg = audited[positive], audited[negative]
        assert slug in pos.alt_issues + pos.seo_issues, f"{slug} not flagged on {positive}"
        assert slug not in neg.alt_issues + neg.seo_issues, f"{slug} wrongly flagged on {negative}"


def test_small_spacer_with_empty_alt_is_not_flagged(audited: dict[str, ImageRecord]) -> None:
    spacer = audited["empty-spacer-neg.png"]
    assert spacer.status == "skipped" and "empty_alt_on_content" not in spacer.alt_issues


def test_css_backgrounds_get_no_alt_checks_but_a_suggested_aria_label(audited: dict[str, ImageRecord]) -> None:
    background = audited["css-bg.png"]
    assert background.alt_issues == [] and background.suggestion_for == "aria-label"
    assert background.suggested_alt == "A red picture 300x200" and background.suggestion_basis == "caption"


def test_mismatch_scores_are_reported(audited: dict[str, ImageRecord]) -> None:
    assert audited["mismatch-pos.png"].alt_match_score == 0.0
    assert audited["mismatch-neg.png"].alt_match_score == 1.0


def test_existing_alt_is_never_overwritten(audited: dict[str, ImageRecord]) -> None:
    assert audited["filename-pos.png"].alt == "IMG_2031.jpg"
    assert audited["filename-pos.png"].suggested_alt == "A red picture 300x200"


def test_matches_golden_file(audited: dict[str, ImageRecord]) -> None:
    got = {
        name: {
            "status": record.status,
            "alt_issues": record.alt_issues,
            "seo_issues": record.seo_issues,
            "alt_match_score": record.alt_match_score,
            "suggested_alt": record.suggested_alt,
            "suggested_filename": record.suggested_filename,
        }
        for name, record in sorted(audited.items())
    }
    if os.environ.get("ALTSCOUT_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=2) + "\n", encoding="utf-8")
    assert got == json.loads(GOLDEN.read_text(encoding="utf-8"))


# --- suggestion rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"caption": "a picture of a dog on a beach"}, "A dog on a beach"),
        ({"caption": "there is a photo of two cats"}, "Two cats"),
        ({"caption": "a man riding a bike"}, "A man riding a bike"),
        ({"caption": "a dog " * 40, "limit": 30}, "A dog a dog a dog a dog a dog"),
        ({"caption": "a red shoe", "in_link": True, "link_text": "Buy red shoes"}, "Buy red shoes"),
        (
            {"caption": "a red shoe", "in_link": True, "link_purpose": "link to the red shoes page"},
            "A red shoe (link to the red shoes page)",
        ),
        ({"caption": "a red shoe", "in_link": True, "link_purpose": None}, "A red shoe"),
        ({"caption": "a red shoe on a table", "figcaption": "A red shoe on a table."}, ""),
        ({"caption": "a red shoe on a table", "figcaption": "Autumn collection"}, "A red shoe on a table"),
        ({"caption": None}, None),
    ],
)
def test_suggest_alt(kwargs: dict, expected: str | None) -> None:
    caption = kwargs.pop("caption")
    assert suggest_alt(caption, **kwargs) == expected


def test_trim_and_overlap_and_filenames() -> None:
    assert trim_to("one two three four", 9) == "one two"
    assert len(trim_to("x" * 200, 125)) == 125
    assert overlap_score("Red shoes on a wooden floor", "a pair of red sneakers on a wooden floor") == 1.0
    assert overlap_score("Our CEO Jane", "a woman smiling") == 0.0
    assert overlap_score("the of a", "anything") is None
    assert not is_descriptive_filename("https://x/IMG_2031.JPG")
    assert not is_descriptive_filename("https://x/3f9a2b7c4d5e6f70.png")
    assert not is_descriptive_filename("https://x/image-1.png")
    assert is_descriptive_filename("https://x/red-running-shoes.png")
    assert slugify("a picture of a red shoe on the table") == "red-shoe-table"
    taken: set[str] = set()
    assert suggest_filename("a red shoe", "https://x/IMG_1.JPG", "JPEG", taken) == "red-shoe.jpg"
    assert suggest_filename("a red shoe", "https://x/IMG_2.jpg", "JPEG", taken) == "red-shoe-2.jpg"
    assert suggest_filename("a red shoe", "https://x/img", "PNG", taken) == "red-shoe.png"


def _shown(width: int, shown: int, size: int, visible: bool = True) -> ImageRecord:
    record = ImageRecord(source="http://x/a.png", found_in=["img", "rendered"], occurrences=1, alt="A")
    record.width = record.height = width
    record.rendered_width = record.rendered_height = shown
    record.bytes, record.visible = size, visible
    record.set_caption("a red square", "a red square")
    return record


@pytest.mark.parametrize(
    ("record", "flagged"),
    [
        (_shown(512, 24, 40_000), True),  # an icon file 20x too wide
        (_shown(512, 256, 40_000), False),  # exactly 2x: fine at DPR 1... and 2
        (_shown(512, 200, 40_000), True),
        (_shown(512, 24, 3_000), False),  # too few bytes to matter (< 4 KiB saved)
        (_shown(512, 24, 40_000, visible=False), False),  # not on screen: no rendered size to compare
    ],
)
def test_oversized_image_compares_natural_and_rendered_width(record: ImageRecord, flagged: bool) -> None:
    page = PageReport(url="http://x/", images=[record])
    audit_page(page)
    assert ("oversized_image" in record.seo_issues) is flagged


def test_aria_hidden_and_presentational_images_need_no_alt() -> None:
    def record(name: str, **element: object) -> ImageRecord:
        made = ImageRecord(source=f"http://x/{name}.png", found_in=["img"], occurrences=1, alts=[None])
        made.set_caption("a red square", "a red square")
        made.add_element(ElementInfo(**{"tag": "img", "selector": f"#{name}", "role": "img", **element}))  # type: ignore[arg-type]
        return made

    hidden = record("h", hidden=True, decorative=True, accessible_name="Smiling chef", name_source="aria-label")
    presentational = record("p", role="none", explicit_role="none", decorative=True)
    plain = record("m")
    page = PageReport(url="http://x/", images=[hidden, presentational, plain])
    audit_page(page)
    assert hidden.alt_issues == [] and presentational.alt_issues == []  # no mismatch on a hidden image either
    assert plain.alt_issues == ["missing_alt"] and plain.elements[0].issues == ["missing_alt"]


@pytest.mark.parametrize(
    ("element", "slug"),
    [
        ({"alt": "...", "accessible_name": "...", "name_source": "alt"}, "placeholder_alt"),
        ({"alt": "A red square", "accessible_name": "image", "name_source": "aria-label"}, "placeholder_alt"),
        ({"accessible_name": "IMG_2031.jpg", "name_source": "title"}, "filename_alt"),
        ({"accessible_name": "Smiling chef in a kitchen", "name_source": "aria-labelledby"}, "alt_mismatch"),
    ],
)
def test_text_checks_read_the_accessible_name(element: dict, slug: str) -> None:
    record = ImageRecord(source="http://x/a.png", found_in=["img"], occurrences=1, alt=element.get("alt"))
    record.set_caption("a red square", "a red square")
    record.add_element(ElementInfo(tag="img", selector="#a", role="img", **element))
    audit_page(PageReport(url="http://x/", images=[record]))
    assert slug in record.alt_issues and "missing_alt" not in record.alt_issues


@pytest.mark.parametrize(
    ("alt", "placeholder"),
    [("...", True), ("|", True), ("-", True), ("😀", False), ("👍🏽", False), ("★★★★☆", False), ("©", False)],
)
def test_an_emoji_is_a_name_and_punctuation_is_none(alt: str, placeholder: bool) -> None:
    """WordPress writes every emoji as ``<img class="emoji" alt="😀">``: a screen reader says its name
    ("grinning face"), so it is no placeholder; "..." or "|" says nothing."""
    record = ImageRecord(source="http://x/1f600.svg", found_in=["img"], occurrences=1, alt=alt)
    record.add_element(
        ElementInfo(tag="img", selector="#e", role="img", alt=alt, accessible_name=alt, name_source="alt")
    )
    audit_page(PageReport(url="http://x/", images=[record]))
    assert ("placeholder_alt" in record.alt_issues) is placeholder
