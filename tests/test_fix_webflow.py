"""``--webflow``: the script that sets a Webflow site's alt texts through its Data API, written from a real audit of
pages as Webflow builds them, then run as a user runs it, against a loopback server that answers as Webflow's API
does (assets, CMS collections and items, a rate limit, a refused token)."""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CaptionsByWidth, FixtureServer, make_image
from json_api import JsonApi, run_python

from options import AuditOptions
from pipeline import run_audit
from records import AuditReport
from reports.fixes import held
from reports.formats import FORMATS
from reports.webflow import webflow_file, write_webflow

SITE = "6258612d1ee792848f805dcf"
HERO, TEAM, POST, GALLERY, QUOTE, GERMAN, GHOST, OTHER = (f"{n:024x}" for n in range(0xA1, 0xA9))
HOSTILE = "a sign that says '''\"\"\" \\n $(touch PWNED) --exec=1 café"
CAPTIONS = {
    401: "a loaf of bread on a wooden table",
    402: "three bakers in a kitchen",
    403: "a chocolate cake with candles",
    404: "a basket of croissants",
    405: HOSTILE,
    406: "ein Brot auf einem Tisch",
    407: "a blue door",
    408: "a red logo",
}
IMAGES = {HERO: 401, TEAM: 402, POST: 403, GALLERY: 404, QUOTE: 405, GERMAN: 406, GHOST: 407, OTHER: 408}


def path(file: str, name: str = "photo.jpg") -> str:
    return f"/{SITE}/{file}_{name}"


def serve(server: FixtureServer) -> None:
    head = '<head><meta content="Webflow" name="generator"></head>'
    server.add("/", f"""<html lang="en" data-wf-site="{SITE}">{head}<body>
<img src="{path(HERO)}" srcset="{path(HERO, 'photo-p-500.jpg')} 500w, {path(HERO)} 1200w" sizes="100vw">
<img src="{path(TEAM)}" alt="{TEAM}_photo.jpg">
<img src="{path(QUOTE)}">
<img src="{path(GHOST)}">
<img src="{path(OTHER)}" alt="Our shop's sign, painted by Ana">
</body></html>""")
    server.add("/blog/fresh-bread", f"""<html lang="en-GB">{head}<body>
<img src="{path(POST)}" alt="cover.jpg"><img src="{path(GALLERY)}"><img src="{path(HERO, 'photo-p-500.jpg')}">
</body></html>""")
    server.add("/de/", f'<html lang="de">{head}<body><img src="{path(GERMAN)}"></body></html>')
    for file, width in IMAGES.items():
        server.add(path(file), make_image(width, 300, "JPEG", seed=width), content_type="image/jpeg")
    server.add(path(HERO, "photo-p-500.jpg"), make_image(401, 300, "JPEG", seed=401), content_type="image/jpeg")


