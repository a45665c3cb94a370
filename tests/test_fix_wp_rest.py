"""``--wp-rest``: the script that sets what the WP-CLI script sets, through WordPress's REST API with an application
password, for a site with no shell. Written from a real audit of WordPress markup, then run as a user runs it,
against a loopback server that answers as WordPress's REST API does (media, posts found by slug, pretty permalinks
or ``?rest_route=``, Basic authentication)."""

from __future__ import annotations

import ast
import base64
import html
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import CaptionsByWidth, FixtureServer
from json_api import JsonApi, run_python
from test_fix_exports import CAPTIONS, serve

from options import AuditOptions
from pipeline import run_audit
from records import AuditReport
from reports.wordpress import wordpress_targets, write_wp_rest

UPLOADS = "/wp-content/uploads/2024/"
POST = f"""<!-- wp:image {{"id":42}} -->
<figure class="wp-block-image"><img class="alignnone size-full wp-image-42" src="{UPLOADS}hostile.jpg"/></figure>
<!-- /wp:image -->
<p>Our vase:</p><img src="{UPLOADS}vase.jpg" class='wp-image-7' alt="...">
<img class="wp-image-8" src="{UPLOADS}shoe.jpg" alt="Brown leather shoe from the side">
<img src="https://old-domain.example{UPLOADS}team-300x200.jpg" width="300">"""


