"""A linked logo or icon too small to caption (or an SVG) gets a name from where its link goes, the site's
own name included, in both reading modes, and the fix patch applies it."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import CaptionsByWidth, FixtureServer, make_image
from PIL import Image

from auditing.link_names import link_name, link_purpose
from options import AuditOptions
from pipeline import run_audit
from records import LINK_TARGET, AuditReport, ImageRecord
from reports.patch import write_fix_patch
from scraper.context import site_name

PAGE = "https://www.acme-bakery.example/shop/cakes.html"


@pytest.mark.parametrize(
    ("href", "with_site", "without_site"),
    [
        ("/", "Acme Bakery home page", "Home page"),
        ("https://acme-bakery.example/index.html", "Acme Bakery home page", "Home page"),  # www. or not
        ("/en/", "Acme Bakery home page", "Home page"),  # a language's home page
        ("/?utm_source=logo", "Acme Bakery home page", "Home page"),
        ("index.html", "Shop", "Shop"),  # relative: /shop/index.html
        ("/about-us/", "About us", "About us"),
        ("/products/chocolate_cake.html", "Chocolate cake", "Chocolate cake"),
        ("/files/Winter-Menu.pdf", "Winter Menu (PDF)", "Winter Menu (PDF)"),
        ("https://m.facebook.com/acme", "Acme Bakery on Facebook", "Facebook"),
        ("https://www.instagram.com/acme/", "Acme Bakery on Instagram", "Instagram"),
        ("https://apps.apple.com/app/id1", "Download on the App Store", "Download on the App Store"),
        ("mailto:hello@acme.example?subject=Cake", "Email hello@acme.example", "Email hello@acme.example"),
        ("tel:+44%2020%207946%200000", "Call +44 20 7946 0000", "Call +44 20 7946 0000"),
        ("https://partner.example/deals", "partner.example", "partner.example"),
        ("#top", None, None),  # a place on this page: only a person knows what it does
        ("javascript:void(0)", None, None),
        ("/p/12345", None, None),  # an id, no words
        ("/?page_id=2", None, None),  # a page the address does not name
        ("", None, None),
        ("http://[::1", None, None),  # no address at all
        ("https://exa mple.com/", None, None),
        ("http://example.com:99999/", None, None),
        ("/uploads/beach-hut-1024x768.jpg", "Beach hut (full-size image)", "Beach hut (full-size image)"),
        ("https://cdn.example/p/dunes-scaled.webp", "Dunes (full-size image)", "Dunes (full-size image)"),  # its CDN
        ("/uploads/IMG_2031.JPG", None, None),  # a camera's name says nothing
    ],
)
def test_a_link_is_named_by_where_it_goes(href: str, with_site: str | None, without_site: str | None) -> None:
    assert link_name(href, PAGE, "Acme Bakery") == with_site
    assert link_name(href, PAGE, None) == without_site


@pytest.mark.parametrize(
    ("href", "purpose"),
    [
        ("/products/red-shoes", "link to the red shoes page"),
        ("/", "link to the home page"),
        ("/SEO-guide/", "link to the SEO guide page"),  # an acronym keeps its capitals
        ("/files/Winter-Menu.pdf", "link to the Winter Menu PDF file"),  # capitals as written
        ("https://www.instagram.com/acme/", "link to Instagram"),
        ("https://play.google.com/store/apps/details?id=x", "link to Google Play"),
        ("https://partner.example/deals", "link to partner.example"),
        ("mailto:hello@acme.example", "email hello@acme.example"),
        ("tel:+44%2020%207946%200000", "call +44 20 7946 0000"),
        ("/uploads/beach-1024x768.jpg", "opens the full-size image"),  # a gallery's thumbnail
        ("https://cdn.example/IMG_2031.JPG", "opens the full-size image"),
        ("/p/12345", None),  # an id: "the 12345 page" would say nothing
        ("/?page_id=2", None),
        ("#top", None),
        ("javascript:void(0)", None),
    ],
)
def test_a_captioned_image_says_what_its_link_does(href: str, purpose: str | None) -> None:
    assert link_purpose(href, PAGE) == purpose


def test_links_resolve_against_the_pages_base() -> None:
    """A page with ``<base href="/">`` (an Angular app, a shop theme): "./" is the home page, not /shop/."""
    base = "https://www.acme-bakery.example/"
    assert link_name("./", PAGE, "Acme Bakery") == "Shop"
    assert link_name("./", PAGE, "Acme Bakery", base) == "Acme Bakery home page"
    assert link_purpose("./", PAGE, base) == "link to the home page"
    assert link_name("contact", PAGE, None, "https://cdn.example/static/") == "cdn.example"  # judged by the page's host


@pytest.mark.parametrize(
    ("head", "url", "expected"),
    [
        ('<meta property="og:site_name" content=" Acme   Bakery ">', PAGE, "Acme Bakery"),
        ('<meta name="application-name" content="Acme">', PAGE, "Acme"),
        (
            '<script type="application/ld+json">{"@graph": [{"@type": "WebPage", "isPartOf": {"@type": "WebSite", '
            '"name": "Acme Bakery"}}]}</script>',
            PAGE,
            "Acme Bakery",
        ),
        (
            '<script type="application/ld+json">{"@type": "Bakery", "name": "Not a type we read"}</script>'
            '<script type="application/ld+json">{"@type": "LocalBusiness", "name": "Acme Ltd", '
            '"url": "https://acme-bakery.example/"}</script>',
            PAGE,
            "Acme Ltd",
        ),
        (
            '<script type="application/ld+json">{"@type": "Organization", "name": "Their Supplier", '
            '"url": "https://supplier.example/"}</script>',
            PAGE,
            None,
        ),  # another host's organisation
        ("<title>Chocolate cake | Acme Bakery</title>", PAGE, "Acme Bakery"),  # the part that spells the host
        ("<title>Chocolate cake - Fresh daily</title>", PAGE, None),
        ("<title>Acme Bakery</title>", "http://127.0.0.1:8000/", None),
        ("<title>About | Crumb & Co</title>", "https://crumbandco.example/about", "Crumb & Co"),  # & is "and"
        ("<title>Contact - Smith Dental Care</title>", "https://smithdental.example/", "Smith Dental Care"),
        ("<title>Home – ACME Ltd</title>", "https://www.acme.example/", "ACME Ltd"),  # the last part starts with it
        ("<title>Pizza Menu | Best Pizza in Town</title>", "https://pizza.example/", None),  # only the last part
        ("<title>Smith Dental Care</title>", "https://smithdental.example/", None),  # one part: the page's own
        (
            '<script type="application/ld+json">{"@type": "Organization", "name": "X", "url": "http://[broken"}</script>',
            PAGE,
            None,
        ),
    ],
)
def test_the_site_name_is_what_the_site_states(head: str, url: str, expected: str | None) -> None:
    assert site_name(BeautifulSoup(f"<html><head>{head}</head><body></body></html>", "lxml"), url) == expected


LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60"><rect width="200" height="60" fill="#c33"/></svg>'
)
HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Contact</title>
<meta property="og:site_name" content="Acme Bakery"></head><body>
<header><a href="/"><img src="/logo.svg"></a></header>
<main><h1>Contact</h1><a href="/cakes/"><img src="/cake.jpg"></a></main>
<footer>
<a href="https://www.instagram.com/acmebakery"><svg width="24" height="24"><circle cx="12" cy="12" r="10"/></svg></a>
<a href="https://facebook.com/acmebakery"><img src="/fb.png" width="24" height="24" alt=""></a>
<a href="mailto:hello@acme.example"><img src="/mail.png" width="24" height="24"></a>
<a href="#top"><img src="/up.png" width="24" height="24"></a>
<a href="/contact-us"><img src="/contact.png" width="24" height="24" alt="Contact us"></a>
<a href="/cakes/"><img src="/arrow.png" width="24" height="24"></a> <a href="/breads/"><img src="/arrow.png"></a>
<a href="/"><img src="/logo.svg" width="100" height="30"></a>
</footer></body></html>
"""


