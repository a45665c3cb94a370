"""End to end: ``python cli.py`` on the fixture site with the tiny random BLIP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, FixtureServer
from site_fixture import build_site

from reports import SCHEMA_PATH


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )


def tiny_cli_args(model_dir: Path) -> list[str]:
    """Flags that run the CLI on the tiny BLIP against the loopback server, quietly and fast."""
    return [
        *("--model", str(model_dir), "--allow-private", "--quiet", "--render", "never"),
        *("--max-new-tokens", "4", "--min-new-tokens", "2"),
    ]


@pytest.fixture(scope="module")
def site(server: FixtureServer) -> tuple[str, dict]:
    return build_site(server)


def test_cli_end_to_end_with_tiny_blip(site, server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path) -> None:
    page, expected = site
    urls_file = tmp_path / "urls.txt"
    urls_file.write_text(f"# pages\n{server.url('/nope.html')}\n")
    reviewed = [source for source, (status, _) in expected.items() if status == "captioned"][:2]
    (tmp_path / "decisions.json").write_text(json.dumps([
        {"url": reviewed[0], "decision": "reject"}, {"url": reviewed[1], "decision": "edit", "text": "Edited alt"},
    ]))  # fmt: skip
    result = run_cli(
        page,
        "--urls-file",
        str(urls_file),
        "--model",
        str(tiny_blip_dir),
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--allow-private",
        "--render",
        "never",
        "--max-new-tokens",
        "6",
        "--min-new-tokens",
        "3",
        "--max-image-mb",
        "1",
        "--timeout",
        "2",
        "--batch-size",
        "4",
        "--json",
        "report.json",
        "--csv",
        "report.csv",
        "--decisions",
        "decisions.json",
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr  # one of the two pages failed
    assert "Traceback" not in result.stderr
    assert "page failed" in result.stderr and "images" in result.stderr
    data = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    images = data["pages"][0]["images"]
    assert len(images) == len(expected)
    captioned = [i for i in images if i["status"] == "captioned"]
    outcomes = {i["url"]: (i["status"], i["reason"]) for i in images}
    for source, want in expected.items():
        got = next(v for k, v in outcomes.items() if source.startswith(k.split("…")[0]))
        assert got == want, source
    assert all(i["caption"] and i["raw_caption"] is not None for i in captioned)
    assert data["model"]["id"] == str(tiny_blip_dir) and data["model"]["batch_size"] == 4
    lines = (tmp_path / "captions.txt").read_text().splitlines()
    assert lines[0] == f"# Page: {page}"
    caption_lines = [line for line in lines if not line.startswith("#") and line]
    assert len(caption_lines) == len(captioned)
    for image in captioned:
        assert f"{image['url']}: {image['caption']}" in caption_lines
    assert any(line.startswith("# captioned") and "too_small" in line for line in lines)
    assert (tmp_path / "report.csv").read_text().count("\n") == len(images) + 2
    by_url = {image["url"]: image for image in images}
    assert by_url[reviewed[0]]["decision"] == "rejected"  # kept in the report, never exported
    assert by_url[reviewed[1]]["decision"] == "edited" and by_url[reviewed[1]]["suggested_alt"] == "Edited alt"


def test_cli_exit_0_when_all_pages_audited(server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path) -> None:
    from conftest import make_image

    server.add("/exit0.png", make_image(300, 200, seed=1), content_type="image/png")
    server.add("/one.html", "<img src='/exit0.png' alt='x'>")
    result = run_cli(
        server.url("/one.html"),
        *tiny_cli_args(tiny_blip_dir),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert (tmp_path / "captions.txt").read_text().count(server.url("/exit0.png") + ": ") == 1


def test_cli_model_error_is_one_sentence_exit_2(tmp_path: Path) -> None:
    result = run_cli("https://example.com/", "--model", str(tmp_path / "missing-model"), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "missing-model" in lines[0] and "--model" in lines[0]
    assert not (tmp_path / "captions.txt").exists()


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli(cwd=tmp_path).returncode == 2
    bad = run_cli("https://example.com/", "--batch-size", "0", cwd=tmp_path)
    assert bad.returncode == 2 and "batch-size must be positive" in bad.stderr


def test_cli_debug_shows_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "blip"}')  # passes the checks, fails to load
    result = run_cli("https://example.com/", "--model", str(broken), "--debug", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" in result.stderr


def test_cli_renders_a_js_page_and_says_so(
    server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path, chromium: str
) -> None:
    from render_fixture import build_js_site

    build_js_site(server)
    page = server.url("/js/app.html")
    args = [*tiny_cli_args(tiny_blip_dir)]
    args[args.index("never")] = "always"
    result = run_cli(page, *args, "--json", "r.json", "--html", "r.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
    images = report["pages"][0]["images"]
    assert report["pages"][0]["rendered"] and len(images) == 4
    assert all(i["status"] == "captioned" and "rendered" in i["found_in"] for i in images)
    assert all((i["rendered_width"], i["rendered_height"], i["visible"]) == (300, 200, True) for i in images)
    assert "read in a headless browser" in (tmp_path / "r.html").read_text()


def test_cli_static_js_page_warns_on_stderr(server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path) -> None:
    from render_fixture import build_js_site

    build_js_site(server)
    args = [a for a in tiny_cli_args(tiny_blip_dir) if a != "--quiet"]
    result = run_cli(server.url("/js/app.html"), *args, cwd=tmp_path)
    assert result.returncode == 0
    assert "warning:" in result.stderr and "looks client-rendered" in result.stderr


def test_cli_render_always_without_a_browser_is_one_line(tiny_blip_dir: Path, tmp_path: Path) -> None:
    args = [*tiny_cli_args(tiny_blip_dir), "--browser", str(tmp_path / "no-chromium")]
    args[args.index("never")] = "always"
    result = run_cli("http://127.0.0.1:9/", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-chromium is not an executable file" in lines[0]


def test_cli_a_browser_that_does_not_start_is_one_line(tiny_blip_dir: Path, tmp_path: Path) -> None:
    import shutil

    args = [*tiny_cli_args(tiny_blip_dir), "--browser", str(shutil.which("true"))]
    args[args.index("never")] = "always"
    result = run_cli("http://127.0.0.1:9/", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    true = shutil.which("true")
    assert len(lines) == 1 and lines[0].startswith(f"altscout: error: Chromium at {true} did not start (")
    fix = "point --browser at a Chromium or Chrome executable that runs here, or use --render never."
    assert lines[0].endswith(fix)


def test_cli_announces_where_the_model_loads(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    import cli
    from options import AuditOptions

    cli.announce(AuditOptions(model="m"), argparse.Namespace(quiet=False))
    cli.announce(AuditOptions(model="m", engine="ray"), argparse.Namespace(quiet=False))
    cli.announce(AuditOptions(model="m"), argparse.Namespace(quiet=True))
    assert capsys.readouterr().err.splitlines() == [
        "altscout: loading the captioning model m …",
        "altscout: starting the Ray engine; its caption actors load m …",
    ]


@pytest.mark.parametrize("sharded", [False, True])
def test_a_crawl_that_audits_nothing_says_why_and_exits_1(
    fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path, sharded: bool
) -> None:
    """A robots.txt that disallows the whole site: the crawl audits no page. It ended "0 page(s)" with exit 0,
    so a CI gate passed on a site it never read; now one line names the start URL and why, even with
    --quiet, and the exit code is 1."""
    fresh_server.add("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
    fresh_server.add("/", "<html><body><img src='/a.png'></body></html>")
    start = fresh_server.url("/")
    shards = ["--shard-dir", str(tmp_path / "shards")] if sharded else []
    result = run_cli(start, "--crawl", "--fail-on", "serious", *shards, *tiny_cli_args(tiny_blip_dir), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if "no page was audited" in line]
    assert lines == [f"altscout: no page was audited: {start} was skipped (robots: robots.txt of "
                     f"{start.split('/')[2]} disallows {start} (use --ignore-robots to override))"]  # fmt: skip
    assert "/" not in [path for path, _ in fresh_server.requests]  # the page itself is never asked for
