"""Exports that apply suggestions (issue 28): Shopify's product CSV and a WP-CLI script, checked
against Shopify-style product pages and WordPress markup, quotes, accents and shell metacharacters."""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CaptionsByWidth, FixtureServer, make_image

import cli
from options import AuditOptions
from pipeline import run_audit
from records import AuditReport
from reports.decisions import Decision, apply_decisions
from reports.fixes import product_handle, shopify_image_src, write_shopify_csv
from reports.formats import FORMATS, write_atomically
from reports.wordpress import SET_ATTACHMENT_ALTS, SET_POST_ALTS, _argument

HOSTILE = "it's a \"test\" $(touch PWNED) `touch PWNED2` \\ ; café"
CAPTIONS = {
    401: "a pair of brown leather shoes on a wooden table",
    402: "a brown leather shoe seen from the side",
    403: "a red logo",
    404: HOSTILE,
    405: "a blue vase of flowers on a shelf",
    406: "three bakers in a kitchen",
}


def serve(server: FixtureServer) -> None:
    product = {"@context": "https://schema.org", "@type": "Product", "name": 'Café "Crème" Brogue'}
    server.add("/products/creme-brogue", f"""<html lang="fr"><head><title>Shop</title>
<script type="application/ld+json">{json.dumps(product)}</script></head><body><main>
<h1>Café "Crème" Brogue</h1>
<img src="/cdn/shop/products/brogue_600x.jpg?v=123&amp;width=600">
<img src="/cdn/shop/products/side_grande.jpg?v=7" alt="Brown leather shoe from the side">
<img src="/cdn/shop/files/logo.png" alt="">
</main></body></html>""")
    server.add("/pages/about", '<html><body><img src="/cdn/shop/files/vase.jpg"></body></html>')
    server.add("/blog/post", """<html><body><article>
<img class="alignnone size-full wp-image-42" src="/wp-content/uploads/2024/hostile.jpg">
<img
  src="/wp-content/uploads/2024/vase.jpg"
  class='wp-image-7'
  alt="...">
<img class="wp-image-8" src="/wp-content/uploads/2024/shoe.jpg" alt="Brown leather shoe from the side">
</article><img class="attachment-post-thumbnail wp-post-image" src="/wp-content/uploads/2024/team-1024x768.jpg?v=2">
</body></html>""")
    for width, path in zip(
        range(401, 406),
        ["/cdn/shop/products/brogue.jpg", "/cdn/shop/products/side_grande.jpg", "/cdn/shop/files/logo.png",
         "/wp-content/uploads/2024/hostile.jpg", "/cdn/shop/files/vase.jpg"],
        strict=True,
    ):  # fmt: skip
        server.add(path, make_image(width, 300, "JPEG", seed=width), content_type="image/jpeg")
    server.add("/cdn/shop/products/brogue_600x.jpg", make_image(401, 300, "JPEG", seed=401), content_type="image/jpeg")
    server.add("/wp-content/uploads/2024/vase.jpg", make_image(405, 300, "JPEG", seed=405), content_type="image/jpeg")
    server.add("/wp-content/uploads/2024/shoe.jpg", make_image(402, 300, "JPEG", seed=402), content_type="image/jpeg")
    server.add("/wp-content/uploads/2024/team-1024x768.jpg", make_image(406, 300, "JPEG", seed=406),
               content_type="image/jpeg")  # a featured image: no wp-image-ID, found by its address


@pytest.fixture()
def report(fresh_server: FixtureServer) -> AuditReport:
    serve(fresh_server)
    urls = [fresh_server.url(path) for path in ("/products/creme-brogue", "/pages/about", "/blog/post")]
    return run_audit(urls, AuditOptions(render="never", allow_private=True, ocr="off"), CaptionsByWidth(CAPTIONS))


def script_calls(script: str, function: str) -> list[list[str]]:
    """The arguments of each call of a shell function in a WP-CLI script, as the shell splits them."""
    calls: list[list[str]] = []
    lines = iter(script.splitlines())
    for line in lines:
        if line == f"{function} \\":
            words: list[str] = []
            for argument in lines:
                words += shlex.split(argument.removesuffix(" \\"))
                if not argument.endswith(" \\"):
                    break
            calls.append(words)
    return calls


def attachment_alts(script: str) -> dict[str, str]:
    """What the script sets as each attachment's alt: its ID or address -> the text (after "alt=")."""
    words = [word for call in script_calls(script, "set_attachment_alts") for word in call]
    return {key: text.removeprefix("alt=") for key, text in zip(words[::2], words[1::2], strict=True)}


