"""Sharded output (``--shard-dir``): shards with completion markers, reports built from them by
streaming, and reruns that never recompute a completed shard (a real CLI process, a real kill -9)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, FakeCaptioner, FixtureServer, make_image
from test_resume import PAGES, comparable, serve_chain

from options import AuditOptions
from pipeline import AuditFinished, audit, run_audit
from records import PageReport
from reports import SCHEMA_PATH, write_captions_txt, write_csv, write_html, write_json, write_pages_csv
from reports.sharded import ShardReports, build_reports
from state.shards import ShardError, ShardWriter, markers
from state.store import AUDITED, QUEUED, AuditStore


def serve_site(server: FixtureServer) -> None:
    """The chain site, a failing page, the same photo with different alt text on two pages (and on a third,
    declared too small to read), and a linked mark too small to caption on a page that does not state the
    site's name (the home page does)."""
    serve_chain(server)
    server.add("/img/shared.png", make_image(240, 160, seed=77), content_type="image/png")
    server.add("/img/mark.png", make_image(24, 24, seed=78), content_type="image/png")
    home = server.routes["/"].body.replace(b"</body>", b"<a href='/x'>x</a><a href='/y'>y</a><a href='/broken'>b</a>"
                                           b"<a href='/z'>z</a></body>")  # fmt: skip
    server.add("/", home.replace(b"<html>", b"<html><head><meta property='og:site_name' content='Chain Co'></head>"))
    server.add("/x", "<html><body><img src='/img/shared.png' alt='A red chair'></body></html>")
    server.add("/y", "<html><body><img src='/img/shared.png' alt='Chair'><a href='/'><img src='/img/mark.png'></a>"
               "</body></html>")  # fmt: skip
    server.add("/broken", "oops", status=500)
    server.add("/z", "<html><body><img src='/img/shared.png' width='30' height='20' alt='Chair'></body></html>")


def site_options(tmp_path: Path, **extra: object) -> AuditOptions:
    return AuditOptions(allow_private=True, render="never", ocr="off", crawl=True, **extra)  # type: ignore[arg-type]


def sharded_report(folder: Path, captioner: FakeCaptioner, url: str, tmp_path: Path, **extra: object) -> Path:
    options = site_options(tmp_path, shard_dir=str(folder), shard_pages=4, **extra)
    finished = [e for e in audit([url], options, captioner) if isinstance(e, AuditFinished)]
    assert finished[0].shard_dir == str(folder) and finished[0].report.pages == []
    build_reports(folder, ShardReports.in_folder(folder))
    return folder


