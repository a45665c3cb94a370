"""``--fix-patch`` for static sites (issue 28): a patch that ``git apply`` takes, that changes only
alt attributes, and after which a re-audit finds no missing or placeholder alt on the patched images."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CaptionsByWidth, FixtureServer, make_image

import cli
from options import AuditOptions
from pipeline import run_audit
from records import AuditReport
from reports.patch import apply_command, page_file, served_under, write_fix_patch

CAPTIONS = {501: "a pair of brown leather shoes", 502: "a blue vase on a shelf", 503: 'a "quoted" sign & more',
            504: "a red bicycle against a wall", 505: "a bowl of soup", 506: "a mountain at sunset"}  # fmt: skip
FILES = {
    "index.html": """<!doctype html>
<html lang="en"><head><title>Shop</title>
<style>.hero { background-image: url('/img/hero.jpg') }</style></head>
<body>
<div class="hero" role="img"></div>
<ul class="grid">
  <li><a href="#m1"><img src="/img/shoe.jpg" width=200 height=150></a></li>
  <li><img
        class='thumb'
        alt='...'
        src='/img/vase.jpg'
        data-id="7"></li>
  <li><img width=200 src=/img/sign.jpg alt=IMG_1234.jpg height=150></li>
  <li><img src="/img/decor.jpg" alt=""></li>
