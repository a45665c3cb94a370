"""``--engine ray`` on a local Ray (2 CPUs, small object store, no dashboard): the same report as the
local engine, failures as records, a killed captioning actor, with the tiny random BLIP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, FixtureServer, png_bomb
from test_resume import PAGES, comparable, serve_chain

from options import AuditOptions
from pipeline import AuditFinished, PageFinished, audit, run_audit

ray = pytest.importorskip("ray", reason="pip install -r requirements-ray.txt")


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    root = str(Path(__file__).resolve().parents[1])
    ray.init(
        address="local",
        num_cpus=2,
        object_store_memory=150 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": root, "HF_HUB_OFFLINE": "1"}},
    )
    yield
    ray.shutdown()


def options(model: Path, tmp_path: Path, engine: str, **extra: object) -> AuditOptions:
    return AuditOptions(
        model=str(model), device="cpu", dtype="float32", allow_private=True, render="never", ocr="off",
        max_new_tokens=4, min_new_tokens=2, batch_size=2, crawl=True, engine=engine,
        state_path=str(tmp_path / f"{engine}.db"), **extra,
    )  # fmt: skip


def as_json(report) -> dict:
    data = comparable(json.loads(json.dumps(report.to_dict())))
    for page in data["pages"]:
        page["images"] = sorted(page["images"], key=lambda image: image["url"])
    return data


def serve_hostile(server: FixtureServer) -> None:
    """The chain site plus a page that fails and a hostile image."""
    serve_chain(server)
    server.add("/img/bomb.png", png_bomb(), content_type="image/png")
    server.add("/img/fake.jpg", b"<html>not an image</html>", content_type="image/jpeg")
    server.add("/p0", "<html><body><img src='/img/p0-0.png' alt='P'><img src='/img/bomb.png'>"
               "<img src='/img/fake.jpg'><a href='/broken'>x</a></body></html>", delay_s=0.2)  # fmt: skip
    server.add("/broken", "oops", status=500)


def test_ray_gives_the_local_report(
    local_ray: None, fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    serve_hostile(fresh_server)
    start = [fresh_server.url("/")]
    local = run_audit(start, options(tiny_blip_dir, tmp_path, "local"))
    local_requests = Counter(path for path, _ in fresh_server.requests if path.startswith("/img/"))
    fresh_server.requests.clear()
    distributed = run_audit(start, options(tiny_blip_dir, tmp_path, "ray"))
    ray_requests = Counter(path for path, _ in fresh_server.requests if path.startswith("/img/"))
    assert ray_requests == local_requests and set(local_requests.values()) == {1}  # each image once, both engines
    assert as_json(distributed) == as_json(local)
    # the driver counts what the actors' models captioned (two actors may each caption the same bytes)
    assert distributed.site["captioned_this_run"] >= local.site["captioned_this_run"] > 0
    pages = {page.url.rsplit("/", 1)[-1]: page for page in distributed.pages}
    assert len(distributed.pages) == PAGES + 2 and pages["broken"].status == "failed"
    images = {image.url.rsplit("/", 1)[-1]: image for image in pages["p0"].images}
    assert images["bomb.png"].status == "failed" and images["bomb.png"].reason == "too_many_pixels"
    assert images["fake.jpg"].status == "failed" and images["fake.jpg"].reason
    assert images["p0-0.png"].status == "captioned" and images["p0-0.png"].caption


def test_a_killed_captioning_actor_loses_nothing(
    local_ray: None, fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    serve_chain(fresh_server)
    start = [fresh_server.url("/")]
    killed: list[int] = []

    def kill_caption_actor() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        title = Path(f"/proc/{pid}/cmdline").read_bytes()
                    except OSError:
                        continue
                    if b"CaptionStage" in title:
                        os.kill(int(pid), signal.SIGKILL)
                        killed.append(int(pid))
                        return
            time.sleep(0.05)

    events = audit(start, options(tiny_blip_dir, tmp_path, "ray"))
    report = None
    for event in events:
        if isinstance(event, PageFinished) and not killed and event.index >= 1:
            threading.Thread(target=kill_caption_actor, daemon=True).start()
            time.sleep(0.5)
        if hasattr(event, "report"):
            report = event.report
    assert killed, "no captioning actor was found to kill"
    assert report is not None
    urls = [image.url for page in report.pages for image in page.images]
    assert len(report.pages) == PAGES + 1 and len(urls) == 1 + PAGES * 3
    assert all(image.status == "captioned" for page in report.pages for image in page.images)
    assert len({page.url for page in report.pages}) == len(report.pages)


def assert_stopping_gives_the_cluster_back(run: Iterator[object], within_s: float = 60.0) -> None:
    """Stopping a run frees every CPU of the local Ray: its actors are gone and a next run can start.

    With the garbage collector off, so the actors go because the run ended its dataset, not whenever
    Python frees what still refers to them (a stopped run's actors that kept their CPUs made the next
    run's captioning actor wait forever)."""
    import gc

    gc.disable()
    try:
        run.close()  # type: ignore[attr-defined]
        deadline = time.monotonic() + within_s
        while ray.available_resources().get("CPU", 0.0) < ray.cluster_resources()["CPU"]:
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert ray.available_resources().get("CPU", 0.0) == ray.cluster_resources()["CPU"]
    finally:
        gc.enable()


def test_ray_resumes_from_the_state(
    local_ray: None, fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    """Stopped after a few pages, the same run continues: no page audited before is fetched again."""
    import sqlite3

    serve_chain(fresh_server)
    start = [fresh_server.url("/")]
    opts = options(tiny_blip_dir, tmp_path, "ray")
    first = audit(start, opts)
    for event in first:
        if isinstance(event, PageFinished) and event.index >= 3:
            break
    assert_stopping_gives_the_cluster_back(first)  # while the slow pages are still on the cluster
    with sqlite3.connect(opts.state_path) as db:
        audited = {url for (url,) in db.execute("SELECT url FROM urls WHERE status = 'audited'")}
    assert len(audited) >= 4
    hits = {path: route.hits for path, route in fresh_server.routes.items()}
    report = run_audit(start, opts)
    assert len(report.pages) == PAGES + 1
    for url in audited:
        path = "/" + url.split("/", 3)[3]
        assert fresh_server.routes[path].hits == hits[path], path


def test_ray_sharded_run_stopped_then_rerun_recomputes_no_shard(
    local_ray: None, fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    """Sharded output on the cluster: stopped after two shards, the rerun keeps them and redoes the rest."""
    from reports.sharded import ShardReports, build_reports
    from state.shards import markers

    serve_chain(fresh_server)
    start = [fresh_server.url("/")]
    folder = tmp_path / "shards"
    opts = options(tiny_blip_dir, tmp_path, "ray", shard_dir=str(folder), shard_pages=3)
    first = audit(start, opts)
    for event in first:
        if isinstance(event, PageFinished) and len(markers(folder)) >= 2:
            break
    assert_stopping_gives_the_cluster_back(first)
    kept = {path.name: path.read_bytes() for path in folder.glob("shard-*")}
    done_urls = [url for marker in markers(folder) for url, *_ in marker["urls"]]
    assert len(done_urls) == 6 and not (folder / "report.json").exists()
    hits = {path: route.hits for path, route in fresh_server.routes.items()}

    finished = [event for event in audit(start, opts) if isinstance(event, AuditFinished)]
    assert finished and finished[0].shard_dir == str(folder)
    after = {path.name: path.read_bytes() for path in folder.glob("shard-*")}
    assert {name: data for name, data in after.items() if name in kept} == kept
    for url in done_urls:
        path = "/" + url.split("/", 3)[3]
        assert fresh_server.routes[path].hits == hits[path], path
    summary = build_reports(folder, ShardReports.in_folder(folder))
    report = json.loads((folder / "report.json").read_text())
    urls = [page["url"] for page in report["pages"]]
    assert len(urls) == len(set(urls)) == PAGES + 1 and summary["images"] == 1 + PAGES * 3
    assert summary["captioned"] == summary["images"]


def test_balanced_batches() -> None:
    from pipeline.ray_stages import balanced_batches

    assert balanced_batches([], 8) == []
    assert [len(b) for b in balanced_batches(list(range(10)), 8)] == [5, 5]
    assert [len(b) for b in balanced_batches(list(range(16)), 8)] == [8, 8]
    assert [len(b) for b in balanced_batches(list(range(17)), 8)] == [6, 6, 5]
    assert [x for b in balanced_batches(list(range(13)), 4) for x in b] == list(range(13))


def test_an_image_actor_prepares_with_the_drivers_pixel_recipe(
    fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver reads the processor's pixel recipe once; an image actor given it never loads the processor
    (3 s of imports per actor, which made the pool look busy and start more actors)."""
    import io
    import pickle
    import shutil

    import numpy as np
    import transformers
    from PIL import Image
    from test_reaudit import png

    from captioning.registry import get_captioner
    from pipeline.ray_stages import PAGE, PrepareStage, _row, _rows
    from records import ImageRecord, PageReport

    recipe = get_captioner(options(tiny_blip_dir, tmp_path, "ray").captioner_spec).pixel_recipe()
    assert recipe is not None
    own_model = shutil.copytree(tiny_blip_dir, tmp_path / "model")  # a captioner of its own: nothing loaded yet
    loads: list[str] = []
    for kind in (transformers.AutoProcessor, transformers.BlipProcessor, transformers.AutoConfig):
        monkeypatch.setattr(kind, "from_pretrained", lambda *args, **kwargs: loads.append(str(args)))
    body = png((200, 30, 40), (180, 120))
    fresh_server.add("/img/red.png", body, content_type="image/png")
    page = PageReport(url=fresh_server.url("/"), images=[ImageRecord(source=fresh_server.url("/img/red.png"))])
    stage = PrepareStage(options(own_model, tmp_path, "ray").to_dict(), pixels=recipe)
    row = _row(PAGE, page.url, {"page": page.to_state(), "leads": [0]})
    columns = stage({key: [value] for key, value in row.items()})
    [(index, _, model_input)] = pickle.loads(_rows(columns)[0]["prepared"])
    assert index == 0 and loads == []
    assert np.array_equal(model_input, recipe.to_array(Image.open(io.BytesIO(body)).convert("RGB")))


def test_a_model_the_driver_cannot_read_is_one_sentence_before_ray_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver reads the processor's recipe before it asks for a cluster: a folder holding another kind
    of model is the captioner's one sentence, and no Ray is started or dialled."""
    from captioning.base import ModelLoadError
    from pipeline import ray_engine

    dialled: list[object] = []
    monkeypatch.setattr(ray_engine, "ensure_ray", dialled.append)
    text_model = tmp_path / "text-model"
    text_model.mkdir()
    (text_model / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelLoadError) as caught:
        run_audit(["http://127.0.0.1:9/"], options(text_model, tmp_path, "ray"))
    assert "is a 'bert' model, not a BLIP or BLIP-2 captioning model" in str(caught.value)
    assert "\n" not in str(caught.value) and dialled == []


def test_the_driver_waits_for_discoveries_and_leaders(
    fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows and discoveries in any order: a page waits for its discovery and for the leaders of its
    shared images; a retried row's second copy changes nothing."""
    from pipeline import ImageFinished, PageStarted
    from pipeline.ray_engine import RayEngine
    from pipeline.ray_stages import PAGE, _row
    from records import ImageRecord, PageReport

    fresh_server.add("/", "<html></html>")
    home, other = fresh_server.url("/"), fresh_server.url("/b")
    shared, own = fresh_server.url("/img/shared.png"), fresh_server.url("/img/own.png")
    engine = RayEngine([home], options(tiny_blip_dir, tmp_path, "ray"))
    monkeypatch.setattr(engine, "_load_models", lambda: None)
    engine._begin()
    engine.start_bookkeeping()

    def page(url: str, images: list[ImageRecord]) -> PageReport:
        return PageReport(url=url, status="ok", images=images)

    def sent() -> None:
        row = engine.frontier.next()
        assert row is not None
        engine.sent[row.url] = row
        engine.out.add(row.url)

    def found(report: PageReport, links: list[str]) -> dict:
        return {"url": report.url, "page": report.to_state(), "links": links, "canonical": None}

    def back(report: PageReport, leads: list[int]) -> dict:
        return _row(PAGE, report.url, {"page": report.to_state(), "leads": leads})

    sent()
    discovered_home = page(home, [ImageRecord(source=own), ImageRecord(source=shared)])
    captioned_home = page(home, [ImageRecord(source=own), ImageRecord(source=shared)])
    captioned_home.images[0].set_caption("own photo", "own photo")
    assert list(engine._on_row(back(captioned_home, [0]))) == []  # ahead of its discovery: kept aside
    events = list(engine._on_found(found(discovered_home, [other])))
    assert [type(e) for e in events] == [PageStarted]  # the shared image's leader is still out
    sent()
    led = page(other, [ImageRecord(source=shared)])
    led.images[0].set_caption("shared photo", "shared photo")
    events = list(engine._on_row(back(led, [0])))
    home_done = [e.page for e in events if isinstance(e, PageFinished)]
    assert [p.url for p in home_done] == [home]
    assert [r.caption for r in home_done[0].images] == ["own photo", "shared photo"]
    assert sum(isinstance(e, ImageFinished) for e in events) == 2
    events = list(engine._on_found(found(page(other, [ImageRecord(source=shared)]), [])))
    assert [type(e) for e in events if not isinstance(e, ImageFinished)] == [PageStarted, PageFinished]
    assert list(engine._on_row(back(led, [0]))) == []  # a retried call's second copy
    assert not engine.assembling and not engine.early and not engine.sent


def test_captioning_asks_for_the_normal_priority(caplog: pytest.LogCaptureFixture) -> None:
    """Ray's workers run at nice 15; a captioning actor raises itself to 0, or says how to start Ray."""
    from pipeline.ray_stages import normal_priority

    def in_a_thread() -> tuple[bool, int, int]:  # niceness is per thread on Linux: keep pytest's as it is
        os.setpriority(os.PRIO_PROCESS, 0, 15)
        before = os.getpriority(os.PRIO_PROCESS, 0)
        raised = normal_priority()
        return raised, before, os.getpriority(os.PRIO_PROCESS, 0)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        raised, before, after = pool.submit(in_a_thread).result()
    assert before == 15
    if raised:
        assert after == 0
    else:
        assert after == 15 and "RAY_worker_niceness=0" in caplog.text


def test_the_cli_crawls_with_the_ray_engine(
    local_ray: None, fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    """``cli.py URL --crawl --engine ray``, as the README gives it, in a process of its own."""
    serve_chain(fresh_server)
    out = tmp_path / "report.json"
    command = [
        sys.executable, str(ROOT / "cli.py"), fresh_server.url("/"), "--crawl", "--engine", "ray",
        "--model", str(tiny_blip_dir), "--device", "cpu", "--dtype", "float32", "--allow-private",
        "--render", "never", "--ocr", "off", "--quiet", "--max-new-tokens", "4", "--min-new-tokens", "2",
        "--json", str(out), "--out", str(tmp_path / "captions.txt"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    images = [image for page in report["pages"] for image in page["images"]]
    assert len(report["pages"]) == PAGES + 1 and len(images) == 1 + PAGES * 3
    assert all(image["status"] == "captioned" for image in images)


def test_ray_re_audit_asks_only_what_changed(
    local_ray: None, fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    """Issue 25 on the cluster: a re-audit's page and image requests are conditional; an unchanged
    page is its stored discovery; a changed image is the only one downloaded and captioned again."""
    from test_reaudit import SHARED, bodies, captions, png, serve_shop

    serve_shop(fresh_server, pages=5)
    start = [fresh_server.url("/")]
    opts = options(tiny_blip_dir, tmp_path, "ray")
    first = run_audit(start, opts)
    fresh_server.bodies.clear()
    second = run_audit(start, opts)
    assert bodies(fresh_server) == [] and second.site["captioned_this_run"] == 0
    assert second.site["changes"]["pages"] == {"unchanged": 5, "changed": 0, "new": 0, "gone": 0}
    assert captions(second) == captions(first)
    fresh_server.add("/img/item-2.png", png((1, 2, 3), (202, 150)), content_type="image/png", etag=True)
    fresh_server.routes["/shop/3"].body += b"<p>new text</p>"
    fresh_server.bodies.clear()
    third = run_audit(start, opts)
    assert bodies(fresh_server) == ["/img/item-2.png", "/shop/3"] and third.site["captioned_this_run"] == 1
    assert third.site["changes"]["images"] == {"unchanged": 4 + len(SHARED), "changed": 1, "new": 0, "gone": 0}


def test_a_cluster_address_where_nothing_answers_is_one_sentence_in_seconds() -> None:
    import socket

    from conftest import unused_port

    from options import OptionsError
    from pipeline.ray_stages import check_cluster_answers

    started = time.monotonic()
    with pytest.raises(OptionsError) as caught:
        check_cluster_answers(f"127.0.0.1:{unused_port()}", "--ray-address")
    assert time.monotonic() - started < 6 and "\n" not in str(caught.value)
    assert "no Ray cluster answers there" in str(caught.value) and "ray start --head" in str(caught.value)
    with pytest.raises(OptionsError, match="is not a Ray cluster address; give HOST:PORT"):
        check_cluster_answers("head-node", "RAY_ADDRESS")
    with socket.create_server(("127.0.0.1", 0)) as listening:  # something answers: Ray takes over from here
        check_cluster_answers(f"ray://127.0.0.1:{listening.getsockname()[1]}", "--ray-address")
    for left_to_ray in ("local", "auto", "anyscale://project"):
        check_cluster_answers(left_to_ray, "--ray-address")


def test_a_start_image_of_a_crawl_is_fetched_once_on_ray(
    local_ray: None, fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    """A crawl's start URL that is an image is its page's one record; the image actor reads the discovery
    actor's answer from the node's response store instead of asking the site again."""
    from conftest import make_image

    fresh_server.add("/photos/front.jpg", make_image(640, 480, "JPEG", seed=3), content_type="image/jpeg")
    fresh_server.add("/page", "<html><body><img src='/img/a.png' alt='A'></body></html>")
    fresh_server.add("/img/a.png", make_image(200, 150, seed=4), content_type="image/png")
    start = [fresh_server.url("/photos/front.jpg"), fresh_server.url("/page")]
    report = run_audit(start, options(tiny_blip_dir, tmp_path, "ray"))
    photo_page, html_page = report.pages
    (photo,) = photo_page.images
    assert photo.status == "captioned" and photo.found_in == ["url"] and (photo.width, photo.height) == (640, 480)
    assert html_page.images[0].status == "captioned"
    requests = Counter(path for path, _ in fresh_server.requests)
    assert requests == {"/robots.txt": 1, "/sitemap.xml": 1, "/photos/front.jpg": 1, "/page": 1, "/img/a.png": 1}
