"""The page and image stages in worker processes (``--processes``): the same report as the threads,
the pixels intact, one per-host limit across processes, the wire counted, a dead worker survived."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from conftest import FixtureServer, make_image
from PIL import Image
from site_fixture import build_site

from bench import loopback
from captioning.base import GenerationSettings
from captioning.pixels import PixelRecipe
from options import AuditOptions
from pipeline import run_audit
from pipeline.processes import GROUP, HOST_STRIPES, PixelSlots, SharedHostLimit, StageProcesses, process_count
from pipeline.stages import AuditRun
from records import ImageRecord

RECIPE = PixelRecipe(24, 32, int(Image.Resampling.BICUBIC), 1 / 255, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
OPTIONS = AuditOptions(
    render="never", allow_private=True, image_max_bytes=1_000_000, image_deadline_s=1.5, batch_size=4
)


class RecipeCaptioner:
    """Prepares with a pixel recipe (so workers can); the caption is a digest of the pixels it got."""

    default_batch_size = 4

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def load(self) -> None:
        return None

    def pixel_recipe(self) -> PixelRecipe:
        return RECIPE

    def prepare(self, image: Image.Image) -> np.ndarray:
        return RECIPE.to_array(image)

    def caption_batch(self, images: Sequence[np.ndarray], settings: GenerationSettings) -> list[str]:
        return [f"pixels {array.shape} sum {int(array.astype(np.int64).sum())}" for array in images]

    def describe(self) -> dict[str, Any]:
        return {"id": "recipe", "device": self.device, "dtype": "none", "family": "fake"}


def read_one(run: AuditRun, record: ImageRecord) -> Any:
    """The image stage a download thread runs, for one image (in a worker when one can read it)."""
    return run.image_group_stage()([(record, run.page_bytes())])[0]


@pytest.fixture(scope="module")
def site(server: FixtureServer) -> tuple[str, dict[str, tuple[str, str | None]]]:
    return build_site(server)


def outcomes(options: AuditOptions, url: str) -> dict[str, tuple[Any, ...]]:
    report = run_audit([url], options, RecipeCaptioner())
    return {
        r.source: (r.status, r.reason, r.caption, r.sha256, r.width, r.height, r.format, r.bytes)
        for r in report.pages[0].images
    }


def test_worker_processes_give_the_threads_records_and_pixels(
    site: tuple[str, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every image of the fixture site (good, broken, hostile, too small, a data: URI) ends as with
    threads, and each caption, a digest of the model's input, shows the pixels came through intact.
    The page and its images are read by the workers: this process's stages are made to fail."""
    url, expected = site
    in_threads = outcomes(OPTIONS, url)

    def not_here(*args: object) -> None:
        raise AssertionError("read in the parent")

    monkeypatch.setattr(AuditRun, "discover", not_here)
    monkeypatch.setattr(AuditRun, "download_image", not_here)
    start = StageProcesses.start

    def started(run: AuditRun) -> StageProcesses | None:  # no work before a worker takes it (else it is done here)
        processes = start(run)
        assert processes is not None and processes.wait_started(60)
        return processes

    monkeypatch.setattr(StageProcesses, "start", started)
    in_processes = outcomes(AuditOptions(**{**OPTIONS.__dict__, "processes": 2}), url)
    assert in_processes == in_threads
    assert {source: outcome[:2] for source, outcome in in_processes.items()} == expected
    assert sum(outcome[0] == "captioned" for outcome in in_processes.values()) >= 5


def test_a_crawl_in_worker_processes_gives_the_threads_report() -> None:
    """A crawl of the benchmark site (links followed from pages discovered in the workers, shared
    images downloaded once): the same pages, records and captions as with threads."""
    from bench import bench_site

    server = bench_site.serve(4, 0.0)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    reports = {}
    try:
        for processes in (0, 2):
            options = AuditOptions(render="never", crawl=True, allow_private=True, processes=processes, batch_size=8)
            reports[processes] = run_audit([url], options, RecipeCaptioner())
    finally:
        server.shutdown()
    threads, workers = reports[0], reports[2]
    assert workers.site["pages_audited"] == threads.site["pages_audited"] == 5
    assert workers.site["unique_images"] == threads.site["unique_images"] == 6 + 4 * 4 + 4 * 5
    assert workers.site["unique_images"] == len(bench_site.image_paths(4))

    def records(report: Any) -> list[tuple[Any, ...]]:
        return sorted((p.url, r.source, r.status, r.caption, r.sha256) for p in report.pages for r in p.images)

    assert records(workers) == records(threads) and len(records(workers)) == 4 * 15


@pytest.fixture
def run_with_processes(tmp_path: Any) -> Iterator[AuditRun]:
    options = AuditOptions(allow_private=True, processes=2, per_host_limit=1, image_deadline_s=10)
    run = AuditRun(options, RecipeCaptioner())
    run.open_responses(tmp_path / "responses", "run-1")
    run.stage_processes = StageProcesses.start(run)
    assert run.stage_processes is not None and run.stage_processes.count == 2
    assert run.stage_processes.wait_started(60)
    try:
        yield run
    finally:
        run.close()
    assert not os.path.exists(run.stage_processes.slots.path)  # the slots' file goes with the workers