def _serve(server: FixtureServer, page: str) -> None:
    server.add("/", page)
    server.add("/logo.svg", LOGO, content_type="image/svg+xml")
    server.add("/cake.jpg", make_image(501, 300, "JPEG", seed=3), content_type="image/jpeg")
    for name in ("fb", "mail", "up", "contact", "arrow"):
        server.add(f"/{name}.png", make_image(24, 24, seed=len(name)), content_type="image/png")


def _by_name(report: AuditReport) -> dict[str, ImageRecord]:
    return {record.source.rsplit("/", 1)[-1]: record for record in report.pages[0].images}


def _suggestions(records: dict[str, ImageRecord]) -> dict[str, tuple[str | None, str | None, str | None]]:
    return {name: (r.suggested_alt, r.suggestion_basis, r.suggestion_for) for name, r in records.items()}


EXPECTED = {
    "logo.svg": ("Acme Bakery home page", LINK_TARGET, "alt"),
    "fb.png": ("Acme Bakery on Facebook", LINK_TARGET, "alt"),  # alt="" left the link without a name
    "mail.png": ("Email hello@acme.example", LINK_TARGET, "alt"),
    "up.png": (None, None, None),  # "#top": no guess
    "arrow.png": (None, None, None),  # one icon in two links that go to two places: no one text fits both
    "contact.png": (None, None, None),  # a person's alt that passed
    "cake.jpg": ("A pair of brown leather shoes (link to the cakes page)", "caption", "alt"),  # captioned: as before
}