def test_shopify_urls_and_handles() -> None:
    assert product_handle("https://shop.test/products/creme-brogue") == "creme-brogue"
    assert product_handle("https://shop.test/collections/shoes/products/creme-brogue/") == "creme-brogue"
    assert product_handle("https://shop.test/pages/about") is None
    assert shopify_image_src("https://shop.test/cdn/shop/products/a_600x.jpg?v=1&width=600") == (
        "https://shop.test/cdn/shop/products/a.jpg?v=1")
    assert shopify_image_src("https://cdn.shopify.com/s/files/1/products/b_grande@2x.png?v=2") == (
        "https://cdn.shopify.com/s/files/1/products/b.png?v=2")
    cropped = "//shop.test/cdn/shop/files/c_600x600_crop_center.jpg?height=10"
    assert shopify_image_src(cropped) == "https://shop.test/cdn/shop/files/c.jpg"


def test_the_shopify_csv_sets_only_alts_that_need_it(report: AuditReport, fresh_server: FixtureServer,
                                                      tmp_path: Path) -> None:  # fmt: skip
    path = write_shopify_csv(report, tmp_path / "shopify.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig", newline="")))
    assert rows == [{
        "Handle": "creme-brogue",
        "Title": 'Café "Crème" Brogue',
        "Image Src": fresh_server.url("/cdn/shop/products/brogue.jpg?v=123"),
        "Image Alt Text": 'Café "Crème" Brogue: a pair of brown leather shoes on a wooden table',
    }]  # the good alt stays, the decorative logo gets none, the about page is no product


def test_the_wp_cli_script_runs_nothing_but_wp(report: AuditReport, tmp_path: Path) -> None:
    script = write_atomically(FORMATS["wp_cli"], report, tmp_path / "fix.sh")  # as the CLI writes it
    text = script.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/sh\n") and text.count("\n# attachment ") == 3  # 42, 7, the featured one
    assert "#   sh fix.sh\n" in text and sorted(p.name for p in tmp_path.iterdir()) == ["fix.sh"]  # its own name
    assert "logo.png" not in text  # a Shopify page's image, held: no WordPress script would set it
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.jsonl"
    fake = bin_dir / "wp"
    log_line = (f"open({str(calls)!r}, 'a').write(json.dumps([sys.argv[1:], sys.stdin.read() if "
                "sys.argv[1] == 'eval-file' else None]) + '\\n')")  # fmt: skip
    fake.write_text(f"#!/usr/bin/env python3\nimport json, sys\n{log_line}\n")
    fake.chmod(0o755)
    work = tmp_path / "site"
    work.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["sh", str(script)], cwd=work, env=env, check=True, timeout=30)
    assert list(work.iterdir()) == []  # no $(…), no backticks ran
    made = [json.loads(line) for line in calls.read_text().splitlines()]
    suggestions = {r.wp_attachment_id: r.suggested_alt for p in report.pages for r in p.images if r.wp_attachment_id}
    post = next(page.url for page in report.pages if page.url.endswith("/blog/post"))
    featured = post.replace("/blog/post", "/wp-content/uploads/2024/team-1024x768.jpg")  # by its address, no query
    alts = ["42", "alt=" + suggestions[42], "7", "alt=" + suggestions[7], featured, "alt=Three bakers in a kitchen"]
    assert made == [
        [["core", "is-installed"], None],  # before any change: is there a WordPress here
        [["eval-file", "-", *alts], SET_ATTACHMENT_ALTS],  # by ID; a featured image (no ID) by its address
        [["eval-file", "-", post, "3", *alts], SET_POST_ALTS],  # the post's copies: by ID, by address where none
    ]
    assert "$(touch PWNED)" in suggestions[42] and "café" in suggestions[42].lower()  # the text as it is