def test_the_wire_is_counted_in_the_parent_and_the_store_is_shared(
    run_with_processes: AuditRun, fresh_server: FixtureServer
) -> None:
    run = run_with_processes
    assert run.stage_processes is not None and not run.stage_processes.takes_pages()  # a browser may read pages
    url = fresh_server.add("/a.png", make_image(160, 120, seed=3), content_type="image/png")
    record = ImageRecord(source=url, found_in=["img"])
    prepared = read_one(run, record)
    assert prepared is not None and prepared.model_input.shape == (24, 32, 3)
    assert (record.width, record.height, record.format) == (160, 120, "PNG") and record.sha256 == prepared.sha256
    assert run.responses is not None and run.responses.counts.requests == 1
    assert run.responses.counts.by_url and sum(run.responses.counts.by_url.values()) == 1
    again = ImageRecord(source=url, found_in=["img"])  # another worker, or this one: the store answers
    read_one(run, again)
    assert again.sha256 == record.sha256 and fresh_server.routes["/a.png"].hits == 1


def test_a_group_of_images_is_one_message_with_the_threads_outcomes(
    run_with_processes: AuditRun, fresh_server: FixtureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download thread hands a worker up to GROUP images in one message (a slot each for the pixels);
    the rest of a larger group, and what no worker may read, are read here: the same outcomes as one by one."""
    from pipeline import processes as worker_processes

    run = run_with_processes
    assert run.stage_processes is not None and run.images_per_task == worker_processes.GROUP == 4
    urls = [
        fresh_server.add(f"/g{i}.png", make_image(120 + 10 * i, 100, seed=i), content_type="image/png")
        for i in range(5)
    ]
    urls.insert(1, fresh_server.add("/broken.png", b"not an image", content_type="image/png"))  # fails in the worker
    messages = []
    call = worker_processes._Worker.call
    monkeypatch.setattr(
        worker_processes._Worker, "call", lambda self, *args: messages.append(args) or call(self, *args)
    )
    records = [ImageRecord(source=url, found_in=["img"]) for url in urls]
    outcomes = run.image_group_stage()([(record, run.page_bytes()) for record in records])
    assert len(messages) == 1 and len(messages[0][1]) == 4  # one message, four images: the fifth and sixth here
    for url, record, outcome in zip(urls, records, outcomes, strict=True):
        alone = ImageRecord(source=url, found_in=["img"])
        expected = run.download_image(alone, run.page_bytes())  # in this thread
        assert (record.status, record.reason, record.width, record.height, record.sha256) == (
            alone.status, alone.reason, alone.width, alone.height, alone.sha256
        )  # fmt: skip
        if expected is None:
            assert outcome is None and record.reason == alone.reason is not None
        else:
            assert outcome is not None and np.array_equal(outcome.model_input, expected.model_input)
    assert [outcome is None for outcome in outcomes] == [False, True, False, False, False, False]


def test_the_per_host_limit_holds_across_processes(run_with_processes: AuditRun) -> None:
    """Six slow images of one host through two workers: never more than ``per_host_limit`` (1) request
    at once at the site, though each worker has its own store and fetcher."""
    lock, state = threading.Lock(), {"now": 0, "most": 0}
    body = make_image(140, 140, seed=5)

    def slowly(path: str) -> float:  # the site's answer takes 0.2 s; count the requests in that time
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.2)
        with lock:
            state["now"] -= 1
        return 0.0

    site = loopback.serve(lambda path, base: (200, "image/png", body), slowly)
    try:
        run = run_with_processes
        records = [ImageRecord(source=f"http://127.0.0.1:{site.server_address[1]}/{i}.png") for i in range(6)]
        threads = [threading.Thread(target=read_one, args=(run, record)) for record in records]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        site.shutdown()
    assert all(record.sha256 for record in records)
    assert state["most"] == 1


def test_an_image_address_read_in_a_worker_is_not_fetched_again(tmp_path: Any, fresh_server: FixtureServer) -> None:
    """An address that is an image, discovered in one worker: the image stage (in a worker, or here) is
    answered from the run's store, not from the site a second time."""
    options = AuditOptions(render="never", allow_private=True, processes=2, image_deadline_s=10, ocr="off")
    run = AuditRun(options, RecipeCaptioner())
    run.open_responses(tmp_path / "responses", "run-1")
    run.stage_processes = processes = StageProcesses.start(run)
    assert processes is not None and processes.wait_started(60)
    try:
        url = fresh_server.add("/photos/front.jpg", make_image(320, 240, "JPEG", seed=3), content_type="image/jpeg")
        assert processes.takes_pages()
        discovered = run.page_stage()(url, None, None)
        (record,) = discovered.page.images
        assert record.found_in == ["url"] and processes.takes(record, discovered.source)  # a worker reads it
        (prepared,) = run.image_group_stage()([(record, discovered.source)])
        assert prepared is not None and (record.width, record.height) == (320, 240)
        assert fresh_server.routes["/photos/front.jpg"].hits == 1
    finally:
        run.close()


def test_a_dead_worker_turns_the_pool_off_and_the_image_is_prepared_here(
    run_with_processes: AuditRun, fresh_server: FixtureServer
) -> None:
    run = run_with_processes
    first = ImageRecord(source=fresh_server.add("/1.png", make_image(150, 150, seed=1), content_type="image/png"))
    assert read_one(run, first) is not None
    assert run.stage_processes is not None
    for worker in run.stage_processes.workers:  # what an out-of-memory kill does
        os.kill(worker.process.pid, signal.SIGKILL)
    time.sleep(0.5)
    second = ImageRecord(source=fresh_server.add("/2.png", make_image(170, 150, seed=2), content_type="image/png"))
    prepared = read_one(run, second)
    assert prepared is not None and (second.width, second.height) == (170, 150)
    assert not run.stage_processes.takes(second, run.page_bytes())  # threads from now on


def test_this_process_does_the_work_until_a_worker_has_started(
    tmp_path: Any, fresh_server: FixtureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers take about 0.6 s to start: meanwhile the image stage runs in this process's threads
    rather than waiting, and once one has started, the stage runs there."""
    held, admit = threading.Event(), StageProcesses._admit_workers

    def held_back(self: StageProcesses) -> None:
        held.wait(60)
        admit(self)

    monkeypatch.setattr(StageProcesses, "_admit_workers", held_back)
    here, download = [], AuditRun.download_image

    def counted(self: AuditRun, record: ImageRecord, source: Any) -> Any:
        here.append(record.source)
        return download(self, record, source)

    monkeypatch.setattr(AuditRun, "download_image", counted)
    run = AuditRun(AuditOptions(allow_private=True, processes=1, image_deadline_s=10), RecipeCaptioner())
    run.open_responses(tmp_path / "responses", "run-1")
    run.stage_processes = processes = StageProcesses.start(run)
    assert processes is not None
    try:
        early = ImageRecord(source=fresh_server.add("/e.png", make_image(150, 120, seed=6), content_type="image/png"))
        assert read_one(run, early) is not None and here == [early.source]
        assert not processes.wait_started(0.01)
        assert run.images_per_task == 1  # threads here read side by side, an image each
        held.set()
        assert processes.wait_started(60)
        assert run.images_per_task == GROUP == 4  # a worker's message carries a group
        late = ImageRecord(source=fresh_server.add("/l.png", make_image(130, 120, seed=7), content_type="image/png"))
        assert read_one(run, late) is not None and late.width == 130
        assert here == [early.source]  # the worker read it
    finally:
        held.set()
        run.close()


def test_a_worker_that_dies_starting_turns_the_pool_off(tmp_path: Any, fresh_server: FixtureServer) -> None:
    run = AuditRun(AuditOptions(allow_private=True, processes=1, image_deadline_s=10), RecipeCaptioner())
    run.open_responses(tmp_path / "responses", "run-1")
    run.stage_processes = processes = StageProcesses.start(run)
    assert processes is not None
    try:
        os.kill(processes.workers[0].process.pid, signal.SIGKILL)  # before it could have imported anything
        assert not processes.wait_started(60)
        assert run.images_per_task == 1  # the pool is off: an image a task again
        record = ImageRecord(source=fresh_server.add("/d.png", make_image(140, 120, seed=8), content_type="image/png"))
        assert not processes.takes(record, run.page_bytes())
        assert read_one(run, record) is not None and record.width == 140  # read here
    finally:
        run.close()


def test_what_stays_in_the_parent_and_how_many_workers_a_run_gets(tmp_path: Any) -> None:
    """The browser's bytes and screenshots stay in threads, and pages a browser may read; by default a
    run gets workers only with the model on a GPU, one per core; a captioner with no pixel recipe gets none."""
    assert process_count(AuditRun(AuditOptions(), RecipeCaptioner())) == 0
    assert process_count(AuditRun(AuditOptions(), RecipeCaptioner("cuda"))) == (os.cpu_count() or 1)
    assert process_count(AuditRun(AuditOptions(processes=0), RecipeCaptioner("cuda"))) == 0
    run = AuditRun(AuditOptions(processes=3), RecipeCaptioner())
    run.captioner.pixel_recipe = lambda: None  # type: ignore[attr-defined]
    run.open_responses(tmp_path, "r")
    assert StageProcesses.start(run) is None
    limit = SharedHostLimit([threading.Semaphore(1) for _ in range(HOST_STRIPES)])
    assert limit("http://Shop.example/a.png") is limit("http://shop.example/b.png")
    slots = PixelSlots.create(2, (24, 32, 3))
    try:
        assert slots.fits(np.zeros((24, 32, 3), np.uint8)) and not slots.fits(np.zeros((24, 32, 3), np.float32))
    finally:
        slots.remove()


def test_the_option_is_checked() -> None:
    from options import OptionsError

    with pytest.raises(OptionsError, match="processes must not be negative"):
        AuditOptions(processes=-1)
