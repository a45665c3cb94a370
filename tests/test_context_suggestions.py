"""Suggestions in the page's own words (issue 28): the product a JSON-LD names, the og:title of
the social image, and keywords used once, only where the image or its context supports them."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from conftest import CaptionsByWidth, FixtureServer, make_image

from options import AuditOptions
from pipeline import run_audit
from records import AuditReport
from scraper.context import page_context
from scraper.discover import parse_page

CAPTIONS = {  # by image width: what the model "sees"
    301: "a pair of brown leather shoes on a wooden table",
    302: "a brown leather shoe seen from the side",
    303: "a close up of stitching on brown leather",
    304: "a man cutting leather at a workbench",
    305: "a pair of black boots on a white background",
    306: "a pair of brown leather shoes on a white background",
    307: "a white logo on a black background",
}


def product_page(host: str) -> str:
    data = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "BreadcrumbList", "name": "Shoes"},
            {"@type": "Product", "name": "Oxford Brogue", "sku": "OB-1",
             "image": ["/img/brogue-1.jpg", {"@type": "ImageObject", "url": f"{host}/img/brogue-2.jpg"},
                       "/img/brogue-3.jpg"]},
        ],
    }  # fmt: skip
    return f"""<!doctype html><html lang="en"><head><title>Oxford Brogue | Shoe Shop</title>
<meta property="og:title" content="Oxford Brogue in tan leather">
<meta property="og:image" content="{host}/img/social.jpg">
<script type="application/ld+json">{json.dumps(data)}</script>
<script type="application/ld+json">{{ not json </script>
</head><body>
<header><a href="/"><img src="/img/logo.png" alt="Shoe Shop"></a></header>
<main><h1>Oxford Brogue</h1>
<img src="/img/brogue-1.jpg"><img src="/img/brogue-2.jpg" alt=""><img src="/img/brogue-3.jpg" alt="...">
<figure><img src="/img/workshop.jpg"><figcaption>Handmade in our workshop</figcaption></figure>
<h2>You may also like</h2><a href="/products/derby-boot"><img src="/img/derby.jpg"></a>
</main></body></html>"""


@pytest.fixture()
def shop(fresh_server: FixtureServer) -> FixtureServer:
    host = fresh_server.url("").rstrip("/")
    fresh_server.add("/products/oxford-brogue", product_page(host))
    names = ["brogue-1.jpg", "brogue-2.jpg", "brogue-3.jpg", "workshop.jpg", "derby.jpg", "social.jpg", "logo.png"]
    for width, name in zip(range(301, 308), names, strict=True):
        fresh_server.add(f"/img/{name}", make_image(width, 200, "JPEG", seed=width), content_type="image/jpeg")
    return fresh_server


def audit(shop: FixtureServer, **extra: object) -> dict[str, Any]:
    options = AuditOptions(render="never", allow_private=True, ocr="off", **extra)  # type: ignore[arg-type]
    report: AuditReport = run_audit([shop.url("/products/oxford-brogue")], options, CaptionsByWidth(CAPTIONS))
    return {record.source.rsplit("/", 1)[-1]: record for record in report.pages[0].images}


def test_the_page_context_reads_json_ld_and_the_social_title(shop: FixtureServer) -> None:
    host = shop.url("").rstrip("/")
    parsed = parse_page(product_page(host).encode(), f"{host}/products/oxford-brogue")
    context = page_context(parsed.soup, parsed.base_url)
    assert context.subjects == {f"{host}/img/brogue-{i}.jpg": "Oxford Brogue" for i in (1, 2, 3)}
    assert context.main_subject is None  # the item names its images: others on the page are not the product
    assert context.page_subject() == "Oxford Brogue" and context.social_title == "Oxford Brogue in tan leather"
    assert context.h1 == "Oxford Brogue"


def test_product_photos_name_the_product_and_the_social_image_its_title(shop: FixtureServer) -> None:
    images = audit(shop)
    brogue = images["brogue-1.jpg"]
    assert brogue.suggested_alt == "Oxford Brogue: a pair of brown leather shoes on a wooden table"
    assert brogue.suggestion_basis == "jsonld+caption" and brogue.subject == "Oxford Brogue"
    assert images["brogue-3.jpg"].suggested_alt == "Oxford Brogue: a close up of stitching on brown leather"
    social = images["social.jpg"]
    assert social.suggested_alt == "Oxford Brogue in tan leather: a pair of brown leather shoes on a white background"
    assert social.suggestion_basis == "og_title+caption"
    workshop = images["workshop.jpg"]  # not one of the product's images: its heading is context only
    assert workshop.heading == "Oxford Brogue" and workshop.subject is None
    assert workshop.suggested_alt == "A man cutting leather at a workbench"
    derby = images["derby.jpg"]  # a linked image names its target, not the product of this page
    assert derby.suggested_alt.endswith("(link to the derby boot page)") and "Oxford" not in derby.suggested_alt
    assert images["logo.png"].subject is None  # the header's logo is not the product


def test_keywords_are_used_once_and_only_where_supported(shop: FixtureServer) -> None:
    images = audit(shop, keywords=("leather shoes", "handmade", "espresso", "workbench"))
    suggestions = {name: record.suggested_alt or "" for name, record in images.items()}
    for text in suggestions.values():
        for keyword in ("leather shoes", "handmade", "espresso", "workbench"):
            assert text.lower().count(keyword) <= 1, text  # never twice
        assert "espresso" not in text.lower()  # nothing on the page supports it
    assert suggestions["workshop.jpg"].lower().count("workbench") == 1  # the caption says it
    assert suggestions["workshop.jpg"] == "A man cutting leather at a workbench, handmade"  # its figcaption says so
    assert "handmade" not in suggestions["derby.jpg"].lower()  # nothing about this image does
    plain = audit(shop)
    assert plain["brogue-2.jpg"].suggested_alt == images["brogue-2.jpg"].suggested_alt  # already says "leather shoe"


def test_keywords_come_from_the_cli_the_api_and_the_form() -> None:
    from options.table import TABLE, apply
    from service.form import PAGE, job_request

    assert {"cli", "api", "form"} <= set(TABLE["keywords"].fronts)
    request = job_request("https://example.com/", PAGE, None, {"keywords": " espresso, burr grinder "})
    assert request.options.keywords == "espresso, burr grinder"
    assert dataclasses.replace(AuditOptions(), keywords=(" espresso ", "", "Burr  grinder")).keywords == (
        "espresso", "burr grinder")
    assert apply({"keywords": "Espresso, burr grinder,,"}, "api").keywords == ("espresso", "burr grinder")


def test_the_subject_stays_as_written_in_a_translation(shop: FixtureServer, tiny_marian_dir) -> None:
    images = audit(shop, lang="fr", translation_models=(("fr", str(tiny_marian_dir)),))
    brogue = images["brogue-1.jpg"]
    assert brogue.translation_lang == "fr" and brogue.suggested_alt_translated is not None
    assert brogue.suggested_alt_translated.startswith("Oxford Brogue: ")  # a product's name is not translated
    assert images["social.jpg"].suggested_alt_translated.startswith("Oxford Brogue in tan leather: ")