class FakeWordPress:
    """WordPress's REST API, as far as the script uses it."""

    def __init__(self, site: str, pretty: bool = True) -> None:
        self.site, self.pretty = site.rstrip("/"), pretty
        self.media = {
            42: {"id": 42, "alt_text": "", "source_url": f"{self.site}{UPLOADS}hostile.jpg"},
            7: {"id": 7, "alt_text": "A vase my colleague described", "source_url": f"{self.site}{UPLOADS}vase.jpg"},
            8: {"id": 8, "alt_text": "Brown leather shoe from the side", "source_url": f"{self.site}{UPLOADS}shoe.jpg"},
            99: {"id": 99, "alt_text": "", "source_url": f"{self.site}{UPLOADS}team.jpg", "media_details": {
                "sizes": {"large": {"source_url": f"{self.site}{UPLOADS}team-1024x768.jpg"}}}},
        } | {n: {"id": n, "alt_text": "", "source_url": f"{self.site}{UPLOADS}other-{n}.jpg"} for n in range(100, 205)}
        self.posts = {5: {"id": 5, "link": "https://www.bakery.example/blog/post/", "slug": "post",  # its own domain
                          "content": {"raw": POST}}}
        self.calls: list[tuple[str, str, Any]] = []
        self.auth = "Basic " + base64.b64encode(b"editor:abcd efgh ijkl").decode()
        self.api = JsonApi(self.answer)

    def answer(self, method: str, where: str, headers: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(where)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        route = query.pop("rest_route", None) if not self.pretty else parts.path.removeprefix("/wp-json")
        if route is None or (self.pretty and not parts.path.startswith("/wp-json/")):
            return 404, {"code": "rest_no_route"}, {}
        if headers.get("Authorization") != self.auth:
            return 401, {"code": "incorrect_password"}, {}
        self.calls.append((method, route, body))
        if route == "/wp/v2/types":
            return 200, {"post": {"rest_base": "posts"}, "page": {"rest_base": "pages"},
                         "attachment": {"rest_base": "media"}}, {}  # fmt: skip
        if route == "/wp/v2/media" and "include" in query:
            return 200, [self.media[int(n)] for n in query["include"].split(",") if int(n) in self.media], {}
        if route == "/wp/v2/media":
            page = int(query["page"])
            return 200, list(self.media.values())[(page - 1) * 100 : page * 100], {}
        if route.startswith("/wp/v2/media/") and method == "POST":
            self.media[int(route.rsplit("/", 1)[1])]["alt_text"] = body["alt_text"]
            return 200, {}, {}
        if route == "/wp/v2/posts" and method == "GET":
            return 200, [post for post in self.posts.values() if post["slug"] == query.get("slug")], {}
        if route.startswith("/wp/v2/posts/") and method == "POST":
            self.posts[int(route.rsplit("/", 1)[1])]["content"]["raw"] = body["content"]
            return 200, {}, {}
        if route == "/wp/v2/pages":
            return 200, [], {}
        return 404, {"code": "rest_no_route"}, {}


@pytest.fixture()
def report(fresh_server: FixtureServer) -> AuditReport:
    serve(fresh_server)
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    return run_audit([fresh_server.url("/blog/post")], options, CaptionsByWidth(CAPTIONS))


@pytest.fixture()
def wordpress(fresh_server: FixtureServer) -> Iterator[FakeWordPress]:
    fake = FakeWordPress(fresh_server.url("/"))
    yield fake
    fake.api.close()


def run_script(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_python(script, *args, **{"WP_USER": "editor", "WP_APP_PASSWORD": "abcd efgh ijkl", **env})


def alts(content: str) -> dict[str, str | None]:
    """Each <img>'s alt in a post's HTML, by its file name."""
    found = {}
    for tag in re.findall(r"<img\b[^>]*>", content):
        name = re.search(r"""src=["']?[^"']*/([^/"']+)""", tag).group(1)  # type: ignore[union-attr]
        alt = re.search(r"""\salt=("[^"]*"|'[^']*')""", tag)
        found[name] = html.unescape(alt.group(1)[1:-1]) if alt else None
    return found


def test_the_script_sets_attachments_and_the_posts_copies(
    report: AuditReport, wordpress: FakeWordPress, tmp_path: Path
) -> None:
    targets = wordpress_targets(report)
    text = {str(key): alt for key, (_, _, alt) in targets.attachments.items()}
    in_post = {str(key): words for key, (_, words) in targets.posts[report.pages[0].final_url or ""].items()}
    team = next(key for key in text if not key.isdigit())
    script = write_wp_rest(report, tmp_path / "wp-alt-text.py")
    source = script.read_text()
    ast.parse(source, feature_version=(3, 8))
    assert "from reports" not in source and "def call(" in source
    api = {"WP_API": wordpress.api.base + "/wp-json"}

    dry = run_script(script, "--dry-run", **api)
    assert {method for method, _, _ in wordpress.calls} == {"GET"} and dry.returncode == 0, dry.stderr
    assert "would set attachment 42's alt to" in dry.stdout

    done = run_script(script, **api)
    assert done.returncode == 0, done.stdout + done.stderr
    assert wordpress.media[42]["alt_text"] == text["42"] and "$(touch PWNED)" in text["42"]
    assert wordpress.media[99]["alt_text"] == text[team]  # the featured image: found by its address's original
    assert wordpress.media[7]["alt_text"] == "A vase my colleague described"  # changed since the audit: left
    assert "left: attachment 7's alt changed since the audit ('A vase my colleague described')" in done.stdout
    assert wordpress.media[8]["alt_text"] == "Brown leather shoe from the side"
    content = wordpress.posts[5]["content"]["raw"]
    assert alts(content) == {"hostile.jpg": in_post["42"], "vase.jpg": in_post["7"],
                             "shoe.jpg": "Brown leather shoe from the side",
                             "team-300x200.jpg": in_post[team]}  # fmt: skip
    assert content.replace(' alt="', "\0").split("\0")[0] == POST.split("<img", 1)[0] + '<img'  # nothing else moved
    assert re.sub(r'\salt="[^"]*"', "", content) == re.sub(r'\salt="[^"]*"', "", POST)
    assert f"{report.pages[0].final_url}: post 5: set the alt of" in done.stdout

    posts = len([call for call in wordpress.calls if call[0] == "POST"])
    again = run_script(script, **api)  # everything is set: nothing is sent
    assert len([call for call in wordpress.calls if call[0] == "POST"]) == posts and again.returncode == 0
    assert ": post 5: no image to change: its images are set" in again.stdout


def test_the_api_is_found_without_pretty_permalinks_and_refusals_are_one_sentence(
    report: AuditReport, fresh_server: FixtureServer, tmp_path: Path
) -> None:
    plain = FakeWordPress(fresh_server.url("/"), pretty=False)
    try:
        script = write_wp_rest(report, tmp_path / "wp.py")
        moved = tmp_path / "moved.py"  # the site's address, as if the fake were the site
        moved.write_text(script.read_text().replace(f"SITE = '{fresh_server.url('/')}'", f"SITE = '{plain.api.base}/'"))
        done = run_script(moved, "--dry-run")
        assert done.returncode == 0 and "would set attachment 42's alt" in done.stdout
        assert plain.calls and all(route.startswith("/wp/v2/") for _, route, _ in plain.calls)
        refused = run_script(moved, WP_APP_PASSWORD="wrong")
        assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
            "WordPress refused the user and application password (HTTP 401): set WP_USER and WP_APP_PASSWORD to a "
            "user who may edit posts and media, and an application password of theirs"]  # fmt: skip
        missing = run_script(moved, WP_USER="")
        assert missing.returncode == 2 and missing.stderr.startswith("Set WP_USER to your WordPress user name")
        fresh_server.add("/wp-json/wp/v2/types", "<html><body>A theme's page for any address</body></html>")
        nowhere = run_script(script)  # the fixture site serves no REST API, only a page
        assert nowhere.returncode == 2 and nowhere.stderr.startswith(
            f"No WordPress REST API answers at {fresh_server.url('/')} (/wp-json or ?rest_route=)")
    finally:
        plain.api.close()