def test_the_script_says_in_one_sentence_where_it_cannot_work(report: AuditReport, tmp_path: Path) -> None:
    """Run where WP-CLI is missing, or where it finds no WordPress, the script changes nothing and says why."""
    script = write_atomically(FORMATS["wp_cli"], report, tmp_path / "alt-text.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sh", "cat"):  # what the script may run besides wp
        (bin_dir / name).symlink_to(shutil.which(name) or name)
    alone = {"PATH": str(bin_dir)}
    run = subprocess.run(["sh", str(script)], cwd=tmp_path, env=alone, capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and run.stderr == (
        f"{script}: WP-CLI (wp) is not installed here: see https://wp-cli.org, or run this where it manages the site\n"
    )
    calls = tmp_path / "calls"
    (bin_dir / "wp").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n[ "$1" != core ]\n')  # no WordPress here
    (bin_dir / "wp").chmod(0o755)
    run = subprocess.run(["sh", str(script)], cwd=tmp_path, env=alone, capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and run.stderr == (
        f"{script}: wp finds no WordPress here: run this in the site's folder (where wp-config.php is), or set its "
        "path in wp-cli.yml\n"
    )
    assert calls.read_text() == "core is-installed\n"  # and nothing else


# What the PHP that `wp eval-file -` runs needs of WordPress and WP-CLI, for a test: posts by URL in a JSON file,
# and wp_update_post writing the post back (unslashed, as wp_insert_post does).
WORDPRESS = r"""<?php
class WP_CLI {
    static function log($m) { echo "log: $m\n"; }
    static function success($m) { echo "success: $m\n"; }
}
function posts() { return json_decode(file_get_contents(getenv('WP_POSTS')), true); }
function url_to_postid($url) { $posts = posts(); return isset($posts[$url]) ? $posts[$url]['ID'] : 0; }
function get_post($id) { foreach (posts() as $post) { if (($post['ID'] ?? 0) == $id) return (object) $post; } }
function esc_attr($text) { return htmlspecialchars($text, ENT_QUOTES, 'UTF-8'); }
function wp_slash($value) {
    return is_array($value) ? array_map('wp_slash', $value) : (is_string($value) ? addslashes($value) : $value);
}
function wp_update_post($post) {
    $post = array_map(function ($v) { return is_string($v) ? stripslashes($v) : $v; }, $post);
    $posts = posts();
    foreach ($posts as $url => $old) {
        if (isset($old['ID']) && $old['ID'] == $post['ID']) $posts[$url]['post_content'] = $post['post_content'];
    }
    file_put_contents(getenv('WP_POSTS'), json_encode($posts));
}
function attachment_url_to_postid($url) {
    $posts = posts();
    return isset($posts['attachments'][$url]) ? $posts['attachments'][$url] : 0;
}
function update_post_meta($id, $key, $value) {
    $posts = posts();
    $posts['meta'][] = array($id, $key, stripslashes($value));
    file_put_contents(getenv('WP_POSTS'), json_encode($posts));
}
function get_post_type($id) { return in_array($id, posts()['attachment_ids'] ?? array()) ? 'attachment' : 'post'; }
function run($args) { eval('?>' . file_get_contents('php://stdin')); }
// As WP-CLI reads a command line: an argument that starts with -- is an option of its own, not one of $args
run(array_values(array_filter(array_slice($argv, 1), function ($arg) { return strncmp($arg, '--', 2) !== 0; })));
"""


def wordpress_php(
    folder: Path, args: list[str], posts: Path, php: str = SET_POST_ALTS
) -> subprocess.CompletedProcess[str]:
    """``php`` run as `wp eval-file - ARGS` would run it, on the posts of a JSON file."""
    if shutil.which("php") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have php-cli for the WordPress tests (.ci/run installs it)")
        pytest.skip("php-cli is not installed (apt-get install -y php-cli)")
    (folder / "wordpress.php").write_text(WORDPRESS)
    env = {**os.environ, "WP_POSTS": str(posts)}
    return subprocess.run(["php", str(folder / "wordpress.php"), *args], input=php, text=True,
                          capture_output=True, env=env, check=True, timeout=30)  # fmt: skip


def one_post(folder: Path, url: str, post_id: int, content: str) -> Path:
    """The posts file of a site with one post, at ``url``."""
    posts = folder / "posts.json"
    posts.write_text(json.dumps({url: {"ID": post_id, "post_content": content}}))
    return posts


def test_the_post_keeps_its_own_copy_of_the_alt_and_gets_it_set(tmp_path: Path) -> None:
    """WordPress copies an image's alt into the post when it is inserted; the media library's alt never reaches
    a published post. The PHP the script runs sets the copy in the post at the page's address: every <img> of
    class wp-image-ID with a text (in a block or the classic editor), quotes and `$` as they are."""
    content = (
        '<!-- wp:image {"id":42} --><figure class="wp-block-image"><img src="/up/a.jpg" alt="" class="wp-image-42"/>'
        '</figure><!-- /wp:image -->\n<p><img class="alignnone wp-image-7" src="/up/b.jpg" alt="..." /> and '
        "<img src=/up/b.jpg class=wp-image-7></p>\n<img class=\"wp-image-70\" src=\"/up/c.jpg\" alt='Kept'>\n"
    )  # fmt: skip
    posts = one_post(tmp_path, "https://blog.example/hello/", 12, content)
    hostile = "It's a \"test\" $(touch PWNED) $1 \\1 & café"
    args = ["https://blog.example/hello/", "2", "42", "alt=" + hostile, "7", "alt=A blue vase",
            "https://blog.example/page/2/", "1", "7", "alt=x"]  # two pages in one call: WordPress loads once
    run = wordpress_php(tmp_path, args, posts)
    assert run.stdout.splitlines() == [
        "success: post 12 (https://blog.example/hello/): alt text of 3 image(s)",
        "log: AltScout: https://blog.example/page/2/ is no single post or page (an archive shows its posts): skipped",
    ], run.stderr
    after = json.loads(posts.read_text())["https://blog.example/hello/"]["post_content"]
    assert after == (
        '<!-- wp:image {"id":42} --><figure class="wp-block-image"><img src="/up/a.jpg" '
        'alt="It&#039;s a &quot;test&quot; $(touch PWNED) $1 \\1 &amp; café" class="wp-image-42"/></figure>'
        '<!-- /wp:image -->\n<p><img class="alignnone wp-image-7" src="/up/b.jpg" alt="A blue vase" /> and '
        "<img alt=\"A blue vase\" src=/up/b.jpg class=wp-image-7></p>\n<img class=\"wp-image-70\" src=\"/up/c.jpg\" "
        "alt='Kept'>\n"
    )  # fmt: skip


def test_the_script_sets_every_text_through_wp_cli_even_one_that_reads_as_its_option(
    report: AuditReport, tmp_path: Path
) -> None:
    """The script run as it is, its `wp` reading arguments as WP-CLI does (one that starts with -- is an option of
    WP-CLI's own, and --exec=CODE runs PHP): a text a review wrote as "--exec=…" is set as it is, and runs nothing."""
    post = next(page.url for page in report.pages if page.url.endswith("/blog/post"))
    hostile = post.replace("/blog/post", "/wp-content/uploads/2024/hostile.jpg")
    edited = "--exec=touch('PWNED');"
    apply_decisions(report, {hostile: Decision(hostile, "edit", edited)})
    script = write_atomically(FORMATS["wp_cli"], report, tmp_path / "fix.sh")
    featured = post.replace("/blog/post", "/wp-content/uploads/2024/team-1024x768.jpg")
    content = '<img class="wp-image-42" src="/a.jpg"><img class="wp-image-7" src="/b.jpg" alt="...">'
    posts = tmp_path / "posts.json"
    posts.write_text(json.dumps({post: {"ID": 5, "post_content": content}, "attachments": {featured: 31},
                                 "attachment_ids": [42, 7, 31], "meta": []}))  # fmt: skip
    wordpress_php(tmp_path, [], posts, "<?php")  # writes wordpress.php, the stubs (or skips without php)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "wp").write_text(f'#!/bin/sh\n[ "$1" = core ] && exit 0\nshift 2\n'
                                f'exec php {tmp_path / "wordpress.php"} "$@"\n')  # core is-installed; eval-file -
    (bin_dir / "wp").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "WP_POSTS": str(posts)}
    run = subprocess.run(["sh", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert run.stdout.splitlines() == ["success: alt text of 3 attachment(s)",
                                       f"success: post 5 ({post}): alt text of 2 image(s)"]  # fmt: skip
    stored = json.loads(posts.read_text())
    vase = next(r.suggested_alt for page in report.pages for r in page.images if r.wp_attachment_id == 7)
    assert stored["meta"] == [[42, "_wp_attachment_image_alt", edited], [7, "_wp_attachment_image_alt", vase],
                              [31, "_wp_attachment_image_alt", "Three bakers in a kitchen"]]  # fmt: skip
    assert stored[post]["post_content"] == ('<img alt="--exec=touch(&#039;PWNED&#039;);" class="wp-image-42" '
                                            f'src="/a.jpg"><img class="wp-image-7" src="/b.jpg" alt="{vase}">')
    assert not (tmp_path / "PWNED").exists()
    with pytest.raises(ValueError, match="read as an option"):  # the script's writer refuses any such word
        _argument("--exec=touch('PWNED');")


def test_an_image_pasted_into_a_post_without_its_id_is_found_by_its_address(tmp_path: Path) -> None:
    """Markup imported from another system, or an image inserted from its URL, has no wp-image-ID: the post's
    <img> is found by the path its src or srcset names (any host, relative to the post too), an upload's resized
    or scaled copy standing for its original; a tag with an ID is matched by its ID alone."""
    content = (
        '<p><img src="http://old-domain.example/wp-content/uploads/2019/05/shop-1024x683.jpg" width="1024"></p>\n'
        '<img alt="IMG_0042" srcset="https://cdn.example/photos/caf%C3%A9.jpg 1x, /x2.jpg 2x" src="/fallback.gif">\n'
        "<img src='banner.png' alt=''>\n"
        '<img class="wp-image-5" src="/photos/caf%C3%A9.jpg" alt="Kept">\n'
        '<img src="/wp-content/uploads/2019/05/other-300x200.jpg">\n'
    )  # fmt: skip
    posts = one_post(tmp_path, "https://blog.example/2019/news/", 3, content)
    uploads = "https://blog.example/wp-content/uploads/2019/05/"
    args = ["https://blog.example/2019/news/", "3", uploads + "shop-scaled.jpg", "alt=Our shop's \"front\" $1",
            "https://blog.example/photos/café.jpg", "alt=A café", "https://blog.example/2019/news/banner.png",
            "alt=A banner"]  # fmt: skip
    run = wordpress_php(tmp_path, args, posts)
    assert run.stdout.splitlines() == ["success: post 3 (https://blog.example/2019/news/): alt text of 3 image(s)"]
    after = json.loads(posts.read_text())["https://blog.example/2019/news/"]["post_content"]
    assert after == (
        '<p><img alt="Our shop&#039;s &quot;front&quot; $1" src="http://old-domain.example/wp-content/uploads/2019/'
        '05/shop-1024x683.jpg" width="1024"></p>\n'
        '<img alt="A café" srcset="https://cdn.example/photos/caf%C3%A9.jpg 1x, /x2.jpg 2x" src="/fallback.gif">\n'
        "<img src='banner.png' alt=\"A banner\">\n"
        '<img class="wp-image-5" src="/photos/caf%C3%A9.jpg" alt="Kept">\n'
        '<img src="/wp-content/uploads/2019/05/other-300x200.jpg">\n'
    )  # fmt: skip


def test_an_image_with_no_id_in_its_markup_is_found_by_its_address(tmp_path: Path) -> None:
    """A featured image, a WooCommerce product's or a theme's has no wp-image-ID: its attachment is the one stored
    at its address, at its resized copy's original (-1024x768) or at its scaled original's (-scaled)."""
    posts = tmp_path / "posts.json"
    stored = {"https://shop.example/wp-content/uploads/2024/team.jpg": 31,
              "https://shop.example/wp-content/uploads/2024/hall-scaled.jpg": 32}  # fmt: skip
    posts.write_text(json.dumps({"attachments": stored, "attachment_ids": [31, 32, 33], "meta": []}))
    uploads = "https://shop.example/wp-content/uploads/2024/"
    args = [uploads + "team-1024x768.jpg", "alt=Three bakers", uploads + "hall-300x200.jpg",
            "alt=A hall's \"stage\" $1", uploads + "gone.jpg", "alt=x", "33", "alt=By its ID", "34",
            "alt=Not an attachment"]  # fmt: skip
    run = wordpress_php(tmp_path, args, posts, SET_ATTACHMENT_ALTS)
    assert run.stdout.splitlines() == [f"log: AltScout: {uploads}gone.jpg is no attachment of this site: skipped",
                                       "log: AltScout: 34 is no attachment of this site: skipped",
                                       "success: alt text of 3 attachment(s)"]  # fmt: skip
    meta = json.loads(posts.read_text())["meta"]
    assert meta == [[31, "_wp_attachment_image_alt", "Three bakers"],
                    [32, "_wp_attachment_image_alt", "A hall's \"stage\" $1"],
                    [33, "_wp_attachment_image_alt", "By its ID"]]  # fmt: skip


def test_an_alt_kept_with_the_image_leaves_out_what_its_link_does(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """A gallery thumbnail's suggestion ends "(opens the full-size image)": the tag's alt may say so, but
    the attachment's and the product image's alt is shown wherever the image is, so it is the photo alone."""
    fresh_server.add(
        "/blog/dunes",
        """<html><body><figure class="wp-block-gallery">
<a href="/wp-content/uploads/2024/dunes-1024x768.jpg"><img class="wp-image-9" alt=""
   src="/wp-content/uploads/2024/dunes-300x225.jpg"></a></figure></body></html>""",
    )
    fresh_server.add(
        "/products/vase",
        """<html><body><main><h1>Blue Vase</h1>
<a href="/cdn/shop/products/vase_2048x.jpg"><img src="/cdn/shop/products/vase_600x.jpg"></a></main></body></html>""",
    )
    fresh_server.add("/wp-content/uploads/2024/dunes-300x225.jpg", make_image(401, 300, "JPEG", seed=1),
                     content_type="image/jpeg")  # fmt: skip
    fresh_server.add(
        "/cdn/shop/products/vase_600x.jpg", make_image(405, 300, "JPEG", seed=2), content_type="image/jpeg"
    )
    urls = [fresh_server.url("/blog/dunes"), fresh_server.url("/products/vase")]
    captions = {401: "sand dunes under a blue sky", 405: "a glass vase of flowers on a shelf"}
    report = run_audit(urls, AuditOptions(render="never", allow_private=True, ocr="off"), CaptionsByWidth(captions))
    dunes, vase = (page.images[0] for page in report.pages)
    assert dunes.suggested_alt == "Sand dunes under a blue sky (opens the full-size image)"  # the tag's alt
    assert vase.suggested_alt == "A glass vase of flowers on a shelf (opens the full-size image)"
    script = write_atomically(FORMATS["wp_cli"], report, tmp_path / "fix.sh").read_text(encoding="utf-8")
    assert attachment_alts(script) == {"9": "Sand dunes under a blue sky"}
    rows = list(csv.DictReader(write_shopify_csv(report, tmp_path / "s.csv").open(encoding="utf-8-sig")))
    assert [row["Image Alt Text"] for row in rows] == ["A glass vase of flowers on a shelf"]


@pytest.mark.parametrize("on_the_platforms", [True, False])
def test_a_platform_export_for_a_site_not_on_it_says_why_it_sets_nothing(
    fresh_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], on_the_platforms: bool
) -> None:
    """--shopify-csv on a site with no /products/ page, --wp-cli on one with no wp-image-ID: the file is still
    written (a script may expect it), and one line says why it sets nothing, even with --quiet. The service
    leaves such a file out of a job's downloads."""
    serve(fresh_server)
    fresh_server.add("/", '<html><body><img src="/cdn/shop/files/vase.jpg"></body></html>')
    paths = ("/products/creme-brogue", "/blog/post") if on_the_platforms else ("/", "/pages/about")
    shopify, wp = tmp_path / "shop.csv", tmp_path / "wp.sh"
    args = [*(fresh_server.url(path) for path in paths), "--allow-private", "--dry-run", "--render", "never",
            "--quiet", "--shopify-csv", str(shopify), "--wp-cli", str(wp),
            "--out", str(tmp_path / "c.txt")]  # fmt: skip
    assert cli.main(args) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "sets no alt text" in line]
    assert shopify.read_text(encoding="utf-8-sig").startswith("Handle,Title,Image Src,Image Alt Text")
    assert wp.read_text(encoding="utf-8").startswith("#!/bin/sh")
    if on_the_platforms:
        assert said == []
    else:
        assert said == [
            f"altscout: --shopify-csv {shopify} sets no alt text: no audited page is a Shopify product page "
            "(a /products/HANDLE address)",
            f"altscout: --wp-cli {wp} sets no alt text: no audited image is a WordPress attachment (class "
            "wp-image-ID, or a file of /wp-content/uploads/)",
        ]


def test_a_large_site_loads_wordpress_once_a_hundred_pages() -> None:
    """Each `wp eval-file` loads WordPress: a site of 10,000 posts is 100 calls, not 10,000."""
    from reports.wordpress import _calls

    lines = _calls("set_post_alts", "posts", [f"'https://b.example/{n}/' 1 {n} 'Alt {n}'" for n in range(101)])
    script = "\n".join(lines)
    assert script.count("set_post_alts \\\n") == 2 and script.count("# posts") == 2
    assert lines[101] == "  'https://b.example/99/' 1 99 'Alt 99'"  # the last of the first call: no "\\"
    assert lines[-1] == "  'https://b.example/100/' 1 100 'Alt 100'"