def test_a_linked_logo_and_icons_get_names_and_the_patch_applies_them(
    fresh_server: FixtureServer, tmp_path: Path
) -> None:
    _serve(fresh_server, HOME)
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    report = run_audit([fresh_server.url("/")], options, CaptionsByWidth({501: "a pair of brown leather shoes"}))
    assert report.pages[0].site_name == "Acme Bakery"
    records = _by_name(report)
    assert records["logo.svg"].status == "skipped" and records["fb.png"].reason == "too_small"
    assert {name: _suggestions(records)[name] for name in EXPECTED} == EXPECTED
    svg = next(r for r in report.pages[0].images if "element" in r.found_in)  # the inline Instagram icon
    assert svg.alt_issues == ["linked_image_no_text"]  # no role: no image rule covers it, but the link has no name
    assert (svg.suggested_alt, svg.suggestion_for) == ("Acme Bakery on Instagram", "aria-label")
    assert records["logo.svg"].occurrences == 2  # the header's and the footer's: both links go home
    from reports import render_html

    row = next(tr for tr in BeautifulSoup(render_html(report), "lxml").select("tr.image-row") if "logo.svg" in tr.text)
    assert "Acme Bakery home page" in row.text and "named by where its link goes" in row.text  # the reviewer sees why

    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text(HOME, encoding="utf-8")
    result = write_fix_patch(report, folder, tmp_path / "alt.patch")
    subprocess.run(["git", "apply", str(tmp_path / "alt.patch")], cwd=folder, check=True, capture_output=True)
    patched = (folder / "index.html").read_text(encoding="utf-8")
    assert '<a href="/"><img alt="Acme Bakery home page" src="/logo.svg"></a>' in patched
    assert '<img alt="Acme Bakery home page" src="/logo.svg" width="100" height="30">' in patched
    assert '<img src="/fb.png" width="24" height="24" alt="Acme Bakery on Facebook">' in patched
    assert '<img alt="Email hello@acme.example" src="/mail.png"' in patched
    assert '<a href="#top"><img src="/up.png" width="24" height="24"></a>' in patched
    assert 'alt="Contact us"' in patched  # left as they were, and the arrows too:
    assert '<a href="/cakes/"><img src="/arrow.png" width="24" height="24"></a>' in patched
    assert '<a href="/breads/"><img src="/arrow.png"></a>' in patched
    assert any("Acme Bakery on Instagram" in line and 'role="img"' in line for line in result.by_hand)

    fresh_server.add("/", patched)
    again = _by_name(run_audit([fresh_server.url("/")], options, CaptionsByWidth({501: "a pair of shoes"})))
    for name in ("logo.svg", "fb.png", "mail.png"):
        assert "linked_image_no_text" not in again[name].alt_issues, name
    assert "linked_image_no_text" in again["up.png"].alt_issues


def test_the_browser_names_the_same_links(fresh_server: FixtureServer, chromium: str) -> None:
    """Rendered, the logo is judged by the size it is shown at (never fetched): the same names."""
    _serve(fresh_server, HOME)
    options = AuditOptions(render="always", browser_path=chromium, allow_private=True, ocr="off")
    report = run_audit([fresh_server.url("/")], options, CaptionsByWidth({501: "a pair of brown leather shoes"}))
    assert report.pages[0].rendered and report.pages[0].site_name == "Acme Bakery"
    suggestions = _suggestions(_by_name(report))
    assert {name: suggestions[name] for name in EXPECTED} == EXPECTED
    svg = next(r for r in report.pages[0].images if "element" in r.found_in)
    assert (svg.suggested_alt, svg.suggestion_for) == ("Acme Bakery on Instagram", "aria-label")


GALLERY = """<!doctype html><html lang="en"><head><title>Beach day - Sandy Notes</title><base href="/">
<meta property="og:site_name" content="Sandy Notes"></head><body>
<header><a href="./"><img src="uploads/logo.png" width="40" height="40"></a></header>
<figure><a href="uploads/beach-hut-1024x768.jpg"><img src="uploads/beach-hut-300x225.jpg" alt=""></a></figure>
<figure><a href="uploads/IMG_2031.jpg"><img src="uploads/IMG_2031-60x45.jpg"></a></figure>
<a href="blog/dunes-walk/"><img src="uploads/dunes-300x200.jpg" alt=""></a>
</body></html>"""


