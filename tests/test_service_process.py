"""The server as a real process: killed with SIGKILL mid-crawl it resumes the job; 50 submissions at once.

The restart test submits a crawl of a slow fixture site through the API, kills the server with
``kill -9`` once a few pages are done, starts it again on the same ``--data-dir`` and checks that the
job ends with the report an uninterrupted run gives, fetching no finished page again and computing
no stored caption again. The load test fires 50 concurrent submissions at a small queue.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests
from conftest import ROOT, FixtureServer, unused_port
from test_resume import PAGES, comparable, serve_chain

API = "/api/v1/audits"


@contextmanager
def app_process(data_dir: Path, model: Path, *extra: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python3 app.py`` on a free port; yields its base URL and the process (killed at the end)."""
    port = unused_port()
    command = [
        sys.executable, str(ROOT / "app.py"), "--data-dir", str(data_dir), "--port", str(port),
        "--model", str(model), "--device", "cpu", "--dtype", "float32", "--allow-private", "--render", "never",
        "--max-new-tokens", "4", "--min-new-tokens", "2", "--per-host", "1", "--batch-size", "2", *extra,
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    log = (data_dir.parent / f"server-{port}.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (data_dir.parent / f"server-{port}.log").read_text()[-3000:]
            try:
                if requests.get(f"{base}/api/v1/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        log.close()


def wait_done(base: str, job_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{base}{API}/{job_id}", timeout=10).json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_kill_9_mid_crawl_then_restart_finishes_the_same_report(
    fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    serve_chain(fresh_server)
    crawl = {"urls": [fresh_server.url("/")], "crawl": True}
    with app_process(tmp_path / "reference", tiny_blip_dir) as (base, _):
        reference_job = requests.post(f"{base}{API}", json=crawl, timeout=10).json()
        assert wait_done(base, reference_job["id"])["state"] == "done"
        reference = requests.get(f"{base}{API}/{reference_job['id']}/report.json", timeout=10).json()
    for route in fresh_server.routes.values():
        route.hits = 0

    data = tmp_path / "data"
    with app_process(data, tiny_blip_dir) as (base, process):
        job_id = requests.post(f"{base}{API}", json=crawl, timeout=10).json()["id"]
        state = data / "jobs" / job_id / "state.db"
        deadline = time.monotonic() + 120
        while requests.get(f"{base}{API}/{job_id}", timeout=10).json()["progress"]["pages_done"] < 4:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    with sqlite3.connect(state) as db:
        audited_before = {url for (url,) in db.execute("SELECT url FROM urls WHERE status = 'audited'")}
        captions_before = db.execute("SELECT COUNT(*) FROM captions").fetchone()[0]
    with sqlite3.connect(data / "jobs.db") as db:
        assert db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()[0] == "running"
    assert 4 <= len(audited_before) < PAGES + 1
    hits_at_kill = {path: route.hits for path, route in fresh_server.routes.items()}

    with app_process(data, tiny_blip_dir) as (base, _):
        job = wait_done(base, job_id)
        assert job["state"] == "done" and job["resumed_after_restart"] == 1
        resumed = requests.get(f"{base}{API}/{job_id}/report.json", timeout=10).json()
        for name in ("report.csv", "report.html", "captions.txt", "pages.csv"):
            assert requests.get(f"{base}{API}/{job_id}/{name}", timeout=10).status_code == 200
    for url in audited_before:  # no page audited before the kill is fetched again
        path = "/" + url.split("/", 3)[3]
        assert fresh_server.routes[path].hits == hits_at_kill[path], path
    distinct = {i["sha256"] for p in resumed["pages"] for i in p["images"] if i["sha256"]}
    assert resumed["site"]["captioned_this_run"] == len(distinct) - captions_before  # none computed twice
    assert comparable(resumed) == comparable(reference)

    with app_process(data, tiny_blip_dir) as (base, _):  # a later start still serves the finished report
        assert requests.get(f"{base}{API}/{job_id}/report.json", timeout=10).json() == resumed


def test_fifty_concurrent_submissions(fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path) -> None:
    serve_chain(fresh_server)
    with app_process(tmp_path / "data", tiny_blip_dir, "--queue-size", "10", "--workers", "1") as (base, process):
        body = {"urls": [fresh_server.url("/")], "crawl": True, "options": {"max_pages": 3}}
        before = rss_mib(process.pid)

        def post(_: int) -> tuple[int, dict]:
            answer = requests.post(f"{base}{API}", json=body, timeout=60)
            return answer.status_code, answer.json()

        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(post, range(50)))
        statuses = [status for status, _ in answers]
        accepted = [payload["id"] for status, payload in answers if status == 202]
        assert set(statuses) <= {202, 429}, statuses
        assert 10 <= len(accepted) <= 11  # ten may wait; one may already have been taken to run
        for status, payload in answers:
            if status == 429:
                assert payload["error"].startswith("The server is busy:") and "\n" not in payload["error"]
        assert requests.get(f"{base}/api/v1/health", timeout=10).ok and process.poll() is None
        assert rss_mib(process.pid) - before < 300

        for job_id in accepted:
            requests.post(f"{base}{API}/{job_id}/cancel", timeout=10)
        for job_id in accepted:
            assert wait_done(base, job_id)["state"] in ("done", "cancelled")
        later = requests.post(f"{base}{API}", json=body, timeout=10)
        assert later.status_code == 202
        finished = wait_done(base, later.json()["id"])
        assert finished["state"] == "done" and finished["summary"]["site"]["pages_audited"] == 3
        assert json.loads(requests.get(f"{base}{API}/{later.json()['id']}/report.json", timeout=10).text)["pages"]
