"""``--shopify-files``: the script that sets a Shopify store's file alts through its Admin API, written from a real
audit of pages as a Shopify theme draws them, then run as a user runs it, against a loopback server that answers
as Shopify's GraphQL Admin API does (a fuzzy filename search, fileUpdate, a throttle, a refused token)."""

from __future__ import annotations

import ast
import re
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
from reports.formats import FORMATS
from reports.shopify_files import shopify_file, write_shopify_files

HOSTILE = 'a sign that says "open" \\ $(touch PWNED) ë'
CAPTIONS = {401: "a loaf of bread on a wooden table", 402: "three bakers in a kitchen", 403: "a brown leather boot",
            404: HOSTILE, 405: "a blue door", 406: "a basket of croissants", 407: "a red chair",
            408: "a chalkboard menu"}  # fmt: skip
PAGE = """<html lang="en"><body>
<img src="/cdn/shop/files/hero_600x.jpg?v=17&amp;width=600" srcset="/cdn/shop/files/hero.jpg?v=17&amp;width=1200 2x">
<img src="/cdn/shop/files/team.jpg?v=3" alt="team.jpg">
<img src="/cdn/shop/products/boot_grande.jpg?v=9">
<img src="/cdn/shop/files/sign.png?v=1">
<img src="/cdn/shop/files/ghost.jpg?v=1">
<img src="/cdn/shop/files/dup.jpg?v=1">
<img src="/cdn/shop/articles/post.jpg?v=2">
<img src="/cdn/shop/files/menu.jpg?v=5">
</body></html>"""
WIDTHS = {"files/hero.jpg": 401, "files/team.jpg": 402, "products/boot.jpg": 403, "files/sign.png": 404,
          "files/ghost.jpg": 405, "files/dup.jpg": 406, "articles/post.jpg": 407, "files/menu.jpg": 408}  # fmt: skip