</ul>
<div class="modal" id="m1"><img alt="" src="/img/shoe.jpg" class="large"></div>
</body></html>""",
    "about/index.html": '<html><body><h1>About</h1><img src="../img/bike.jpg"></body></html>\n',
    "contact.html": "<html><body><p>Soup of the day</p><img src='/img/soup.jpg' alt='Image'></body></html>",
    "notes.txt": "not a page\n",
}
IMAGES = {"shoe": 501, "vase": 502, "sign": 503, "bike": 504, "soup": 505, "hero": 506, "decor": 506}


def site_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    for name, text in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def serve(server: FixtureServer, folder: Path) -> list[str]:
    for path in ("/", "/about/", "/contact", "/gone"):
        target = page_file(folder, server.url(path))
        server.add(path, target.read_bytes() if target else b"<html><body><img src='/img/soup.jpg'></body></html>")
    for name, width in IMAGES.items():
        image = make_image(width, 300, "JPEG", seed=width + len(name))
        server.add(f"/img/{name}.jpg", image, content_type="image/jpeg")
    return [server.url(path) for path in ("/", "/about/", "/contact", "/gone")]


def audit(server: FixtureServer, folder: Path) -> AuditReport:
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    return run_audit(serve(server, folder), options, CaptionsByWidth(CAPTIONS))


def without_alts(text: str) -> str:
    return re.sub(r"\s+alt\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)", "", text, flags=re.IGNORECASE)


def test_pages_map_to_files_as_static_servers_do(tmp_path: Path) -> None:
    folder = site_folder(tmp_path)
    (tmp_path / "outside.html").write_text("secret")
    (folder / "link.html").symlink_to(tmp_path / "outside.html")
    assert page_file(folder, "http://h/") == folder.resolve() / "index.html"
    assert page_file(folder, "http://h/about/") == folder.resolve() / "about" / "index.html"
    assert page_file(folder, "http://h/about") == folder.resolve() / "about" / "index.html"
    assert page_file(folder, "http://h/contact") == folder.resolve() / "contact.html"
    assert page_file(folder, "http://h/contact.html") == folder.resolve() / "contact.html"
    assert page_file(folder, "http://h/../outside.html") is None
    assert page_file(folder, "http://h/%2e%2e/outside.html") is None
    assert page_file(folder, "http://h/link.html") is None  # a symlink out of the folder is not followed
    assert page_file(folder, "http://h/missing") is None


def test_a_folder_served_under_a_path(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """A GitHub Pages project site: https://user.github.io/shop/about/ is _site/about/index.html. The path the
    folder is served under is the shortest folder all pages share whose removal lets a file answer one."""
    folder = site_folder(tmp_path)
    assert served_under(folder, ["http://h/shop/", "http://h/shop/about/", "http://h/shop/contact"]) == "/shop"
    assert page_file(folder, "http://h/shop/about/", "/shop") == folder.resolve() / "about" / "index.html"
    assert page_file(folder, "http://h/shopping/about/", "/shop") is None
    assert served_under(folder, ["http://h/a/b/about/", "http://h/a/b/"]) == "/a/b"
    assert served_under(folder, ["http://h/", "http://h/shop/about/"]) == ""  # the folder answers "/" itself
    assert served_under(folder, ["http://h/x/nothing/", "http://h/x/none/"]) == ""  # no file answers either
    for path in ("/", "/about/"):
        fresh_server.add("/shop" + path, (folder / path.lstrip("/") / "index.html").read_bytes())
    for name, width in IMAGES.items():
        for folder_path in ("/img/", "/shop/img/"):  # about/index.html's ../img/bike.jpg is under /shop/
            fresh_server.add(f"{folder_path}{name}.jpg", make_image(width, 300, "JPEG", seed=width + len(name)),
                             content_type="image/jpeg")  # fmt: skip
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    report = run_audit([fresh_server.url("/shop/"), fresh_server.url("/shop/about/")], options,
                       CaptionsByWidth(CAPTIONS))  # fmt: skip
    result = write_fix_patch(report, folder, tmp_path / "alt.patch")
    assert result.files == 2 and not any("no file in --source-dir" in line for line in result.by_hand)


def test_the_patch_applies_changes_only_alts_and_fixes_the_images(fresh_server: FixtureServer, tmp_path: Path) -> None:
    folder = site_folder(tmp_path)
    report = audit(fresh_server, folder)
    patch = tmp_path / "alt.patch"
    result = write_fix_patch(report, folder, patch)
    assert result.files == 3 and result.tags == 6  # shoe twice (grid and modal), vase, sign, bike, soup
    by_hand = "\n".join(result.by_hand)
    assert "/gone" in by_hand and "no file in --source-dir" in by_hand  # a page with no matching file
    assert "hero.jpg" in by_hand and 'role="img"' in by_hand  # a CSS background: by hand, with its selector
    patched = tmp_path / "patched"
    shutil.copytree(folder, patched)
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=patched, check=True, capture_output=True)
    subprocess.run(["git", "apply", str(patch)], cwd=patched, check=True, capture_output=True)
    for name, text in FILES.items():
        after = (patched / name).read_text(encoding="utf-8")
        assert without_alts(after) == without_alts(text), name  # every byte outside the alt attributes
    index = (patched / "index.html").read_text(encoding="utf-8")
    assert index.count('alt="A pair of brown leather shoes') == 2  # the grid and the modal
    assert "alt='A blue vase on a shelf'" in index and 'alt="A &quot;quoted&quot; sign &amp; more"' in index
    assert '<img src="/img/decor.jpg" alt="">' in index  # decorative: left alone
    assert (patched / "notes.txt").read_text() == FILES["notes.txt"]
    fresh_server.routes.clear()
    again = audit(fresh_server, patched)
    bad = {"missing_alt", "placeholder_alt", "filename_alt", "linked_image_no_text"}
    for page in again.pages:
        for record in page.images:
            if record.source.rsplit("/", 1)[-1] in ("shoe.jpg", "vase.jpg", "sign.jpg", "bike.jpg", "soup.jpg") and (
                "/gone" not in page.url
            ):
                assert not bad & set(record.alt_issues), (page.url, record.source, record.alt_issues)


@pytest.mark.parametrize("text", ['<img src="a.jpg"/>', "<IMG SRC='a.jpg' ALT=x>", '<img\tsrc="a.jpg"\nalt="x"\n/>'])
def test_one_tag_in_any_spelling(text: str, tmp_path: Path) -> None:
    from records import ImageRecord
    from reports.patch_html import patched_html as _patched

    record = ImageRecord(source="http://h/a.jpg", found_in=["img"])
    changed, done = _patched(text, "http://h/", {"http://h/a.jpg": (record, "A cat")})
    assert done == {"http://h/a.jpg": 1} and without_alts(changed) == without_alts(text)
    assert "A cat" in changed and changed.count("alt") + changed.count("ALT") == 1


def test_an_apostrophe_is_written_as_is_where_the_quotes_allow() -> None:
    """A reviewer reads "Joe's bakery" in the patch, not "Joe&#x27;s bakery"; inside '…' it must be escaped."""
    from records import ImageRecord
    from reports.patch_html import patched_html as _patched

    record = ImageRecord(source="http://h/a.jpg", found_in=["img"])
    text = "<img src=\"a.jpg\">\n<img src='a.jpg' alt=''>\n<img src=a.jpg alt=x>"
    changed, _ = _patched(text, "http://h/", {"http://h/a.jpg": (record, 'Joe\'s "best" bakery')})
    assert changed.splitlines() == [
        "<img alt=\"Joe's &quot;best&quot; bakery\" src=\"a.jpg\">",
        "<img src='a.jpg' alt='Joe&#x27;s &quot;best&quot; bakery'>",
        "<img src=a.jpg alt=\"Joe's &quot;best&quot; bakery\">",
    ]


def test_a_commented_out_img_is_left_alone() -> None:
    from records import ImageRecord
    from reports.patch_html import patched_html as _patched

    record = ImageRecord(source="http://h/a.jpg", found_in=["img"])
    text = '<!-- old: <img src="a.jpg"> <base href="/x/"> -->\n<img src="a.jpg">\n<!-- unclosed <img src="a.jpg">'
    changed, done = _patched(text, "http://h/", {"http://h/a.jpg": (record, "A cat")})
    assert done == {"http://h/a.jpg": 1}
    assert changed == text.replace('\n<img src="a.jpg">', '\n<img alt="A cat" src="a.jpg">')


def test_a_tracking_pixel_gets_an_empty_alt_and_a_nameless_link_a_name(
    fresh_server: FixtureServer, tmp_path: Path
) -> None:
    """axe-core's image-alt and link-name, fixed by the patch: alt="" on a 1x1 pixel that has no alt, and a
    text on the image that is a link's only content, where alt="" left the link without a name. A 16 px
    icon with no alt may be content: no suggestion, so it is left alone."""
    import io

    from PIL import Image

    pixel = io.BytesIO()
    Image.new("RGB", (1, 1)).save(pixel, "GIF")
    page = ('<html><body><img src="/px.gif" width="1" height="1">\n<a href="/"><img src="/img/logo.jpg" alt=""></a>\n'
            '<img src="/icon.png">\n</body></html>\n')  # fmt: skip
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text(page, encoding="utf-8")
    fresh_server.add("/", page)
    fresh_server.add("/px.gif", pixel.getvalue(), content_type="image/gif")
    fresh_server.add("/img/logo.jpg", make_image(501, 300, "JPEG", seed=9), content_type="image/jpeg")
    fresh_server.add("/icon.png", make_image(16, 16, seed=4), content_type="image/png")
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    report = run_audit([fresh_server.url("/")], options, CaptionsByWidth(CAPTIONS))
    pixel_record = next(r for r in report.pages[0].images if r.source.endswith("/px.gif"))
    assert (pixel_record.suggested_alt, pixel_record.suggestion_basis) == ("", "spacer")
    result = write_fix_patch(report, folder, tmp_path / "alt.patch")
    assert result.tags == 2 and not result.by_hand
    subprocess.run(["git", "apply", str(tmp_path / "alt.patch")], cwd=folder, check=True, capture_output=True)
    patched = (folder / "index.html").read_text(encoding="utf-8")
    assert '<img alt="" src="/px.gif" width="1" height="1">' in patched
    assert '<a href="/"><img src="/img/logo.jpg" alt="A pair of brown leather shoes' in patched
    assert '<img src="/icon.png">' in patched
    fresh_server.add("/", patched)
    again = run_audit([fresh_server.url("/")], options, CaptionsByWidth(CAPTIONS))
    issues = {r.source.rsplit("/", 1)[-1]: set(r.alt_issues) for r in again.pages[0].images}
    assert not issues["px.gif"] and not issues["logo.jpg"] & {"linked_image_no_text", "empty_alt_on_content"}
    assert "missing_alt" in issues["icon.png"]


def test_base_href_picture_sources_srcset_and_a_legacy_encoding(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """An <img> is matched by the URL discovery chose for it (its <picture>'s sources, its srcset), resolved
    against the file's <base href>; a windows-1252 file gets the text as character references, and a
    1x1 pixel with no size attributes is a spacer by the size its bytes say."""
    import io

    from PIL import Image

    pixel = io.BytesIO()
    Image.new("RGB", (1, 1)).save(pixel, "GIF")
    page = ('<html><head><meta charset="windows-1252"><base href="/media/"><title>Caf\xe9</title></head><body>\n'
            '<picture><source type="image/webp" srcset="hero-800.jpg 800w, hero-1600.jpg 1600w">'
            '<img src="hero-400.jpg"></picture>\n<img src="px.gif">\n'
            '<img srcset="shop-1x.jpg 1x, shop-2x.jpg 2x" src="shop-1x.jpg">\n</body></html>\n')  # fmt: skip
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_bytes(page.encode("cp1252"))
    fresh_server.add("/", page.encode("cp1252"), content_type="text/html")
    fresh_server.add("/media/px.gif", pixel.getvalue(), content_type="image/gif")
    fresh_server.add("/media/hero-1600.jpg", make_image(507, 300, "JPEG", seed=1), content_type="image/jpeg")
    fresh_server.add("/media/shop-2x.jpg", make_image(508, 300, "JPEG", seed=2), content_type="image/jpeg")
    captions = CaptionsByWidth({507: "un café crème", 508: "a shop front"})
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    report = run_audit([fresh_server.url("/")], options, captions)
    result = write_fix_patch(report, folder, tmp_path / "alt.patch")
    assert result.tags == 3 and not result.by_hand and not result.held
    subprocess.run(["git", "apply", str(tmp_path / "alt.patch")], cwd=folder, check=True, capture_output=True)
    patched = (folder / "index.html").read_bytes().decode("cp1252")
    assert '<img alt="Un caf&#233; cr&#232;me" src="hero-400.jpg">' in patched
    assert '<img alt="" src="px.gif">' in patched and "<title>Caf\xe9</title>" in patched
    assert '<img alt="A shop front" srcset="shop-1x.jpg 1x, shop-2x.jpg 2x" src="shop-1x.jpg">' in patched
    assert without_alts(patched) == without_alts(page)
    fresh_server.add("/", patched.encode("cp1252"), content_type="text/html")
    again = run_audit([fresh_server.url("/")], options, captions)
    issues = {r.source.rsplit("/", 1)[-1]: set(r.alt_issues) for r in again.pages[0].images}
    assert not issues["hero-1600.jpg"] and not issues["px.gif"] and not issues["shop-2x.jpg"]
    assert next(r for r in again.pages[0].images if r.source.endswith("hero-1600.jpg")).alt == "Un café crème"


def test_in_a_git_repository_the_patch_names_files_from_its_top(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """`git apply` run in a subfolder of a repository reads the patch's names from the repository's top and skips
    (exit 0, not a word) every file outside that subfolder: names relative to --source-dir changed nothing there."""
    folder = site_folder(tmp_path)  # tmp_path/site, in the repository tmp_path
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    report = audit(fresh_server, folder)
    patch = tmp_path / "alt.patch"
    result = write_fix_patch(report, folder, patch)
    assert result.root == tmp_path.resolve() and result.files == 3
    assert "diff --git a/site/index.html b/site/index.html" in patch.read_text(encoding="utf-8")
    command = apply_command(folder, patch)
    assert command == f"git -C {folder} apply {patch.resolve()}"
    subprocess.run(command, shell=True, check=True, capture_output=True)
    assert 'alt="A pair of brown leather shoes' in (folder / "index.html").read_text(encoding="utf-8")
    assert "alt='A blue vase on a shelf'" in (folder / "index.html").read_text(encoding="utf-8")
    assert "alt=" in (folder / "about" / "index.html").read_text(encoding="utf-8")


def test_a_patch_that_cannot_be_written_is_one_sentence(
    fresh_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The patch's folders are made as every report's are; a write that fails at the end (a full disk) is one
    sentence and exit code 4, after the other reports are written, not a traceback."""
    folder = site_folder(tmp_path)
    urls = serve(fresh_server, folder)[:1]
    common = [*urls, "--allow-private", "--render", "never", "--dry-run", "--source-dir", str(folder),
              "--out", str(tmp_path / "c.txt"), "--quiet"]  # fmt: skip
    assert cli.main([*common, "--fix-patch", str(tmp_path / "new" / "folder" / "alt.patch")]) == 0
    assert (tmp_path / "new" / "folder" / "alt.patch").read_text(encoding="utf-8").startswith("# AltScout")
    capsys.readouterr()
    assert cli.main([*common, "--fix-patch", "/dev/full", "--json", str(tmp_path / "r.json")]) == 4
    said = capsys.readouterr().err.strip()
    assert said == "altscout: error: --fix-patch /dev/full was not written: No space left on device"
    assert (tmp_path / "r.json").exists()
    assert cli.main([*common, "--fix-patch", str(tmp_path)]) == 2  # a folder: the example is a patch's name
    assert f"give a file name for --fix-patch, e.g. {tmp_path}/alt.patch" in capsys.readouterr().err
