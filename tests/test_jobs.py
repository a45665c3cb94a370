"""The job store, the runner's stages, API keys, request validation, and the CLI on the same store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from conftest import FakeCaptioner, FixtureServer, make_image, serving
from pydantic import ValidationError

import cli
from options import AuditOptions
from service import Service
from service.jobs import CLI_OWNER, Job, JobNotFoundError, JobStore, Limits, QueueFullError
from service.keys import KeyFileError, KeyRing, read_key_file
from service.runner import run_job
from service.submit import AuditRequest, ServerLimits, SubmitError, build_options, sentence
from service.views import progress_line, recent_markdown, summary_markdown, table_rows


def queue(store: JobStore, n: int = 1, owner: str = "web", limits: Limits | None = None) -> list[Job]:
    return [store.submit([f"http://s.test/{i}"], False, {}, "s.test", owner, limits) for i in range(n)]


def test_queue_bound_and_claim_order(tmp_path: Path) -> None:
    store = JobStore(tmp_path, Limits(max_queued=3))
    first, second, third = queue(store, 3)
    with pytest.raises(QueueFullError, match="The server is busy: 3 audits are waiting"):
        queue(store)
    assert store.claim().id == first.id  # oldest first
    assert store.recover() == [first.id]  # a restart: the running job waits again, ahead of the rest
    assert store.get(first.id).resumes == 1
    assert [store.claim().id for _ in range(3)] == [first.id, second.id, third.id]
    assert store.claim() is None


def test_per_key_limits(tmp_path: Path) -> None:
    store = JobStore(tmp_path, Limits(max_queued=10))
    alice = Limits(max_queued=10, per_key_queued=2, per_key_running=1)
    a1, a2 = queue(store, 2, "alice", alice)
    with pytest.raises(QueueFullError, match="This API key already has 2 audits waiting"):
        queue(store, 1, "alice", alice)
    (b1,) = queue(store, 1, "bob", alice)
    limits = {"alice": alice, "bob": alice}
    assert store.claim(limits).id == a1.id
    assert store.claim(limits).id == b1.id  # alice's second waits while her first runs
    assert store.claim(limits) is None
    store.finish(a1.id, "done")
    assert store.claim(limits).id == a2.id


def test_cancel_delete_and_expiry(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    waiting, running, old = queue(store, 3)
    for job in (waiting, running, old):
        (store.job_dir(job.id) / "report.json").write_text("{}")
    store.claim()  # "waiting" runs now
    assert store.cancel(running.id).state == "cancelled"
    assert store.cancel(waiting.id).state == "running" and store.cancel_requested(waiting.id)
    assert not store.delete(waiting.id)  # still running: cancel asked, files kept
    assert store.job_dir(waiting.id).exists()
    store.finish(old.id, "done")
    with store._transaction() as db:  # finished 40 days ago
        db.execute("UPDATE jobs SET finished_at = ? WHERE id = ?", (time.time() - 40 * 86400, old.id))
    assert store.expire(30) == [old.id]
    assert not store.job_dir(old.id).exists()
    with pytest.raises(JobNotFoundError):
        store.get(old.id)
    assert store.delete(running.id) and not store.job_dir(running.id).exists()
    with pytest.raises(JobNotFoundError):
        store.get(waiting.id, owner="someone-else")


def test_cli_jobs_are_resumed_by_the_cli_not_the_server(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    job = store.start_here(["http://s.test/"], True, {"a": 1}, "s.test", CLI_OWNER)
    assert job.state == "running" and store.recover() == []
    again = store.start_here(["http://s.test/"], True, {"a": 1}, "s.test", CLI_OWNER)
    assert again.id == job.id and again.resumes == 1
    other = store.start_here(["http://s.test/"], True, {"a": 2}, "s.test", CLI_OWNER)
    assert other.id != job.id


def test_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("ci ci-key-0123456789abcdef running=2 queued=9  # the CI pipeline\n\nseo seo-key-0123456789abcd\n")
    keys = read_key_file(path, Limits(per_key_queued=4))
    assert [(k.name, k.limits.per_key_running, k.limits.per_key_queued) for k in keys] == [("ci", 2, 9), ("seo", 1, 4)]
    ring = KeyRing(keys)
    assert (
        ring.find("seo-key-0123456789abcd").name == "seo" and ring.find("seo-key") is None and ring.find(None) is None
    )
    for text, message in [
        ("short abc\n", "shorter than 16"),
        ("web web-key-0123456789abcdef\n", "reserved"),
        ("a a-key-0123456789abcdef speed=3\n", "unknown setting"),
        ("lonely\n", "expected 'NAME KEY"),
        ("# nothing\n", "holds no key"),
    ]:
        path.write_text(text)
        with pytest.raises(KeyFileError, match=message):
            read_key_file(path, Limits())


def test_request_validation_sentences() -> None:
    with pytest.raises(ValidationError) as caught:
        AuditRequest.model_validate({"urls": ["http://a.test/"], "options": {"beams": 2}})
    assert sentence(caught.value.errors()) == "Unknown field 'options.beams'; did you mean 'options.num_beams'?"
    with pytest.raises(ValidationError) as caught:
        AuditRequest.model_validate({"urls": ["http://a.test/"], "options": {"colour": "red"}})
    assert sentence(caught.value.errors()) == (
        "Unknown field 'options.colour'; see the API documentation at /docs for the fields an audit takes."
    )
    limits = ServerLimits(["m"], max_site_pages=5)
    request = AuditRequest.model_validate({"urls": ["http://a.test/"], "crawl": True, "options": {"model": "m"}})
    options = build_options(request, AuditOptions(model="m"), limits)
    assert options.max_pages == 5 and options.crawl and options.thumbnail_size
    too_many = AuditRequest.model_validate({"urls": ["http://a.test/"], "crawl": True, "options": {"max_pages": 6}})
    with pytest.raises(SubmitError, match="at most 5 pages"):
        build_options(too_many, AuditOptions(model="m"), limits)


def test_views_escape_page_text() -> None:
    job = Job("id", "done", "web", "<b>s.test</b>", ["http://s.test/"], True, {}, 0.0, 0.0, finished_at=1.0)
    job.summary = {"images": 1, "captioned": 1, "pages": 1, "page_warnings": ["<script>x</script>"], "issues": {}}
    text = summary_markdown(job) + progress_line(job) + recent_markdown([job])
    assert "<script>" not in text and "<b>" not in text and "&lt;script&gt;" in text
    rows = table_rows([{"url": "u", "status": "captioned", "alt": None, "suggested_alt": "", "alt_issues": []}])
    assert rows == [["u", "captioned", "", "(none)", '""', "", "", ""]]


def test_run_job_writes_every_report(tmp_path: Path, server: FixtureServer) -> None:
    server.add("/job/a.png", make_image(300, 200, seed=90), content_type="image/png")
    url = server.add("/job/", "<html><body><img src='/job/a.png' alt='A'></body></html>")
    service = Service(AuditOptions(render="never", allow_private=True), tmp_path, captioner=FakeCaptioner())
    job = service.submit(AuditRequest(urls=[url]), "web")
    outcome = run_job(service.store, service.store.claim(), service.captioner_for)
    assert outcome.state == "done" and outcome.report is not None
    folder = service.store.job_dir(job.id)
    assert {p.name for p in folder.iterdir()} >= {"report.json", "report.csv", "report.html", "captions.txt", "thumbs"}
    assert json.loads((folder / "gallery.json").read_text())[0]["caption"]
    assert service.store.get(job.id).summary["captioned"] == 1


def test_cli_data_dir_is_the_service_store(tmp_path: Path, server: FixtureServer, tiny_blip_dir: Path) -> None:
    """The CLI runs an audit as a job of the store the server reads; the next run is compared with it."""
    server.add("/cli-job/a.png", make_image(300, 200, seed=91), content_type="image/png")
    url = server.add("/cli-job/", "<html><body><img src='/cli-job/a.png' alt='A'><a href='/cli-job/b'>b</a></body>")
    server.add("/cli-job/b", "<html><body><img src='/cli-job/a.png' alt='A'></body></html>")
    data = tmp_path / "data"
    args = [url, "--crawl", "--data-dir", str(data), "--model", str(tiny_blip_dir), "--allow-private"]
    args += ["--render", "never", "--quiet", "--out", str(tmp_path / "c.txt"), "--json", str(tmp_path / "r.json")]
    assert cli.main(args) == 0
    server.add("/cli-job/b", "<html><body><img src='/cli-job/a.png'></body></html>")  # alt removed
    assert cli.main(args) == 0
    second = json.loads((tmp_path / "r.json").read_text())
    assert second["comparison"]["counts"]["new"] >= 1
    defaults = AuditOptions(render="never", model=str(tiny_blip_dir), allow_private=True)
    with serving(Service(defaults, data, captioner=FakeCaptioner())) as base:
        jobs = requests.get(f"{base}/api/v1/audits", timeout=10).json()["audits"]
        assert [job["state"] for job in jobs] == ["done", "done"] and {job["site"] for job in jobs} == {"127.0.0.1"}
        served = requests.get(f"{base}/api/v1/audits/{jobs[0]['id']}/report.json", timeout=10).json()
        assert served["comparison"]["previous_job"] == jobs[1]["id"]
    assert cli.main([*args, "--state", str(tmp_path / "s.db")]) == 2  # the job keeps its own state


def test_a_job_killed_after_its_reports_is_done_with_its_summary(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    (job,) = queue(store)
    store.claim()
    folder = store.job_dir(job.id)
    (folder / "summary.json").write_text(json.dumps({"images": 3, "site": {"pages_audited": 2}}))
    (folder / "report.json").write_text("{}")
    outcome = run_job(store, store.get(job.id), lambda options: FakeCaptioner())
    assert outcome.state == "done"
    assert store.get(job.id).summary == {"images": 3, "site": {"pages_audited": 2}}