class FakeShopify:
    """Shopify's GraphQL Admin API, as far as the script uses it: ``files`` (its filename search matches more than
    the exact name) and ``fileUpdate``."""

    def __init__(self) -> None:
        cdn = "https://cdn.shopify.com/s/files/1/0601/2345/6789"
        self.files: dict[str, dict[str, Any]] = {
            "gid://shopify/MediaImage/1": {"alt": None, "url": f"{cdn}/files/hero.jpg?v=17"},
            "gid://shopify/MediaImage/2": {"alt": "", "url": f"{cdn}/files/hero-2.jpg?v=1"},  # found, not it
            "gid://shopify/MediaImage/3": {"alt": "Founders at the bench", "url": f"{cdn}/files/team.jpg?v=3"},
            "gid://shopify/MediaImage/4": {"alt": "", "url": f"{cdn}/products/boot.jpg?v=9"},
            "gid://shopify/MediaImage/5": {"alt": None, "url": f"{cdn}/files/sign.png?v=1"},
            "gid://shopify/MediaImage/6": {"alt": None, "url": f"{cdn}/files/dup.jpg?v=1"},
            "gid://shopify/MediaImage/7": {"alt": None, "url": f"{cdn}/files/old/dup.jpg?v=1"},
            "gid://shopify/MediaImage/8": {"alt": None, "url": f"{cdn}/files/menu.jpg?v=5", "processing": True},
        }
        self.calls: list[dict[str, Any]] = []
        self.throttle = 1  # the first fileUpdate is throttled
        self.token = "shpat_secret"
        self.api = JsonApi(self.answer)
        self.url = self.api.base + "/admin/api/2026-10/graphql.json"

    def answer(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        status, data = self._graphql(path, headers.get("X-Shopify-Access-Token"), body)
        return status, data, {}

    def _graphql(self, path: str, token: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        if not path.startswith("/admin/api/"):
            return 404, {"errors": "Not Found"}
        if token != self.token:
            return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
        self.calls.append(body)
        if "AltScoutFind" in body["query"]:
            stems = [name.rsplit(".", 1)[0] for name in re.findall(r'filename:"((?:[^"\\]|\\.)*)"',
                                                                     body["variables"]["query"])]  # fmt: skip
            nodes = [{"id": gid, "alt": file["alt"], "fileStatus": "READY", "image": {"url": file["url"]}}
                     for gid, file in self.files.items()
                     if any(f"/{stem}" in file["url"] for stem in stems)]  # near names too, as Shopify's search
            return 200, {"data": {"files": {"nodes": nodes}}}
        if self.throttle:
            self.throttle -= 1
            return 200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
        updated, errors = [], []
        for index, change in enumerate(body["variables"]["files"]):
            if self.files[change["id"]].get("processing"):
                errors.append({"field": ["files", str(index), "id"], "message": "Non-ready files cannot be updated.",
                               "code": "NON_READY_STATE"})  # fmt: skip
                continue
            self.files[change["id"]]["alt"] = change["alt"]
            updated.append({"id": change["id"], "alt": change["alt"]})
        return 200, {"data": {"fileUpdate": {"files": updated, "userErrors": errors}}}


@pytest.fixture()
def api() -> Iterator[FakeShopify]:
    fake = FakeShopify()
    yield fake
    fake.api.close()


@pytest.fixture()
def report(fresh_server: FixtureServer) -> AuditReport:
    fresh_server.add("/", PAGE)
    for name, width in WIDTHS.items():
        stem, extension = name.rsplit(".", 1)
        for variant in (name, f"{stem}_600x.{extension}", f"{stem}_grande.{extension}"):
            fresh_server.add(f"/cdn/shop/{variant}", make_image(width, 300, "JPEG", seed=width),
                             content_type="image/jpeg")  # fmt: skip
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    return run_audit([fresh_server.url("/")], options, CaptionsByWidth(CAPTIONS))


def run_script(script: Path, api: FakeShopify, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_python(script, *args, **{"SHOPIFY_API": api.url, "SHOPIFY_TOKEN": api.token, **env})


def said(output: str) -> dict[str, str]:
    """What the script said of each image, by its file name."""
    lines = {}
    for line in output.splitlines():
        if line.startswith("http"):
            address, what = line.split(": ", 1)
            lines[address.rsplit("/", 1)[1].split("?")[0]] = what
    return lines


def test_the_script_sets_each_files_alt_by_its_name_and_never_a_persons(
    report: AuditReport, api: FakeShopify, tmp_path: Path
) -> None:
    script = write_shopify_files(report, tmp_path / "shopify-alt-text.py")
    text = script.read_text()
    ast.parse(text, feature_version=(3, 8))
    assert "from reports" not in text
    suggested = {shopify_file(record.url)[1]: record.suggested_alt for record in report.pages[0].images}
    assert f"is a blog post's featured image: set its alt in Content → Blog posts → the post, to " \
           f"{suggested['post.jpg']!r}" in text  # fmt: skip

    dry = run_script(script, api, "--dry-run")
    assert all("AltScoutFind" in call["query"] for call in api.calls) and dry.returncode == 1
    assert said(dry.stdout)["hero.jpg"] == f"would set the file's alt to {suggested['hero.jpg']!r}"

    done = run_script(script, api)
    lines = said(done.stdout)
    assert api.files["gid://shopify/MediaImage/1"]["alt"] == suggested["hero.jpg"] and api.throttle == 0  # waited
    assert api.files["gid://shopify/MediaImage/2"]["alt"] == ""  # hero-2.jpg: the search found it; not its name
    assert api.files["gid://shopify/MediaImage/4"]["alt"] == suggested["boot.jpg"]  # product media
    assert api.files["gid://shopify/MediaImage/5"]["alt"] == HOSTILE[0].upper() + HOSTILE[1:] == suggested["sign.png"]
    assert api.files["gid://shopify/MediaImage/3"]["alt"] == "Founders at the bench"
    assert lines["team.jpg"] == "left: the file's alt changed since the audit ('Founders at the bench')"
    assert lines["dup.jpg"] == "failed: 2 files of the store are named dup.jpg; set its alt in Content → Files"
    assert lines["ghost.jpg"] == "failed: no file of the store is named ghost.jpg"
    assert lines["menu.jpg"] == "failed: Non-ready files cannot be updated."  # the others of its update are set
    assert lines["hero.jpg"] == "set the file's alt" and done.returncode == 1
    assert "post.jpg" not in lines  # by hand, in the script's notes

    kinds = [call["query"].split("(")[0] for call in api.calls]
    assert kinds == ["query AltScoutFind"] * 2 + ["mutation AltScoutSet"] * 2  # the dry run's; one search, one
    # update for the six files (once throttled)
    calls = len(api.calls)
    again = run_script(script, api)  # a second run asks again for the menu only: the rest is set
    assert [call["variables"] for call in api.calls[calls:] if "AltScoutSet" in call["query"]] == [
        {"files": [{"id": "gid://shopify/MediaImage/8", "alt": suggested["menu.jpg"]}]}]  # fmt: skip
    assert said(again.stdout)["boot_grande.jpg"] == "the file's alt was already this"


def test_a_missing_or_refused_token_or_store_is_one_sentence(
    report: AuditReport, api: FakeShopify, tmp_path: Path
) -> None:
    script = write_shopify_files(report, tmp_path / "s.py")
    missing = run_script(script, api, SHOPIFY_TOKEN="")
    assert missing.returncode == 2 and missing.stderr.startswith("Set SHOPIFY_STORE to the store's address")
    refused = run_script(script, api, SHOPIFY_TOKEN="wrong")
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        "Shopify refused the token (HTTP 401): set SHOPIFY_TOKEN to the Admin API access token of a custom app of "
        "this store with the read_files and write_files scopes"]  # fmt: skip
    nowhere = run_script(script, api, SHOPIFY_API=api.url.replace("/admin/", "/nothing/"))
    assert nowhere.returncode == 2 and nowhere.stderr.startswith("No Shopify store answers at http://127.0.0.1:")
    assert not api.calls


def test_which_addresses_are_a_stores_files() -> None:
    assert shopify_file("https://shop.example/cdn/shop/files/a%20b_600x.jpg?v=1&width=600") == ("files", "a b.jpg")
    assert shopify_file("https://cdn.shopify.com/s/files/1/0601/2345/6789/products/boot_grande.jpg?v=9") == (
        "products", "boot.jpg")  # fmt: skip
    assert shopify_file("https://shop.example/cdn/shop/t/12/assets/logo.png?v=3") == ("assets", "logo.png")
    assert shopify_file("https://shop.example/images/files/a.jpg") is None
    assert FORMATS["shopify_files"].nothing_for(AuditReport(pages=[])) == (
        "no audited image is a Shopify store's (an address under /cdn/shop/ or on cdn.shopify.com)")


def test_an_address_nothing_answers_at_is_one_sentence_at_once(report: AuditReport, tmp_path: Path) -> None:
    """A mistyped store (nothing listens there) stops the script with one sentence, without the waits a
    timeout gets."""
    import socket
    import time
    from types import SimpleNamespace

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: a connection is refused
        script = write_shopify_files(report, tmp_path / "s.py")
        started = time.monotonic()
        nowhere = SimpleNamespace(url=f"http://127.0.0.1:{port}/admin/api", token="shpat_secret")
        done = run_script(script, nowhere)  # type: ignore[arg-type]
    assert done.returncode == 2 and time.monotonic() - started < 20
    assert done.stderr.strip().splitlines() == [f"Nothing answers at http://127.0.0.1:{port}/admin/api "
                                                "([Errno 111] Connection refused): check the address"]  # fmt: skip