def test_a_gallery_thumbnail_opens_its_full_size_image(fresh_server: FixtureServer) -> None:
    """A WordPress gallery links each thumbnail to its full-size file: the suggestion describes the photo
    and says the link opens it (not "link to the beach hut 1024x768 page"); a thumbnail too small to caption
    is named by a descriptive file name only; links resolve against ``<base href>``."""
    fresh_server.add("/blog/beach-day/", GALLERY)
    fresh_server.add("/uploads/logo.png", make_image(40, 40, seed=1), content_type="image/png")
    for name, width, height in (
        ("beach-hut-300x225", 300, 225),
        ("IMG_2031-60x45", 60, 45),
        ("dunes-300x200", 301, 200),
    ):
        fresh_server.add(
            f"/uploads/{name}.jpg", make_image(width, height, "JPEG", seed=width), content_type="image/jpeg"
        )
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    captions = CaptionsByWidth({300: "a wooden hut on a sandy beach", 301: "a path through sand dunes"})
    report = run_audit([fresh_server.url("/blog/beach-day/")], options, captions)
    page = report.pages[0]
    assert page.base_url == fresh_server.url("/")
    records = _by_name(report)
    assert records["beach-hut-300x225.jpg"].suggested_alt == "A wooden hut on a sandy beach (opens the full-size image)"
    assert records["dunes-300x200.jpg"].suggested_alt == "A path through sand dunes (link to the dunes walk page)"
    assert records["logo.png"].suggested_alt == "Sandy Notes home page"  # "./" under the base, not /blog/beach-day/
    assert records["IMG_2031-60x45.jpg"].reason == "too_small"
    assert records["IMG_2031-60x45.jpg"].suggested_alt is None  # "IMG 2031 (full-size image)" would say nothing
    assert "linked_image_no_text" in records["IMG_2031-60x45.jpg"].alt_issues


STORY = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Our story</title></head><body>
<header><a href="/"><img src="/logo.svg"></a></header><h1>Our story</h1>
<a href="https://facebook.com/acmebakery"><img src="/fb.png" width="24" height="24" alt=""></a></body></html>"""


def test_a_page_that_states_no_site_name_names_the_logo_as_its_site_does(
    fresh_server: FixtureServer, tmp_path: Path
) -> None:
    """/story's title leaves the name out and it has no og:site_name; its linked logo and icon still get the
    name the home page states, so the patch sets one text for the one logo in both files. A page of another
    host that states nothing keeps "Home page"."""
    _serve(fresh_server, HOME)
    fresh_server.add("/story/", STORY)
    other = fresh_server.url("/story/").replace("127.0.0.1", "localhost")  # another host, the same server
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    urls = [fresh_server.url("/"), fresh_server.url("/story/"), other]
    report = run_audit(urls, options, CaptionsByWidth({501: "a pair of brown leather shoes"}))
    home, story, elsewhere = report.pages
    assert home.site_name == "Acme Bakery" and story.site_name is None  # what each page states
    assert _suggestions({r.source.rsplit("/", 1)[-1]: r for r in story.images}) == {
        "logo.svg": ("Acme Bakery home page", LINK_TARGET, "alt"),
        "fb.png": ("Acme Bakery on Facebook", LINK_TARGET, "alt"),
    }
    assert [r.suggested_alt for r in elsewhere.images] == ["Home page", "Facebook"]

    folder = tmp_path / "site"
    (folder / "story").mkdir(parents=True)
    (folder / "index.html").write_text(HOME, encoding="utf-8")
    (folder / "story" / "index.html").write_text(STORY, encoding="utf-8")
    write_fix_patch(AuditReport(pages=[home, story]), folder, tmp_path / "alt.patch")
    subprocess.run(["git", "apply", str(tmp_path / "alt.patch")], cwd=folder, check=True, capture_output=True)
    for path in ("index.html", "story/index.html"):
        assert '<a href="/"><img alt="Acme Bakery home page" src="/logo.svg"></a>' in (folder / path).read_text()


def test_a_logo_too_small_to_caption_still_has_a_thumbnail_for_the_review(fresh_server: FixtureServer) -> None:
    """Read without a browser, a linked logo with no declared size is downloaded, found too small and named by
    its link; the report's thumbnail shows the reviewer the logo the name is for (it was an empty cell)."""
    fresh_server.add("/", "<html><head><meta property='og:site_name' content='Acme Bakery'></head><body>"
                          "<a href='/'><img src='/mark.png'></a></body></html>")  # fmt: skip
    fresh_server.add("/mark.png", make_image(40, 20, seed=7), content_type="image/png")
    options = AuditOptions(render="never", allow_private=True, ocr="off", thumbnail_size=96)
    (record,) = run_audit([fresh_server.url("/")], options, CaptionsByWidth({})).pages[0].images
    assert (record.status, record.reason, record.width, record.height) == ("skipped", "too_small", 40, 20)
    assert record.suggested_alt == "Acme Bakery home page" and record.thumbnail is not None
    with Image.open(io.BytesIO(record.thumbnail)) as thumbnail:
        assert thumbnail.format == "JPEG" and thumbnail.size == (40, 20)  # never enlarged