def test_reports_built_from_shards_match_the_in_memory_reports(
    fresh_server: FixtureServer, fake_captioner: FakeCaptioner, tmp_path: Path
) -> None:
    serve_site(fresh_server)
    url = fresh_server.url("/")
    report = run_audit([url], site_options(tmp_path, state_path=str(tmp_path / "whole.db")), fake_captioner)
    whole = tmp_path / "whole"
    whole.mkdir()
    write_json(report, whole / "report.json")
    write_csv(report, whole / "report.csv")
    write_pages_csv(report, whole / "pages.csv")
    write_captions_txt(report, whole / "captions.txt")
    write_html(report, whole / "report.html")
    folder = sharded_report(tmp_path / "shards", fake_captioner, url, tmp_path)

    done = markers(folder)
    assert [m["shard"] for m in done] == list(range(len(done))) and sum(m["pages"] for m in done) == PAGES + 5
    assert all(m["pages"] <= 4 for m in done) and not list(folder.glob("*.part"))
    data = json.loads((folder / "report.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    expected = json.loads((whole / "report.json").read_text())
    for document in (data, expected):  # the shards hold pages in the order they finished
        for image in document["images"]:
            image["pages"] = sorted(image["pages"], key=lambda row: row["page"])
        document["images"] = sorted(document["images"], key=lambda image: image["urls"])
    assert comparable(data) == comparable(expected)
    (chair,) = (i for i in data["images"] if i["urls"][0].endswith("/img/shared.png"))  # one image, read or not
    assert chair["inconsistent_alt"] and len(chair["pages"]) == 3  # found across shards' pages
    assert chair["status"] == "captioned" and chair["caption"]  # the facts of the pages that read it
    y_page = next(page for page in data["pages"] if page["url"].endswith("/y"))
    assert y_page["site_name"] is None and "Chain Co home page" in [i["suggested_alt"] for i in y_page["images"]]

    def rows(path: Path) -> list[str]:
        return sorted(json.dumps(row, sort_keys=True) for row in csv.DictReader(path.open(encoding="utf-8-sig")))

    assert rows(folder / "report.csv") == rows(whole / "report.csv")
    assert (folder / "pages.csv").read_text() == (whole / "pages.csv").read_text()  # both in discovery order
    blocks = sorted((folder / "captions.txt").read_text().strip().split("\n\n"))
    assert blocks == sorted((whole / "captions.txt").read_text().strip().split("\n\n"))
    html, whole_html = (folder / "report.html").read_text(), (whole / "report.html").read_text()
    for needle in ('class="site-image', '<h2 id="page-', "Same image, different alt", "</html>"):
        assert html.count(needle) == whole_html.count(needle), needle


def test_a_rerun_of_a_finished_shard_folder_recomputes_nothing(
    fresh_server: FixtureServer, fake_captioner: FakeCaptioner, tmp_path: Path
) -> None:
    serve_site(fresh_server)
    url = fresh_server.url("/")
    folder = sharded_report(tmp_path / "shards", fake_captioner, url, tmp_path)
    before = {path.name: path.stat().st_mtime_ns for path in folder.glob("shard-*")}
    hits = sum(route.hits for route in fresh_server.routes.values())
    captioned = sum(fake_captioner.batches)
    first = json.loads((folder / "report.json").read_text())
    sharded_report(folder, fake_captioner, url, tmp_path)
    assert {path.name: path.stat().st_mtime_ns for path in folder.glob("shard-*")} == before
    assert (
        sum(route.hits for route in fresh_server.routes.values()) == hits and sum(fake_captioner.batches) == captioned
    )
    assert comparable(json.loads((folder / "report.json").read_text())) == comparable(first)


def test_unfinished_shards_are_dropped_and_completed_ones_replayed(tmp_path: Path) -> None:
    folder = tmp_path / "shards"
    store = AuditStore(tmp_path / "state.db")
    for url in ("http://a/1", "http://a/2", "http://a/3"):
        store.add_url(url, 0, "start", None, QUEUED)
    writer = ShardWriter(folder, 2, store)
    assert writer.add("http://a/1", PageReport(url="http://a/1"), AUDITED, None, None) == []
    assert writer.add("http://a/2", PageReport(url="http://a/2"), AUDITED, None, None) == ["http://a/1", "http://a/2"]
    writer.add("http://a/3", PageReport(url="http://a/3"), AUDITED, None, None)
    writer.abandon()  # the run stops with shard 1 open
    (folder / "shard-00002.jsonl.gz").write_bytes(b"left by a dead run, no marker")
    with store.transaction():  # as if the process died between the marker and the store
        store.set_status("http://a/2", QUEUED)
    again = ShardWriter(folder, 2, store)
    assert sorted(p.name for p in folder.iterdir()) == ["shard-00000.done", "shard-00000.jsonl.gz"]
    assert again.pages == 2 and again.next_number == 1
    assert store.url("http://a/2").status == AUDITED and store.url("http://a/3").status == QUEUED
    store.close()


def test_a_damaged_shard_is_refused(fresh_server: FixtureServer, fake_captioner: FakeCaptioner, tmp_path: Path) -> None:
    serve_site(fresh_server)
    folder = sharded_report(tmp_path / "shards", fake_captioner, fresh_server.url("/"), tmp_path)
    shard = folder / "shard-00001.jsonl.gz"
    shard.write_bytes(gzip.compress(b'{"status": "audited", "page": {"url": "http://evil/"}}\n'))
    with pytest.raises(ShardError, match="does not match its completion marker"):
        build_reports(folder, ShardReports.in_folder(folder))


def _fingerprints(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.glob("shard-*")}


def test_kill_9_then_rerun_recomputes_no_completed_shard(
    fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    """A real CLI process killed after two shards completed: the rerun keeps them as they are."""
    serve_chain(fresh_server)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    folder = tmp_path / "run"
    command = [
        sys.executable, str(ROOT / "cli.py"), fresh_server.url("/"), "--crawl", "--shard-dir", str(folder),
        "--shard-pages", "3", "--model", str(tiny_blip_dir), "--allow-private", "--render", "never", "--quiet",
        "--max-new-tokens", "4", "--min-new-tokens", "2", "--per-host", "1", "--batch-size", "2",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None and len(list(folder.glob("*.done"))) < 2:
        time.sleep(0.05)
    assert process.poll() is None, "the crawl ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    kept = _fingerprints(folder)
    done_urls = [url for marker in markers(folder) for url, *_ in marker["urls"]]
    assert len(markers(folder)) >= 2 and not (folder / "report.json").exists()
    hits_at_kill = {path: route.hits for path, route in fresh_server.routes.items()}

    again = subprocess.run(command, env=env, timeout=300)
    assert again.returncode == 0
    assert {name: digest for name, digest in _fingerprints(folder).items() if name in kept} == kept
    for url in done_urls:  # no page of a completed shard is fetched again
        path = "/" + url.split("/", 3)[3]
        assert fresh_server.routes[path].hits == hits_at_kill[path], path
    report = json.loads((folder / "report.json").read_text())
    urls = [page["url"] for page in report["pages"]]
    assert len(urls) == len(set(urls)) == PAGES + 1  # every page once: none lost, none twice
    assert sum(len(page["images"]) for page in report["pages"]) == 1 + PAGES * 3
    assert len(markers(folder)) == -(-(PAGES + 1) // 3) and not list(folder.glob("*.part"))
    for name in ("captions.txt", "report.csv", "pages.csv", "report.html"):
        assert (folder / name).stat().st_size > 0


def test_cli_refuses_shards_with_compare(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "http://example.com/", "--shard-dir", str(tmp_path / "s"),
         "--compare", str(tmp_path / "old.json")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--shard-dir cannot be combined with --compare" in done.stderr
