"""A crawl killed with SIGKILL continues where it stopped: real CLI processes, a real kill -9.

The rerun must fetch no page that was audited before the kill, compute no caption that was
stored before it, and end with the report an uninterrupted run gives.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, FixtureServer, make_image

PAGES = 12


def serve_chain(server: FixtureServer) -> None:
    """A home page linking 12 slow pages; each has two photos of its own and the shared logo."""
    server.add("/img/logo.png", make_image(300, 120, seed=950), content_type="image/png")
    links = "".join(f'<a href="/p{i}">Page {i}</a>' for i in range(PAGES))
    server.add("/", f"<html><body><img src='/img/logo.png' alt='Logo'>{links}</body></html>")
    for i in range(PAGES):
        photos = "".join(f"<img src='/img/p{i}-{k}.png' alt='Photo {k}'>" for k in range(2))
        server.add(f"/p{i}", f"<html><body><img src='/img/logo.png' alt='Logo'>{photos}</body></html>", delay_s=0.4)
        for k in range(2):
            server.add(f"/img/p{i}-{k}.png", make_image(200, 150, seed=1000 + 2 * i + k), content_type="image/png")


def cli(server: FixtureServer, model: Path, state: Path, out: Path) -> list[str]:
    return [
        sys.executable, str(ROOT / "cli.py"), server.url("/"), "--crawl", "--state", str(state), "--json", str(out),
        "--out", str(out.with_suffix(".txt")), "--model", str(model), "--allow-private", "--render", "never",
        "--quiet", "--max-new-tokens", "4", "--min-new-tokens", "2", "--per-host", "1", "--batch-size", "2",
    ]  # fmt: skip


def comparable(report: dict) -> dict:
    """The report without what differs between runs by nature (timings, the run's own work)."""
    report = json.loads(json.dumps(report))
    report["summary"].pop("elapsed_s")
    report["site"].pop("captioned_this_run")
    (report["site"].get("changes") or {}).pop("requests", None)  # what this process sent to the site
    for counter in ("images_read", "detect_s", "recognise_s"):  # OCR work of this run
        report["model"]["ocr"].pop(counter, None)
    report["pages"] = sorted(report["pages"], key=lambda page: page["url"])
    report["site"]["urls"] = sorted(report["site"]["urls"], key=lambda row: row["url"])
    return report


def test_kill_9_then_rerun_continues_without_repeating_work(
    fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    serve_chain(fresh_server)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    reference = tmp_path / "reference.json"
    done = subprocess.run(cli(fresh_server, tiny_blip_dir, tmp_path / "ref.db", reference), env=env, timeout=300)
    assert done.returncode == 0
    for route in fresh_server.routes.values():
        route.hits = 0

    state, out = tmp_path / "state.db", tmp_path / "resumed.json"
    process = subprocess.Popen(cli(fresh_server, tiny_blip_dir, state, out), env=env)
    deadline = time.monotonic() + 240
    audited_before: set[str] = set()
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
        if state.exists():
            with sqlite3.connect(state) as db:
                try:
                    audited_before = {u for (u,) in db.execute("SELECT url FROM urls WHERE status = 'audited'")}
                except sqlite3.OperationalError:
                    continue
            if len(audited_before) >= 4:
                break
    assert process.poll() is None, "the crawl ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    with sqlite3.connect(state) as db:
        audited_before = {u for (u,) in db.execute("SELECT url FROM urls WHERE status = 'audited'")}
        captions_before = db.execute("SELECT COUNT(*) FROM captions").fetchone()[0]
    assert 4 <= len(audited_before) < PAGES + 1 and not out.exists()
    hits_at_kill = {path: route.hits for path, route in fresh_server.routes.items()}

    again = subprocess.run(cli(fresh_server, tiny_blip_dir, state, out), env=env, timeout=300)
    assert again.returncode == 0
    resumed = json.loads(out.read_text())
    for url in audited_before:  # no page audited before the kill is fetched again
        path = "/" + url.split("/", 3)[3]
        assert fresh_server.routes[path].hits == hits_at_kill[path], path
    distinct = {i["sha256"] for p in resumed["pages"] for i in p["images"] if i["sha256"]}
    assert resumed["site"]["captioned_this_run"] == len(distinct) - captions_before  # none computed twice
    assert comparable(resumed) == comparable(json.loads(reference.read_text()))


def test_ctrl_c_is_one_line_that_says_what_is_kept_and_the_same_command_continues(
    fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    """SIGINT (Ctrl-C) mid-crawl: exit 130 and one line, not a traceback from a worker's wait; with
    --state, what finished stays and the same command ends the audit."""
    serve_chain(fresh_server)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    state, out = tmp_path / "state.db", tmp_path / "r.json"
    command = cli(fresh_server, tiny_blip_dir, state, out)
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None and fresh_server.routes["/p1"].hits == 0:
        time.sleep(0.05)
    assert process.poll() is None, "the crawl ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines() == [
        f"altscout: interrupted; what finished is kept in {state}: run the same command to continue"
    ]
    assert not out.exists()
    again = subprocess.run(command, env=env, timeout=300)
    assert again.returncode == 0 and len(json.loads(out.read_text())["pages"]) == PAGES + 1