class FakeWebflow:
    """Webflow's Data API v2, as far as the script uses it: assets, a site's collections, their items."""

    def __init__(self) -> None:
        self.assets: dict[str, dict[str, Any]] = {
            HERO: {"id": HERO, "altText": None},
            TEAM: {"id": TEAM, "altText": "Founders at the bench"},  # a person changed it since the audit
            QUOTE: {"id": QUOTE, "altText": ""},
            GERMAN: {"id": GERMAN, "altText": None},
        }
        self.items: list[dict[str, Any]] = [
            {"id": "item1", "fieldData": {"name": "Fresh bread", "slug": "fresh-bread",
                                          "cover": {"fileId": POST, "url": "https://x/c.jpg", "alt": None}}},
            {"id": "item2", "fieldData": {"name": "Gallery", "gallery": [
                {"fileId": OTHER, "url": "https://x/o.jpg", "alt": "Kept"},
                {"fileId": GALLERY, "url": "https://x/g.jpg", "alt": ""}]}},
        ]  # fmt: skip
        self.calls: list[tuple[str, str, Any]] = []
        self.limited = {"PATCH /v2/assets/" + HERO}  # answered 429 once
        self.token = "secret"
        self.broken = False  # the CMS's items answer 500
        self.api = JsonApi(self.answer)
        self.url = self.api.base + "/v2"

    def answer(self, method: str, where: str, headers: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        self.calls.append((method, where, body))
        if headers.get("Authorization") != "Bearer " + self.token:
            return 401, {"code": "not_authorized", "message": "Request not authorized"}, {}
        if f"{method} {where}" in self.limited:
            self.limited.discard(f"{method} {where}")
            return 429, {"code": "too_many_requests"}, {"Retry-After": "0"}
        parts = where.split("?")[0].strip("/").split("/")
        if parts[1:2] == ["assets"] and parts[2] in self.assets and method == "PATCH":
            self.assets[parts[2]]["altText"] = body["altText"]
            return 200, self.assets[parts[2]], {}
        if parts[1:] == ["sites", SITE, "assets"]:
            offset = int(where.split("offset=")[1].split("&")[0])  # three a page: the script pages through
            assets = list(self.assets.values()) + [{"id": f"{n:024x}", "altText": None} for n in range(4)]
            return 200, {"assets": assets[offset : offset + 3],
                         "pagination": {"offset": offset, "limit": 3, "total": len(assets)}}, {}  # fmt: skip
        if parts[1:] == ["sites", SITE, "collections"]:
            return 200, {"collections": [{"id": "posts"}]}, {}
        if parts[1:] == ["collections", "posts", "items"] and self.broken:
            return 500, {"code": "internal_error"}, {"Retry-After": "0"}
        if parts[1:] == ["collections", "posts", "items"]:
            offset = int(where.split("offset=")[1].split("&")[0])  # one item a page: the script pages through
            return 200, {"items": self.items[offset : offset + 1],
                         "pagination": {"offset": offset, "limit": 1, "total": len(self.items)}}, {}  # fmt: skip
        if parts[1:4] == ["collections", "posts", "items"] and method == "PATCH":
            item = next(item for item in self.items if item["id"] == parts[4])
            item["fieldData"].update(body["fieldData"])
            return 200, item, {}
        return 404, {"code": "resource_not_found"}, {}


@pytest.fixture()
def api() -> Iterator[FakeWebflow]:
    fake = FakeWebflow()
    yield fake
    fake.api.close()


@pytest.fixture()
def report(fresh_server: FixtureServer) -> AuditReport:
    serve(fresh_server)
    urls = [fresh_server.url(where) for where in ("/", "/blog/fresh-bread", "/de/")]
    return run_audit(urls, AuditOptions(render="never", allow_private=True, ocr="off"), CaptionsByWidth(CAPTIONS))


def run_script(script: Path, api: FakeWebflow, *args: str, token: str = "secret") -> subprocess.CompletedProcess[str]:
    return run_python(script, *args, WEBFLOW_API=api.url, WEBFLOW_TOKEN=token)


def test_the_script_sets_assets_and_cms_items_and_never_a_persons_alt(
    report: AuditReport, api: FakeWebflow, tmp_path: Path
) -> None:
    script = write_webflow(report, tmp_path / "webflow-alt-text.py")
    text = script.read_text()
    ast.parse(text, feature_version=(3, 8))  # the script runs on any Python from 3.8, alone
    assert "from reports" not in text and "def call(" in text
    suggested = {webflow_file(record.url, page)[1]: record.suggested_alt for page in report.pages
                 for record in page.images}  # fmt: skip
    assert f"# held for review (accept it with --decisions): {report.pages[0].url}: " in text  # the sign Ana painted
    assert [record.url for _, record in held(report)] == [report.pages[0].url + path(OTHER)[1:]]
    assert f"# by hand, in its language: {report.pages[2].images[0].url} is shown only on pages in another" in text

    dry = run_script(script, api, "--dry-run")
    assert [call[0] for call in api.calls] == ["GET"] * len(api.calls)  # a dry run changes nothing
    listed = [where.split("?")[0] for _, where, _ in api.calls if "/assets" in where]
    assert listed == [f"/v2/sites/{SITE}/assets"] * 3  # the site's 8 assets, 3 a page: no call an image
    assert f"would set the asset's alt to {suggested[HERO]!r}" in dry.stdout

    done = run_script(script, api)
    lines = {}  # a file -> what the script said of it
    for line in done.stdout.splitlines():
        if line.startswith("http"):
            address, what = line.split(": ", 1)  # an address holds ":" but never ": "
            lines[address.rsplit("/", 1)[1].split("_")[0]] = what
    assert api.assets[HERO]["altText"] == suggested[HERO]  # after a 429, tried again
    assert api.assets[QUOTE]["altText"] == suggested[QUOTE] and "$(touch PWNED)" in suggested[QUOTE]
    assert api.assets[TEAM]["altText"] == "Founders at the bench"  # a person's, since the audit
    assert lines[TEAM] == "left: the asset's alt changed since the audit ('Founders at the bench')"
    assert api.assets[GERMAN]["altText"] is None  # another locale's: by hand
    cover, gallery = api.items[0]["fieldData"], api.items[1]["fieldData"]
    assert cover["cover"] == {"fileId": POST, "url": "https://x/c.jpg", "alt": suggested[POST]}
    assert cover["name"] == "Fresh bread" and gallery["gallery"][0] == {"fileId": OTHER, "url": "https://x/o.jpg",
                                                                        "alt": "Kept"}  # fmt: skip
    assert gallery["gallery"][1]["alt"] == suggested[GALLERY]
    patches = [body for method, _, body in api.calls if method == "PATCH" and "/items/" in _]
    assert patches == [{"fieldData": {"cover": cover["cover"]}}, {"fieldData": {"gallery": gallery["gallery"]}}]
    assert lines[POST] == "set item item1's cover alt" and lines[GALLERY] == "set item item2's gallery alt"
    assert lines[GHOST] == "failed: found nowhere in the site (is the token another site's?)"
    assert done.returncode == 1 and "Publish the site in Webflow" in done.stdout

    calls = len(api.calls)
    again = run_script(script, api)  # a second run finds every alt set, and changes nothing
    assert [method for method, _, _ in api.calls[calls:]] == ["GET"] * (len(api.calls) - calls)
    assert "item item1's cover alt was already this" in again.stdout
    assert "the asset's alt was already this" in again.stdout


def test_a_missing_or_refused_token_is_one_sentence(report: AuditReport, api: FakeWebflow, tmp_path: Path) -> None:
    script = write_webflow(report, tmp_path / "w.py")
    missing = run_script(script, api, token="")
    assert missing.returncode == 2 and missing.stderr.startswith("Set WEBFLOW_TOKEN to a token of this Webflow site")
    refused = run_script(script, api, token="wrong")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == ["Webflow refused the token (HTTP 401): set WEBFLOW_TOKEN to a "
                                                   "token of this site with read and write access to Assets and CMS"]
    assert all(method == "GET" for method, _, _ in api.calls)


def test_which_addresses_are_webflows_and_a_site_elsewhere_gets_one_sentence() -> None:
    assert webflow_file(f"https://cdn.prod.website-files.com/{SITE}/{HERO}_a%20b-p-800.jpeg") == (SITE, HERO)
    assert webflow_file(f"https://uploads-ssl.webflow.com/{SITE}/{HERO}_a.png") == (SITE, HERO)
    assert webflow_file(f"https://s3.amazonaws.com/webflow-prod-assets/{SITE}/{HERO}_a.svg") == (SITE, HERO)
    assert webflow_file(f"https://example.com/{SITE}/{HERO}_a.png") is None  # no sign of Webflow
    assert webflow_file(f"https://cdn.prod.website-files.com/{SITE}/logo.png") is None
    empty = AuditReport(pages=[])
    assert FORMATS["webflow"].nothing_for(empty) == (
        "no audited image is a Webflow site's (an address on Webflow's CDN: cdn.prod.website-files.com/SITE/FILE_…)"
    )


def test_the_cli_counts_the_held_suggestions(report: AuditReport, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from cli_notices import held_notice

    held_notice(report, argparse.Namespace(fix_patch=None, webflow="webflow-alt-text.py", quiet=False))
    assert capsys.readouterr().err == ("altscout: 1 suggestion(s) would replace alt text a person wrote; the exports "
                                       "carry them once a review accepts them (--decisions)\n")  # fmt: skip
    held_notice(report, argparse.Namespace(fix_patch=None, quiet=False))  # no export asked for: nothing to say
    assert capsys.readouterr().err == ""


def test_a_cms_that_cannot_be_read_is_said_for_the_images_not_found(
    report: AuditReport, api: FakeWebflow, tmp_path: Path
) -> None:
    api.broken = True
    done = run_script(write_webflow(report, tmp_path / "w.py"), api)
    lines = [line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith("http")]
    assert lines.count("failed: HTTP 500 reading the site's CMS items") == 3  # the post's, the gallery's, the ghost
    assert "set the asset's alt" in lines and done.returncode == 1


def test_the_cli_says_how_to_run_the_script_it_wrote(
    fresh_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import cli

    serve(fresh_server)
    script = tmp_path / "my alt texts.py"
    args = [fresh_server.url("/"), "--allow-private", "--render", "never", "--ocr", "off", "--model", "fake",
            "--webflow", str(script), "--wp-cli", str(tmp_path / "wp.sh"), "--out", str(tmp_path / "c.txt")]
    assert cli.main(args) == 0
    said = capsys.readouterr().err.splitlines()
    assert f"altscout: --webflow: next, WEBFLOW_TOKEN=… python3 '{script}' --dry-run" in said
    assert not [line for line in said if line.startswith("altscout: --wp-cli: next")]  # no WordPress here
    assert "IMAGES: list[dict[str, Any]] = [\n    {'site': " in script.read_text()
    assert cli.main([*args, "--quiet"]) == 0 and "next," not in capsys.readouterr().err
