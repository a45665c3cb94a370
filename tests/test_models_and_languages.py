"""BLIP-2 through the same captioner, and MarianMT translation of captions and suggestions."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest
from conftest import FakeCaptioner, FixtureServer, make_image
from PIL import Image

from captioning import BlipCaptioner, GenerationSettings, resolve_model_id
from captioning.translate import (
    MARIAN_MODELS,
    Translator,
    page_language,
    supported_languages,
    translation_model_for,
)
from options import AuditOptions, OptionsError
from pipeline import run_audit
from reports import SCHEMA_PATH


def pictures(n: int) -> list[Image.Image]:
    return [Image.open(io.BytesIO(make_image(200, 150, seed=seed))).convert("RGB") for seed in range(n)]


# --- model choice -----------------------------------------------------------------------------


def test_blip2_alias() -> None:
    assert resolve_model_id("blip2") == "Salesforce/blip2-opt-2.7b"


def test_tiny_blip2_loads_and_captions_through_the_same_path(tiny_blip2_dir: Path) -> None:
    captioner = BlipCaptioner(str(tiny_blip2_dir), device="cpu", dtype="float32")
    captioner.load()
    assert captioner.describe()["family"] == "blip-2"
    images = pictures(4)
    settings = GenerationSettings(max_new_tokens=5, min_new_tokens=3)
    batched = captioner.caption_batch(images, settings)
    assert batched == [captioner.caption_batch([image], settings)[0] for image in images]
    assert all(caption and "<image>" not in caption for caption in batched)
    prompted = captioner.caption_batch(
        images[:2], GenerationSettings(max_new_tokens=4, min_new_tokens=4, prompt="a dog")
    )
    assert all(caption and not caption.startswith("a dog") for caption in prompted)


def test_blip2_in_the_pipeline(server: FixtureServer, tiny_blip2_dir: Path) -> None:
    server.add("/m/a.png", make_image(300, 200, seed=1), content_type="image/png")
    server.add("/m/page.html", "<img src='a.png' alt='x'>")
    options = AuditOptions(
        render="never",
        model=str(tiny_blip2_dir),
        device="cpu",
        dtype="float32",
        allow_private=True,
        max_new_tokens=5,
        min_new_tokens=3,
    )
    report = run_audit([server.url("/m/page.html")], options)
    assert report.pages[0].images[0].status == "captioned"
    assert report.model["family"] == "blip-2" and report.model["max_new_tokens"] == 5


# --- languages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["es", "fr", "de", "it", "pt", "nl", "FR", "pt-BR", "de_DE"])
def test_required_languages_resolve(code: str) -> None:
    model = translation_model_for(code)
    assert model.startswith("Helsinki-NLP/opus-mt-") and model in MARIAN_MODELS.values()


def test_unknown_language_lists_supported() -> None:
    with pytest.raises(OptionsError) as caught:
        AuditOptions(render="never", lang="xx")
    message = str(caught.value)
    assert "'xx'" in message and all(code in message for code in ("es", "fr", "de", "it", "pt", "nl"))
    assert set(supported_languages()) >= {"es", "fr", "de", "it", "pt", "nl"}


@pytest.mark.parametrize(
    ("requested", "page_lang", "expected"),
    [
        ("auto", "fr-FR", "fr"),
        ("auto", "en-GB", "en"),
        ("auto", None, "en"),
        ("auto", "xx", "en"),
        ("es", "fr", "es"),
        ("en", "fr", "en"),
    ],
)
def test_page_language(requested: str, page_lang: str | None, expected: str) -> None:
    assert page_language(requested, page_lang) == expected


def test_translator_batching_does_not_change_output(tiny_marian_dir: Path) -> None:
    texts = [
        "a dog sitting on a table",
        "",
        "a red car parked on the street",
        "two cats sleeping on a bed",
        "a man and a woman standing in a field",
    ]
    big = Translator(str(tiny_marian_dir), device="cpu", batch_size=4)
    one = Translator(str(tiny_marian_dir), device="cpu", batch_size=1)
    together = big.translate(texts, max_new_tokens=8)
    assert together == one.translate(texts, max_new_tokens=8)
    assert together[1] == "" and all(together[i] for i in (0, 2, 3, 4))


def test_auto_translates_from_html_lang_and_reports_both(
    server: FixtureServer, tiny_marian_dir: Path, tmp_path: Path
) -> None:
    server.add("/l/a.png", make_image(300, 200, seed=2), content_type="image/png")
    server.add("/l/fr.html", "<html lang='fr-FR'><img src='a.png'></html>")
    server.add("/l/en.html", "<html lang='en'><img src='a.png'></html>")
    server.add("/l/none.html", "<html><img src='a.png'></html>")
    options = AuditOptions(
        render="never", allow_private=True, lang="auto", translation_models=(("fr", str(tiny_marian_dir)),)
    )
    report = run_audit(
        [server.url("/l/fr.html"), server.url("/l/en.html"), server.url("/l/none.html")], options, FakeCaptioner()
    )
    fr, en, none = (page.images[0] for page in report.pages)
    assert fr.translation_lang == "fr" and fr.caption_translated and fr.caption.startswith("a ")
    assert fr.suggested_alt_translated
    assert en.caption_translated is None and none.caption_translated is None
    data = report.to_dict()
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    assert data["pages"][0]["images"][0]["caption_translated"] == fr.caption_translated
    from reports import render_html

    assert '<div class="translated" lang="fr">' in render_html(report)


def test_fixed_language_with_unloadable_model_fails_before_any_page(tmp_path: Path) -> None:
    from captioning import ModelLoadError

    options = AuditOptions(render="never", lang="es", translation_models=(("es", str(tmp_path / "missing")),))
    with pytest.raises(ModelLoadError, match="--translation-model"):
        run_audit(["http://example.invalid/"], options, FakeCaptioner())


def test_auto_with_unloadable_model_warns_and_continues(server: FixtureServer, tmp_path: Path) -> None:
    server.add("/l/b.png", make_image(300, 200, seed=3), content_type="image/png")
    server.add("/l/de.html", "<html lang='de'><img src='b.png'></html>")
    options = AuditOptions(
        render="never", allow_private=True, lang="auto", translation_models=(("de", str(tmp_path / "none")),)
    )
    report = run_audit([server.url("/l/de.html")], options, FakeCaptioner())
    page = report.pages[0]
    assert page.status == "ok" and page.images[0].status == "captioned"
    assert any("not translated into de" in warning for warning in page.warnings)


def test_cli_lang_flags(server: FixtureServer, tiny_blip_dir: Path, tiny_marian_dir: Path, tmp_path: Path) -> None:
    from test_cli import run_cli, tiny_cli_args

    server.add("/l/c.png", make_image(300, 200, seed=4), content_type="image/png")
    server.add("/l/cli.html", "<html lang='en'><img src='c.png'></html>")
    ok = run_cli(
        server.url("/l/cli.html"),
        *tiny_cli_args(tiny_blip_dir),
        "--lang",
        "es",
        "--translation-model",
        str(tiny_marian_dir),
        "--json",
        "r.json",
        "--csv",
        "r.csv",
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    image = json.loads((tmp_path / "r.json").read_text())["pages"][0]["images"][0]
    assert image["translation_lang"] == "es" and image["caption_translated"]
    assert "caption_translated" in (tmp_path / "r.csv").read_text().splitlines()[0]
    bad = run_cli("https://example.com/", "--lang", "xx", cwd=tmp_path)
    assert bad.returncode == 2 and "supported: en, auto, " in bad.stderr


def test_translation_model_that_cannot_load_names_the_model_and_the_fix(tiny_marian_dir: Path, tmp_path: Path) -> None:
    """Issue 12: a half-downloaded MarianMT said "(expected str, bytes or os.PathLike object, not NoneType)"."""
    import shutil

    from captioning import ModelLoadError
    from captioning.base import download_command
    from captioning.translate import Translator

    partial = tmp_path / "marian-without-vocab"
    partial.mkdir()
    shutil.copy(tiny_marian_dir / "config.json", partial / "config.json")  # no tokenizer files
    with pytest.raises(ModelLoadError) as caught:
        Translator(str(partial), device="cpu").load()
    message = str(caught.value)
    assert message == (
        f"The translation model folder '{partial}' could not be loaded: its files could not be read as a "
        "translation model (TypeError); pass --translation-model LANG=FOLDER naming the folder a model was "
        "saved to, or a hub id."
    )
    model = "Helsinki-NLP/opus-mt-en-xx-missing"
    with pytest.raises(ModelLoadError) as caught:
        Translator(model, device="cpu", lang="xx").load()  # the fix names the language it was loaded for
    message = str(caught.value)
    assert message.startswith(f"The translation model '{model}' could not be loaded from ")
    assert message.endswith(
        f"({download_command(model, './models/marian')}) "
        "and pass --translation-model xx=./models/marian."
    )
    assert "expected str" not in message and "NoneType" not in message and "\n" not in message
