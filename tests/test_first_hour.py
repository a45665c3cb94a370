"""The first hour: every mistake a new user makes answered with one sentence, nothing computed ever lost.

Each case goes through the real CLI process, or reads pages as a user's site serves them: its exit code,
its one sentence, no traceback (the server's cases: test_first_hour_server.py). The fault test fills a
small tmpfs (root, as CI runs) while reports are written.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import ROOT, FakeCaptioner, FixtureServer, make_image
from test_cli import run_cli, tiny_cli_args

from captioning.base import download_command
from options import AuditOptions

API = "/api/v1/audits"


def one_line(stderr: str) -> str:
    """The single line a mistake gets, with no traceback."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def serve_first_page(server: FixtureServer) -> str:
    """A page of three captioned-to-be images, served once per server (its routes are set again harmlessly)."""
    for i in range(3):
        server.add(f"/first/p{i}.png", make_image(300, 200, seed=90 + i), content_type="image/png")
    body = "".join(f"<img src='p{i}.png' alt='Product {i}' width=300 height=200>" for i in range(3))
    return server.add("/first/index.html", f"<html lang=en><title>First</title><body>{body}</body></html>")


@pytest.fixture(scope="module")
def page(server: FixtureServer) -> str:
    return serve_first_page(server)


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        ([""], "An address is empty; give the page's address, e.g. https://example.com/."),
        (["not a url"], "'not a url' is not a web address; give it as https://example.com/page."),
        (
            ["htps://example.com/shop"],
            "'htps://example.com/shop' is not a web address; give it as https://example.com/shop.",
        ),
        (["https//example.com"], "'https//example.com' is not a web address; give it as https://example.com."),
        (["ftp://example.com/a"], "'ftp://example.com/a' uses the ftp: scheme; only http:// and https:// pages can"),
        (["http://127.0.0.1:9/"], "is a loopback address; add --allow-private to audit loopback and private addresses"),
        (["https://example.com/", "--model", "./no-such-model"], "--model ./no-such-model: there is no such folder"),
        (["https://example.com/", "--max-images", "0"], "--max-images must be positive, got 0."),
        (["https://example.com/", "--per-host", "0"], "--per-host must be positive, got 0."),
        (["https://example.com/", "--min-size", "-5"], "--min-size must not be negative."),
        (["https://example.com/", "--max-image-mb", "-1"], "--max-image-mb must be positive, got -1."),  # as typed
        (["https://example.com/", "--processes", "100000"], "--processes 100000 is more than this machine's"),
        (["https://example.com/", "--fail-on-new"], "--fail-on-new needs --fail-on and --compare."),
        (["https://example.com/", "--max-pages", "50"], "--max-pages works with --crawl, which is not given; "
         "add --crawl to audit the whole site from these URLs, or leave out --max-pages."),  # it changed nothing
        (["https://example.com/", "--exclude", "/cart"], "--exclude works with --crawl, which is not given"),
        (["https://example.com/", "--caption-actors", "2"], "--caption-actors works with --engine ray, which is not "
         "given; add --engine ray, or leave out --caption-actors."),
        (["https://example.com/", "--shard-pages", "5"], "--shard-pages works with --shard-dir, which is not given; "
         "add --shard-dir DIR, or leave out --shard-pages."),
        (["https://example.com/", "--refresh"], "--refresh works with --state, which is not given; add --state "
         "audit.db, or leave out --refresh."),
        (["https://example.com/", "--reports-only"], "--reports-only writes the reports of an audit kept in a state"),
        (["https://example.com/", "--shard-dir", "s", "--xlsx", "a.xlsx"], "--xlsx is not written for --shard-dir"),
        (["https://example.com/", "--fix-patch", "a.patch"], "--fix-patch works with --source-dir, which is not "
         "given; add --source-dir DIR, the folder the site is served from or its project (Hugo, Next.js), or leave "
         "out --fix-patch."),
        (["https://example.com/", "--decisions", "missing.json"], "--decisions missing.json cannot be read"),
        (["https://example.com/", "--compare", "missing.json"], "--compare missing.json cannot be read: No such file"),
        (["https://example.com/", "--translation-model", "de=./m"], "--translation-model is used only when captions"),
        (["https://example.com/", "--browser", "./chrome"], "--browser ./chrome is not an executable file; point it"),
        (["https://example.com/", "--source-dir", "nope", "--fix-patch", "a.patch"], "--source-dir nope: there is no"),
        (["https://example.com/", "--source-dir", __file__, "--fix-patch", "a.patch"],
         f"--source-dir {__file__}: is a file, not a folder; give the folder the site is served from, or its project"),
        (["https://example.com/", "--source-dir", "."], "--source-dir works with --fix-patch, which is not given; "
         "add --fix-patch alt.patch, or leave out --source-dir."),
        (["https://example.com/", "--crawll"], "altscout: error: unknown option --crawll; did you mean --crawl?"),
        (["https://example.com/", "--zzz=1"], "unknown option --zzz; altscout --help lists the options."),
        (["https://example.com/", "--render", "sometimes"], "argument --render: invalid choice: 'sometimes' (choose"),
    ],
)
def test_usage_mistakes_are_one_sentence_before_any_model_loads(args: list[str], sentence: str, tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2 and sentence in one_line(result.stderr)
    assert "loading the captioning model" not in result.stderr and time.monotonic() - started < 30


def test_version_is_one_line_with_what_a_bug_report_needs(capsys: pytest.CaptureFixture[str]) -> None:
    import tomllib

    import app
    import cli

    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for parser, prog in ((cli.build_parser(), "altscout"), (app.build_parser(), "altscout-app")):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(["--version"])
        assert exited.value.code == 0
        line = capsys.readouterr().out
        assert line.startswith(f"{prog} {ours} (Python 3.") and line.count("\n") == 1
        assert "torch 2.13.0" in line and "transformers 5." in line


def test_a_server_flag_mistake_is_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    import app

    with pytest.raises(SystemExit) as exited:
        app.build_parser().parse_args(["--prot", "7860"])
    assert exited.value.code == 2
    assert one_line(capsys.readouterr().err) == "altscout-app: error: unknown option --prot; did you mean --port?"


def test_a_file_that_is_no_review_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from openpyxl import Workbook

    import cli

    (tmp_path / "index.html").write_text("<html><body><p>Not a review</p></body></html>")
    book = Workbook()
    book.active.append(["page", "notes"])
    book.save(tmp_path / "notes.xlsx")
    for name in ("index.html", "notes.xlsx"):
        assert cli.main(["https://example.com/", "--decisions", str(tmp_path / name)]) == 2
        sentence = one_line(capsys.readouterr().err)
        assert f"{name} is no review: it has no url and decision columns; give the CSV or XLSX report" in sentence


def test_a_urls_file_can_be_a_crawlers_csv_export_or_standard_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from options.preflight import InputError
    from options.url_lists import read_url_list

    export = tmp_path / "internal_all.csv"  # Screaming Frog's export: a BOM, quoted cells, an Address column
    rows = ['"Address","Content Type","Status Code"', '"https://example.com/","text/html; charset=UTF-8","200"',
            '"https://example.com/a,b","text/html","200"', '"https://example.com/logo.png","image/png","200"',
            '"https://example.com/site.css","text/css","200"', '"https://example.com/blocked","","0"']  # fmt: skip
    export.write_text("\ufeff" + "\r\n".join(rows) + "\r\n", encoding="utf-8")
    listed = read_url_list(export)
    assert listed.urls == ["https://example.com/", "https://example.com/a,b", "https://example.com/blocked"]
    assert listed.left_out("--urls-file x.csv") == ("--urls-file x.csv: 2 row(s) that are no web page by their "
                                                    "Content Type (image/png, text/css) left out; an image is "
                                                    "audited where a page shows it")  # fmt: skip
    semicolons = tmp_path / "sheet.csv"
    semicolons.write_text("Title;URL\nHome;https://example.com/\n;\n", encoding="utf-8")
    assert read_url_list(semicolons).urls == ["https://example.com/"]
    monkeypatch.setattr("sys.stdin", io.StringIO("# from a pipe\nhttps://example.com/x\n\nexample.com/y\n"))
    assert read_url_list(Path("-")).urls == ["https://example.com/x", "example.com/y"]
    images = tmp_path / "images.csv"
    images.write_text("Address,Content Type\nhttps://example.com/a.jpg,image/jpeg\n", encoding="utf-8")
    with pytest.raises(InputError, match="lists no web page: its Content Type column says image/jpeg"):
        read_url_list(images)
    table = tmp_path / "table.csv"
    table.write_text("name,size\nlogo,12\n", encoding="utf-8")
    with pytest.raises(InputError, match="is a table with no column of addresses"):
        read_url_list(table)


def test_a_compare_file_that_is_no_audit_is_refused_before_any_work(tmp_path: Path) -> None:
    cases = [("list.json", "[1, 2]", "it has no list of pages"),
             ("other.json", '{"pages": [{"status": "ok"}]}', "its pages are not an audit's pages"),
             ("report.csv", "page_url,url\n", "it is not JSON;")]  # fmt: skip
    for name, content, why in cases:
        (tmp_path / name).write_text(content)
        result = run_cli("https://example.com/", "--compare", name, cwd=tmp_path)
        assert result.returncode == 2 and "loading the captioning model" not in result.stderr
        assert f"--compare {name} is not an AltScout JSON report: {why}" in one_line(result.stderr)
        assert one_line(result.stderr).endswith("; give the --json file of an earlier audit.")


def test_a_urls_file_from_notepad_or_excel_is_read(page: str, tiny_blip_dir: Path, tmp_path: Path) -> None:
    """A byte-order mark and CRLF line ends (Notepad, Excel's "CSV UTF-8") are no part of the first URL."""
    from options.preflight import page_url

    listed = tmp_path / "urls.txt"
    listed.write_bytes(f"\ufeff{page}\r\n# done\r\n".encode())
    result = run_cli("--urls-file", str(listed), *tiny_cli_args(tiny_blip_dir), "--json", "r.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [p["url"] for p in json.loads((tmp_path / "r.json").read_text())["pages"]] == [page]
    assert page_url("\u200bhttps://example.com/\ufeff ").url == "https://example.com/"  # pasted from a page
    export = tmp_path / "internal_all.csv"  # a crawler's export of every URL: only its pages are audited
    image = page.rsplit("/", 1)[0] + "/p0.png"
    export.write_text(f"Address,Content Type\n{page},text/html\n{image},image/png\n", encoding="utf-8")
    said = [arg for arg in tiny_cli_args(tiny_blip_dir) if arg != "--quiet"]
    result = run_cli("--urls-file", str(export), *said, "--json", "e.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [p["url"] for p in json.loads((tmp_path / "e.json").read_text())["pages"]] == [page]
    assert f"altscout: --urls-file {export}: 1 row(s) that are no web page by their Content Type (image/png) " \
        "left out; an image is audited where a page shows it" in result.stderr.splitlines()  # fmt: skip


def test_an_interrupted_or_repeated_audit_never_captions_an_image_twice(
    page: str, tiny_blip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --state or --cache, the CLI keeps its captions in the user's cache folder: the next run of
    the command (after Ctrl-C, or a week later) takes them from there; --cache off keeps none."""
    monkeypatch.delenv("ALTSCOUT_CAPTION_CACHE")
    cache = Path(os.environ["ALTSCOUT_CACHE_DIR"]) / "captions"
    shutil.rmtree(cache, ignore_errors=True)
    first = run_cli(page, *tiny_cli_args(tiny_blip_dir), "--json", "r1.json", cwd=tmp_path)
    entries = sorted(cache.rglob("*.json"))
    assert first.returncode == 0 and len(entries) == 3, first.stderr
    for entry in entries:  # mark what the cache holds, to see where the next run's captions come from
        entry.write_text(json.dumps({"caption": "kept from the first run", "raw_caption": "kept"}))
    second = run_cli(page, *tiny_cli_args(tiny_blip_dir), "--json", "r2.json", cwd=tmp_path)
    captions = [i["caption"] for p in json.loads((tmp_path / "r2.json").read_text())["pages"] for i in p["images"]]
    assert second.returncode == 0 and captions == ["kept from the first run"] * 3
    third = run_cli(page, *tiny_cli_args(tiny_blip_dir), "--cache", "off", "--json", "r3.json", cwd=tmp_path)
    captions = [i["caption"] for p in json.loads((tmp_path / "r3.json").read_text())["pages"] for i in p["images"]]
    assert third.returncode == 0 and "kept from the first run" not in captions and not (tmp_path / "off").exists()


def test_ctrl_c_says_what_the_caption_cache_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from cli_notices import kept

    args = argparse.Namespace(state=None, shard_dir=None, data_dir=None, cache=None)
    assert kept(args).startswith("nothing was kept")  # this session turns the default cache off
    monkeypatch.delenv("ALTSCOUT_CAPTION_CACHE")
    assert kept(args).startswith(f"the captions made so far are kept in {os.environ['ALTSCOUT_CACHE_DIR']}/captions")
    assert kept(argparse.Namespace(state=None, shard_dir=None, data_dir=None, cache=Path("off"))).startswith("nothing")


def test_file_mistakes_name_the_flag_and_the_fix(tmp_path: Path) -> None:
    empty = tmp_path / "urls.txt"
    empty.write_text("# nothing yet\n\n")
    result = run_cli("--urls-file", str(empty), cwd=tmp_path)
    assert result.returncode == 2 and one_line(result.stderr).endswith(
        "has no URL in it; put one URL per line (lines that start with # are comments)."
    )
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = run_cli("https://example.com/", "--json", str(blocker / "report.json"), cwd=tmp_path)
    assert result.returncode == 2 and f"--json {blocker}/report.json cannot be written" in one_line(result.stderr)
    result = run_cli("https://example.com/", "--shard-dir", str(blocker / "shards"), cwd=tmp_path)  # was a traceback
    sentence = f"--shard-dir {blocker}/shards cannot be written: {blocker} is a file, not a folder"
    assert result.returncode == 2 and sentence in one_line(result.stderr)
    result = run_cli("https://example.com/", "--state", str(tmp_path), cwd=tmp_path)
    sentence = f"--state {tmp_path} is a folder; give a file name for --state, e.g. {tmp_path}/audit.db."
    assert result.returncode == 2 and sentence in one_line(result.stderr)
    folder = tmp_path / "empty-model"
    folder.mkdir()
    result = run_cli("https://example.com/", "--model", str(folder), cwd=tmp_path)
    assert result.returncode == 2 and "the folder has no config.json, so it holds no saved model" in result.stderr


def test_a_file_where_a_folder_or_a_state_belongs_is_one_sentence(
    page: str, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    """A report given to --state or --cache (they used to end in a traceback), and another program's
    SQLite database given to --state (it used to be written into), are refused and left as they were."""
    report = tmp_path / "r.json"
    report.write_text('{"pages": []}')
    cases = [
        ("--state", "--state r.json is not an AltScout state file (a SQLite database); give a new file name"),
        ("--cache", "--cache r.json is a file, not a folder; give a folder's name (it is made when missing)."),
        ("--data-dir", "--data-dir r.json is a file, not a folder"),
        ("--shard-dir", "--shard-dir r.json is a file, not a folder"),
    ]
    for flag, sentence in cases:
        result = run_cli("https://example.com/", "--model", str(tiny_blip_dir), flag, "r.json", cwd=tmp_path)
        assert result.returncode == 2 and sentence in one_line(result.stderr), flag
    assert report.read_text() == '{"pages": []}'
    jobs = tmp_path / "jobs.db"
    with sqlite3.connect(jobs) as db:
        db.execute("CREATE TABLE jobs (id TEXT)")
    result = run_cli(page, *tiny_cli_args(tiny_blip_dir), "--state", "jobs.db", cwd=tmp_path)
    assert result.returncode == 2 and one_line(result.stderr) == (
        "altscout: error: jobs.db is a database of something else, not an audit's state; use a new --state file."
    )
    with sqlite3.connect(jobs) as db:
        assert [name for (name,) in db.execute("SELECT name FROM sqlite_master")] == ["jobs"]


def test_an_unreachable_hub_is_one_sentence_with_the_installed_download_command(tmp_path: Path) -> None:
    result = run_cli("https://example.com/", "--model", "acme/not-cached-anywhere", "--quiet", cwd=tmp_path)
    line = one_line(result.stderr)  # no retry warnings
    assert result.returncode == 2 and download_command("acme/not-cached-anywhere", "./models/blip") in line
    assert "huggingface-cli" not in line or download_command("x", "y").startswith("huggingface-cli")


def test_a_url_without_a_scheme_falls_back_to_http_where_nothing_speaks_tls_and_says_so(
    page: str, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    """``127.0.0.1:8000/`` (a dev server): https:// first, as typed addresses are; the handshake fails on a
    plain-HTTP server, so the page is read at http://, as browsers fall back, and the report says so."""
    typed = page.removeprefix("http://")
    result = run_cli(typed, *tiny_cli_args(tiny_blip_dir), "--json", "r.json", cwd=tmp_path)
    report = json.loads((tmp_path / "r.json").read_text())
    assert result.returncode == 0, result.stderr
    (audited,) = report["pages"]
    assert (audited["url"], audited["final_url"], audited["status"]) == ("https://" + typed, page, "ok")
    assert len(audited["images"]) == 3
    assert audited["warnings"][0].startswith(
        "no scheme was given and https:// could not connect, the server answers in plain HTTP, not HTTPS; so "
    )
    assert audited["warnings"][0].endswith(f"so {page} was audited over plain http, as browsers fall back")


def test_only_a_missing_tls_service_falls_back_to_http() -> None:
    """A refused connection or a plain-HTTP answer means no TLS there; a certificate a TLS site shows and
    that is not accepted, or a name that does not resolve, is the site's answer and stays an error."""
    import socket
    import ssl

    from scraper.net import no_tls_here

    def wrapped(cause: BaseException) -> Exception:
        outer = requests.exceptions.ConnectionError("wrapped")
        outer.__cause__ = cause
        return outer

    assert no_tls_here(wrapped(ssl.SSLError(1, "WRONG_VERSION_NUMBER")))
    assert no_tls_here(wrapped(ConnectionRefusedError(111, "refused")))
    assert not no_tls_here(wrapped(ssl.SSLCertVerificationError(1, "self-signed certificate")))
    assert not no_tls_here(wrapped(socket.gaierror(-2, "Name or service not known")))


def test_https_typed_for_a_plain_http_server_says_so_even_quietly(
    page: str, tiny_blip_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dev server on http:// given as https://: exit 1, and the reason is one line, --quiet or not."""
    import cli

    https = page.replace("http://", "https://", 1)
    assert cli.main([https, *tiny_cli_args(tiny_blip_dir), "--out", str(tmp_path / "c.txt")]) == 1
    err = capsys.readouterr().err
    assert f"altscout: page failed: {https}: could not connect to 127.0.0.1: the server answers in plain HTTP, " \
        "not HTTPS (give the address with http://)" in err  # fmt: skip
    assert "WRONG_VERSION_NUMBER" not in err


def test_progress_is_plain_lines_off_a_terminal_and_the_first_line_comes_at_once(
    page: str, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    args = [a for a in tiny_cli_args(tiny_blip_dir) if a != "--quiet"]
    result = run_cli(page, *args, cwd=tmp_path)
    lines = result.stderr.splitlines()
    assert result.returncode == 0 and lines[0].startswith("altscout: loading the captioning model ")
    assert f"altscout: page 1/1: {page}: 3 image(s)" in lines
    assert "\x1b[" not in result.stderr and "\r" not in result.stderr  # no terminal escape codes in a log


def test_every_flag_has_help_and_shows_its_default() -> None:
    import cli

    for action in cli.build_parser()._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, action.option_strings
            shown = action.default not in (None, [], False)
            assert not shown or "%(default)" in action.help, action.option_strings


def test_a_report_that_cannot_be_written_loses_nothing_and_reports_only_completes_it(
    page: str, server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    full = tmp_path / "full"
    full.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(full)]).returncode:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root and must mount a small tmpfs for this test")
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    try:
        state = tmp_path / "state.db"
        outputs = ["--out", str(full / "captions.txt"), "--html", str(full / "report.html")]
        outputs += ["--csv", str(full / "r.csv")]
        result = run_cli(page, *tiny_cli_args(tiny_blip_dir), "--state", str(state), *outputs, cwd=tmp_path)
        assert result.returncode == 4, result.stderr
        assert "was not written: No space left on device" in result.stderr and "--reports-only" in result.stderr
        assert {p.name for p in full.iterdir()} <= {"captions.txt", "report.html", "r.csv"}  # nothing half-written
        with sqlite3.connect(state) as db:  # the state is intact: the audit is kept
            assert db.execute("SELECT COUNT(*) FROM pages").fetchone()[0] == 1
        fetched = len(server.requests)
        done = tmp_path / "done"
        again = ["--out", str(done / "captions.txt"), "--html", str(done / "report.html"), "--csv", str(done / "r.csv")]
        rerun = run_cli(page, *tiny_cli_args(tiny_blip_dir), "--state", str(state), "--reports-only", *again,
                        cwd=tmp_path)  # fmt: skip
        assert rerun.returncode == 0, rerun.stderr
        assert all((done / name).stat().st_size > 0 for name in ("captions.txt", "report.html", "r.csv"))
        assert len(server.requests) == fetched  # nothing fetched again, nothing captioned again
    finally:
        subprocess.run(["umount", str(full)], check=False)


def test_an_output_folder_removed_during_the_audit_is_made_again(
    server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    url = server.add("/first/slow.html", "<html><body><img src='p0.png' alt='x'></body></html>", delay_s=3.0)
    out = tmp_path / "out"
    out.mkdir()
    state = tmp_path / "s.db"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    args = [url, *tiny_cli_args(tiny_blip_dir), "--state", str(state), "--json", str(out / "r.json")]
    process = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *args], cwd=tmp_path, env=env)
    deadline = time.monotonic() + 60
    while not state.exists() and time.monotonic() < deadline:  # the checks are over once the state exists
        time.sleep(0.05)
    out.rmdir()
    assert process.wait(timeout=240) == 0
    assert json.loads((out / "r.json").read_text())["pages"][0]["status"] == "ok"


# --------------------------------------------------------------------------- pages, URLs, the browser

SMOOTH = """<!doctype html><html lang=en><head><style>html { scroll-behavior: smooth }</style></head><body>
<div style="height: 5000px">A page as long as a Bootstrap shop's</div>
<img data-src="late.png" alt="Late arrival" class="lazy" width="300" height="200">
<script>new IntersectionObserver(es => es.forEach(e => { if (e.isIntersecting) e.target.src = e.target.dataset.src; }))
.observe(document.querySelector('.lazy'));</script></body></html>"""


def test_smooth_scrolling_pages_are_scrolled_to_the_end_without_a_growth_warning(
    server: FixtureServer, chromium: str
) -> None:
    from pipeline import run_audit

    server.add("/smooth/late.png", make_image(300, 200, seed=7), content_type="image/png")
    url = server.add("/smooth/index.html", SMOOTH)
    options = AuditOptions(render="always", browser_path=chromium, allow_private=True, ocr="off")
    page = run_audit([url], options, FakeCaptioner()).pages[0]
    late = next(r for r in page.images if r.source.endswith("/smooth/late.png"))
    assert late.status == "captioned" and "rendered" in late.found_in
    assert not any("kept growing" in warning or "longer than" in warning for warning in page.warnings)


def test_an_image_url_with_spaces_and_accents_is_one_record_in_both_modes(server: FixtureServer, chromium: str) -> None:
    from pipeline import run_audit

    server.add("/menu/images/caf%C3%A9%20menu%20board.png", make_image(320, 200, seed=8), content_type="image/png")
    url = server.add("/menu/index.html", '<html><body><img src="images/café menu board.png" alt="Menu"></body></html>')
    for mode in ("never", "always"):
        options = AuditOptions(render=mode, browser_path=chromium, allow_private=True, ocr="off")
        captioner = FakeCaptioner()
        images = run_audit([url], options, captioner).pages[0].images
        assert [r.source.rsplit("/", 1)[-1] for r in images] == ["caf%C3%A9%20menu%20board.png"], mode
        assert images[0].status == "captioned" and sum(captioner.batches) == 1


def test_empty_and_self_sources_are_findings_and_never_fetched(fresh_server: FixtureServer) -> None:
    from pipeline import run_audit

    url = fresh_server.add("/p.html", '<html><body><img src="" alt="a"><img src="#" alt="b"></body></html>')
    page = run_audit([url], AuditOptions(render="never", allow_private=True), FakeCaptioner()).pages[0]
    assert [(r.reason, r.seo_issues) for r in page.images] == [("no_source", ["empty_src"])] * 2
    assert fresh_server.routes["/p.html"].hits == 1  # the page, once: never again as an image


def test_a_default_document_and_identical_html_are_one_page_in_a_crawl(fresh_server: FixtureServer) -> None:
    from pipeline import run_audit

    home = "<html><body><a href='/index.html'>home</a><a href='/about'>about</a><img src='/a.png' alt='A'>"
    fresh_server.add("/", home)
    fresh_server.add("/index.html", home)
    fresh_server.add("/about", "<html><body>about us</body></html>")
    fresh_server.add("/a.png", make_image(200, 200), content_type="image/png")
    options = AuditOptions(render="never", crawl=True, allow_private=True)
    report = run_audit([fresh_server.url("/")], options, FakeCaptioner())
    rows = {row["url"].removeprefix(fresh_server.base): (row["status"], row["reason"]) for row in report.site["urls"]}
    assert rows["/"] == ("audited", None) and rows["/about"] == ("audited", None)
    assert rows["/index.html"] == ("skipped", "duplicate_content")


def test_a_slow_answer_and_a_refused_connection_are_told_apart(server: FixtureServer, monkeypatch) -> None:
    import requests as http

    from scraper.errors import FetchError
    from scraper.net import Fetcher, FetchPolicy

    url = server.add("/first/slow-answer", "late", delay_s=2.0)
    fetcher = Fetcher(FetchPolicy(allow_private=True, read_timeout=0.5))
    with pytest.raises(FetchError) as slow:
        fetcher.fetch(url, max_bytes=1000, deadline_s=10, accept="*/*")
    assert slow.value.code == "timeout" and "accepted the connection but did not answer within 0.5 s" in str(slow.value)

    def refuse(*args: object, **kwargs: object) -> None:
        raise http.ConnectTimeout("connect timed out")

    monkeypatch.setattr(http.Session, "get", refuse)
    with pytest.raises(FetchError) as connect:
        Fetcher(FetchPolicy(allow_private=True)).fetch(url, max_bytes=1000, deadline_s=10, accept="*/*")
    assert connect.value.code == "connect_timeout" and "did not accept the connection within" in str(connect.value)
