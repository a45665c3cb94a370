"""``--dry-run``: the pages are read, the checks that need no caption run and gate CI, and no image is
downloaded or captioned, with no model at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FixtureServer, make_image

import cli

PAGES = {
    "/dry/": '<html><head><title>Home</title></head><body><a href="/dry/about"><img src="/dry/logo.png"></a>'
    '<img src="/dry/cake.jpg" alt="IMG_0042.jpg"><img src="/dry/shop.jpg" alt="Our shop">'
    '<img src="/dry/icon.png" width="16" height="16" alt=""></body></html>',
    "/dry/about": '<html><head><title>About</title></head><body><img src="/dry/shop.jpg" alt="The bakery">'
    "</body></html>",
}
IMAGES = ("/dry/logo.png", "/dry/cake.jpg", "/dry/shop.jpg", "/dry/icon.png")


@pytest.fixture()
def site(fresh_server: FixtureServer) -> FixtureServer:
    for path, html in PAGES.items():
        fresh_server.add(path, html)
    for i, path in enumerate(IMAGES):
        fresh_server.add(path, make_image(300, 200, "JPEG", seed=i), content_type="image/jpeg")
    return fresh_server


def test_a_dry_run_reads_pages_only_and_gates_on_what_the_markup_says(
    site: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "dry.json"
    args = [site.url("/dry/"), "--crawl", "--dry-run", "--allow-private", "--render", "never", "--fail-on",
            "critical", "--model", str(tmp_path / "no-model-here"), "--json", str(report),
            "--out", str(tmp_path / "c.txt")]  # fmt: skip
    assert cli.main(args) == 3  # the missing alt of a linked image, found without any model
    err = capsys.readouterr().err
    assert "dry run: reading the pages only" in err and "loading the captioning model" not in err
    assert "missing_alt (1, critical)" in err
    assert all(site.routes[path].hits == 0 for path in IMAGES)  # not one image request
    data = json.loads(report.read_text())
    images = {(page["url"].rsplit("/", 1)[-1], image["url"].rsplit("/", 1)[-1]): image
              for page in data["pages"] for image in page["images"]}  # fmt: skip
    reasons = {name: image["reason"] for (_, name), image in images.items()}
    assert reasons.pop("icon.png") == "too_small"  # skipped as any audit would skip it, before "dry run"
    assert set(reasons.values()) == {"dry_run"} and data["summary"]["captioned"] == 0
    assert {"missing_alt", "linked_image_no_text"} <= set(images[("", "logo.png")]["alt_issues"])
    assert images[("", "logo.png")]["suggested_alt"] == "About"  # where its link goes; no caption to say more
    assert "filename_alt" in images[("", "cake.jpg")]["alt_issues"]
    assert "inconsistent_alt" in images[("about", "shop.jpg")]["alt_issues"]  # "Our shop" / "The bakery"


@pytest.mark.parametrize(
    ("extra", "sentence"),
    [
        (["--state", "s.db"], "a dry run keeps no state and runs on the local engine"),
        (["--data-dir", "jobs"], "A dry run keeps nothing, so it is no job of --data-dir; leave out --data-dir."),
    ],
)
def test_a_dry_run_keeps_nothing(extra: list[str], sentence: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["http://127.0.0.1:9/", "--allow-private", "--dry-run", *extra]) == 2
    err = capsys.readouterr().err
    assert sentence in err and len(err.strip().splitlines()) == 1


def test_a_dry_run_compared_with_a_full_audit_counts_no_caption_finding_as_fixed(site: FixtureServer) -> None:
    """What only the image shows (a caption that disagrees with the alt, a broken image) is not comparable
    with a dry run, either way; what the markup shows compares as always."""
    from conftest import CaptionsByWidth

    from auditing.compare import compare
    from auditing.registry import ISSUES, NEEDS_THE_IMAGE
    from options import AuditOptions
    from pipeline import run_audit

    assert set(ISSUES) >= NEEDS_THE_IMAGE
    site.add("/dry/gone.jpg", status=404)
    site.routes["/dry/"].body = site.routes["/dry/"].body.replace(b"</body>", b'<img src="/dry/gone.jpg" alt="x">'
                                                                   b"</body>")  # fmt: skip
    options = AuditOptions(render="never", allow_private=True, ocr="off", crawl=True)
    full = run_audit([site.url("/dry/")], options, CaptionsByWidth({300: "a bowl of soup"}))
    dry = run_audit([site.url("/dry/")], AuditOptions(**{**options.to_dict(), "dry_run": True}), CaptionsByWidth({}))
    full_json = full.to_dict()
    kinds = {row["check"] for row in compare(full, full_json)["findings"]}
    assert {"alt_mismatch", "broken_image", "missing_alt"} <= kinds  # the full audit found both kinds
    for comparison in (compare(dry, full_json), compare(full, dry.to_dict())):
        states = {(row["check"], row["state"]) for row in comparison["findings"]}
        assert ("missing_alt", "persisting") in states
        assert not {state for check, state in states if check in NEEDS_THE_IMAGE} - {"not_comparable"}
