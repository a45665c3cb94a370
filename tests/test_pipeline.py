"""The pipeline on the fixture site, with the fake captioner (fast tier)."""

from __future__ import annotations

import json
import threading

import pytest
from conftest import FakeCaptioner, FixtureServer, make_image
from site_fixture import build_site

from options import AuditOptions
from pipeline import AuditFinished, ImageFinished, PageFinished, PageStarted, audit, run_audit
from records import FINAL_STATUSES

OPTIONS = AuditOptions(
    render="never", allow_private=True, image_max_bytes=1_000_000, image_deadline_s=1.5, batch_size=4
)


@pytest.fixture(scope="module")
def site(server: FixtureServer) -> tuple[str, dict[str, tuple[str, str | None]]]:
    return build_site(server)


@pytest.fixture(scope="module")
def audited(site: tuple[str, dict], server: FixtureServer):
    captioner = FakeCaptioner()
    events = list(audit([site[0]], OPTIONS, captioner))
    return events, captioner


def test_every_image_ends_in_exactly_one_expected_status(audited, site) -> None:
    events, _ = audited
    report = events[-1].report
    page = report.pages[0]
    assert page.status == "ok" and page.title == "Fixture shop" and page.lang == "en"
    got = {record.source: (record.status, record.reason) for record in page.images}
    expected = site[1]
    assert set(got) == set(expected), f"missing {set(expected) - set(got)}, extra {set(got) - set(expected)}"
    for source, outcome in expected.items():
        assert got[source] == outcome, source
    for record in page.images:
        assert record.status in FINAL_STATUSES
        if record.status == "captioned":
            assert record.caption and "arafed" not in record.caption and record.reason is None
        else:
            assert record.reason and record.detail and record.caption is None


def test_discovery_details(audited, server: FixtureServer) -> None:
    page = audited[0][-1].report.pages[0]
    by_url = {record.source: record for record in page.images}
    dup = by_url[server.url("/img/dup.png")]
    assert dup.occurrences == 2 and dup.alts == ["first", "second"] and dup.alt == "first"
    assert by_url[server.url("/img/large.jpg")].found_in == ["img", "srcset"]
    assert "picture" in by_url[server.url("/img/pic-1600.webp")].found_in
    assert "lazy" in by_url[server.url("/img/lazy.png")].found_in
    assert by_url[server.url("/img/lazy.png")].alt == ""
    assert by_url[server.url("/img/og.jpg")].alt == "Our shop front"
    button = by_url[server.url("/img/button.png")]
    assert button.in_link and button.link_href == "/products" and set(button.found_in) == {"img", "input"}
    assert by_url[server.url("/img/cmyk.jpg")].figcaption == "A CMYK photo"
    assert by_url[server.url("/img/exif6.jpg")].width == 200 and by_url[server.url("/img/exif6.jpg")].height == 300
    assert by_url[server.url("/img/plain.png")].alt == "A plain photo"
    assert server.url("/img/absent.jpg") not in by_url and server.url("/img/nowhere.png") not in by_url
    # never fetched: srcset losers, the declared-too-small icon, placeholders
    assert server.routes["/img/small.jpg"].hits == 0
    assert server.routes["/img/icon.png"].hits == 0


def test_identical_bytes_are_captioned_once(audited, server: FixtureServer) -> None:
    events, captioner = audited
    page = events[-1].report.pages[0]
    captioned = [r for r in page.images if r.status == "captioned"]
    by_url = {record.source: record for record in page.images}
    assert by_url[server.url("/img/same-a.png")].caption == by_url[server.url("/img/same-b.png")].caption
    assert sum(captioner.batches) == len(captioned) - 1
    assert max(captioner.batches) <= OPTIONS.batch_size


def test_events_stream_in_order(audited) -> None:
    events, _ = audited
    assert isinstance(events[0], PageStarted)
    assert isinstance(events[-2], PageFinished) and isinstance(events[-1], AuditFinished)
    image_events = [e for e in events if isinstance(e, ImageFinished)]
    assert [e.done for e in image_events] == list(range(1, len(image_events) + 1))
    assert {e.total for e in image_events} == {len(image_events)}


def test_identifying_user_agent_and_robots(audited, server: FixtureServer) -> None:
    agents = {headers.get("User-Agent", "") for path, headers in server.requests}
    assert all(agent.startswith("AltScout/") for agent in agents)
    report = run_audit([server.url("/private/secret.html")], OPTIONS, FakeCaptioner())
    assert report.pages[0].status == "failed" and report.pages[0].error_code == "robots_disallowed"
    ignored = run_audit(
        [server.url("/private/secret.html")],
        AuditOptions(render="never", allow_private=True, ignore_robots=True),
        FakeCaptioner(),
    )
    assert ignored.pages[0].status == "ok"


def test_one_bad_page_does_not_abort_the_run(fresh_server: FixtureServer) -> None:
    good = fresh_server.add("/good.html", "<img src='/a.png' alt='a'>")
    fresh_server.add("/a.png", make_image(200, 200), content_type="image/png")
    urls = [
        fresh_server.url("/missing.html"),
        "ftp://example.com/x",
        "not a url",
        good,
        "http://169.254.169.254/latest/",
    ]
    report = run_audit(urls, AuditOptions(render="never", allow_private=True), FakeCaptioner())
    statuses = [(p.status, p.error_code) for p in report.pages]
    assert statuses == [
        ("failed", "http_error"),
        ("failed", "unsupported_scheme"),
        ("failed", "unsupported_scheme"),
        ("ok", None),
        ("failed", "blocked_address"),
    ]
    assert report.pages[3].images[0].status == "captioned"
    assert report.summary()["pages_failed"] == 4


def test_loopback_page_refused_without_allow_private(server: FixtureServer) -> None:
    report = run_audit([server.url("/index.html")], AuditOptions(render="never"), FakeCaptioner())
    assert report.pages[0].error_code == "blocked_address"
    assert "refused for safety" in (report.pages[0].error or "")


def test_img_or_base_pointing_inside_is_refused_rest_audited(fresh_server: FixtureServer) -> None:
    fresh_server.add("/a.png", make_image(200, 200), content_type="image/png")
    fresh_server.add(
        "/p.html",
        "<img src='/a.png'><img src='http://169.254.169.254/latest/x.png'>"
        "<img src='http://[fe80::1]/y.png'><img src='http://0xa9.0xfe.0xa9.0xfe/z.png'>",
    )
    fresh_server.add(
        "/b.html",
        f"<base href='http://169.254.169.254/'><img src='inside.png'><img src='{fresh_server.url('/a.png')}'>",
    )
    report = run_audit(
        [fresh_server.url("/p.html"), fresh_server.url("/b.html")],
        AuditOptions(render="never", allow_private=True),
        FakeCaptioner(),
    )
    first, second = report.pages
    assert [(r.status, r.reason) for r in first.images] == [("captioned", None)] + [("failed", "blocked_address")] * 3
    assert [(r.status, r.reason) for r in second.images] == [("failed", "blocked_address"), ("captioned", None)]


def test_max_images_caps_and_reports(fresh_server: FixtureServer) -> None:
    tags = "".join(f"<img src='/i{i}.png'>" for i in range(300))
    fresh_server.add("/many.html", f"<html><body>{tags}</body></html>")
    report = run_audit(
        [fresh_server.url("/many.html")],
        AuditOptions(render="never", allow_private=True, max_images=5, image_deadline_s=2),
        FakeCaptioner(),
    )
    images = report.pages[0].images
    assert len(images) == 300
    assert sum(1 for r in images if r.reason == "over_limit") == 295


def test_caption_failure_marks_batch_failed_and_run_continues(fresh_server: FixtureServer) -> None:
    fresh_server.add("/a.png", make_image(200, 200, seed=1), content_type="image/png")
    fresh_server.add("/p.html", "<img src='/a.png'>")
    captioner = FakeCaptioner(fail_on=lambda image: True)
    report = run_audit([fresh_server.url("/p.html")], AuditOptions(render="never", allow_private=True), captioner)
    record = report.pages[0].images[0]
    assert (record.status, record.reason) == ("failed", "caption_error")


def test_memory_is_bounded_by_the_batch(fresh_server: FixtureServer) -> None:
    """At most 2 x batch + workers decoded images wait for captioning besides the batches in flight,
    whatever the page size."""
    import threading

    from pipeline.batching import CAPTION_WORKERS
    from pipeline.engine import Engine

    for i in range(60):
        fresh_server.add(f"/i{i}.png", make_image(200, 200, seed=i), content_type="image/png")
    fresh_server.add("/p.html", "".join(f"<img src='/i{i}.png'>" for i in range(60)))
    options = AuditOptions(render="never", allow_private=True, batch_size=2, download_workers=3)
    engine = Engine([fresh_server.url("/p.html")], options, FakeCaptioner())
    run = engine.run
    lock = threading.Lock()
    alive = peak = 0
    original_download, original_caption = run.download_image, run.caption_images

    def counting_download(record, source):
        nonlocal alive, peak
        result = original_download(record, source)
        with lock:
            alive += result is not None
            peak = max(peak, alive)
        return result

    def counting_caption(batch, followers, submitted=None):
        nonlocal alive
        yield from original_caption(batch, followers, submitted)
        with lock:
            alive -= len(batch)

    run.download_image = counting_download  # type: ignore[method-assign]
    run.caption_images = counting_caption  # type: ignore[method-assign]
    events = list(engine.events())
    assert sum(1 for e in events if isinstance(e, ImageFinished)) == 60
    assert 1 <= peak <= (2 + CAPTION_WORKERS) * options.batch_size + options.download_workers


class StagedBehind(FakeCaptioner):
    """The first batch finishes only once a second one has reached the captioner (or after 10 s)."""

    default_batch_size = 2

    def __init__(self) -> None:
        super().__init__()
        self.second_arrived = threading.Event()
        self.overlapped = False
        self.threads: set[str] = set()
        self.calls = 0

    def caption_batch(self, images, settings):  # type: ignore[no-untyped-def]
        with self._lock:
            self.calls += 1
            first = self.calls == 1
            self.threads.add(threading.current_thread().name)
        if first:
            self.overlapped = self.second_arrived.wait(10)
        else:
            self.second_arrived.set()
        return super().caption_batch(images, settings)


def test_next_batch_is_staged_while_one_runs_and_results_keep_their_order(fresh_server: FixtureServer) -> None:
    """The engine goes on while a batch runs: the next full batch reaches the captioner before the
    first returns (on a GPU its pixels are copied meanwhile), and every record gets its own caption."""
    for i in range(9):
        fresh_server.add(f"/i{i}.png", make_image(100 + 10 * i, 120, seed=i), content_type="image/png")
    fresh_server.add("/p.html", "".join(f"<img src='/i{i}.png'>" for i in range(9)))
    captioner = StagedBehind()
    events = list(audit([fresh_server.url("/p.html")], AuditOptions(render="never", allow_private=True), captioner))
    assert captioner.overlapped, "the second batch waited for the first to return"
    assert all(name.startswith("altscout-caption") for name in captioner.threads)
    assert sum(captioner.batches) == 9 and max(captioner.batches) == 2
    images = events[-1].report.pages[0].images
    assert [record.source.rsplit("/", 1)[1] for record in images] == [f"i{i}.png" for i in range(9)]
    assert [record.caption.rsplit(" ", 1)[1] for record in images] == [f"{100 + 10 * i}x120" for i in range(9)]
    finished = [event.record.source for event in events if isinstance(event, ImageFinished)]
    assert sorted(finished) == sorted(record.source for record in images)


@pytest.mark.parametrize(("robots_status", "page_status"), [(404, "ok"), (500, "failed")])
def test_robots_status_semantics(fresh_server: FixtureServer, robots_status: int, page_status: str) -> None:
    """RFC 9309: a 4xx robots.txt allows everything, a 5xx disallows everything."""
    fresh_server.add("/robots.txt", "err", status=robots_status, content_type="text/plain")
    fresh_server.add("/p.html", "<p>no images</p>")
    report = run_audit([fresh_server.url("/p.html")], AuditOptions(render="never", allow_private=True), FakeCaptioner())
    assert report.pages[0].status == page_status
    if page_status == "failed":
        assert report.pages[0].error_code == "robots_disallowed"


def test_unreachable_host_reports_connection_error() -> None:
    from conftest import unused_port

    report = run_audit(
        [f"http://127.0.0.1:{unused_port()}/"], AuditOptions(render="never", allow_private=True), FakeCaptioner()
    )
    assert report.pages[0].error_code == "connection_error"


def test_disk_cache_skips_captioning_on_reaudit(fresh_server: FixtureServer, tmp_path) -> None:
    for i in range(5):
        fresh_server.add(f"/c{i}.png", make_image(200, 200, seed=i), content_type="image/png")
    fresh_server.add("/p.html", "".join(f"<img src='/c{i}.png'>" for i in range(5)))
    options = AuditOptions(render="never", allow_private=True, cache_dir=str(tmp_path / "cache"))
    first, second = FakeCaptioner(), FakeCaptioner()
    report1 = run_audit([fresh_server.url("/p.html")], options, first)
    report2 = run_audit([fresh_server.url("/p.html")], options, second)
    assert sum(first.batches) == 5 and second.batches == []
    assert [r.caption for r in report1.pages[0].images] == [r.caption for r in report2.pages[0].images]
    other = FakeCaptioner()
    from dataclasses import replace

    run_audit([fresh_server.url("/p.html")], replace(options, prompt="a photo of"), other)
    assert sum(other.batches) == 5  # other generation settings: not reused


def test_a_model_saved_over_another_in_its_folder_never_reuses_its_captions(tmp_path) -> None:
    """Captions are reused by model, settings and image hash (state, --cache); for a local folder the model is
    also its files, so fine-tuned weights saved over the old ones in ./models/blip caption afresh."""
    from captioning.base import GenerationSettings
    from captioning.cache import caption_namespace

    folder = tmp_path / "blip"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"old weights")
    settings = GenerationSettings(max_new_tokens=8)
    before = caption_namespace(str(folder), settings)
    (folder / "notes.md").write_text("not a model file")
    assert caption_namespace(str(folder), settings) == before
    (folder / "model.safetensors").write_bytes(b"fine-tuned weights")
    assert caption_namespace(str(folder), settings) != before
    hub = json.loads(caption_namespace("Salesforce/blip-image-captioning-base", settings))
    assert hub["weights"] is None and hub["model"] == "Salesforce/blip-image-captioning-base"


def test_a_gpu_model_gets_a_decoding_thread_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding bounds an audit whose model is on a GPU: every core decodes; on a CPU the option stands."""
    from pipeline.stages import AuditRun

    class OnGpu(FakeCaptioner):
        def describe(self):  # type: ignore[no-untyped-def]
            return {**super().describe(), "device": "cuda:0"}

    monkeypatch.setattr("pipeline.stages.os.cpu_count", lambda: 16)
    options = AuditOptions(download_workers=8)
    assert AuditRun(options, OnGpu()).download_threads == 16
    assert AuditRun(options, FakeCaptioner()).download_threads == 8
    assert AuditRun(AuditOptions(download_workers=32), OnGpu()).download_threads == 32


def test_the_batching_rule() -> None:
    """Full batches queue behind a running one; an idle captioner starts from a quarter batch."""
    from pipeline.batching import batch_to_send

    assert batch_to_send(ready=0, batch_size=16, in_flight=0, drained=True) == 0
    assert batch_to_send(ready=40, batch_size=16, in_flight=1, drained=False) == 16  # staged behind
    assert batch_to_send(ready=40, batch_size=16, in_flight=2, drained=False) == 0  # two in flight at most
    assert batch_to_send(ready=5, batch_size=16, in_flight=1, drained=True) == 0  # partial: only when idle
    assert batch_to_send(ready=3, batch_size=16, in_flight=0, drained=False) == 0  # under a quarter: wait
    assert batch_to_send(ready=4, batch_size=16, in_flight=0, drained=False) == 4
    assert batch_to_send(ready=3, batch_size=16, in_flight=0, drained=True) == 3  # nothing else is coming
    assert batch_to_send(ready=1, batch_size=2, in_flight=0, drained=False) == 1


def test_the_download_group_rule() -> None:
    """A thread takes as many queued images as wait, up to the group: a short queue is grouped too
    (when the crawling process is the bound, the queue stays short)."""
    from pipeline.batching import download_group

    assert download_group(500, 1) == 1 and download_group(3, 1) == 1  # threads alone: an image a task
    assert download_group(500, 4) == 4 and download_group(4, 4) == 4
    assert download_group(5, 4) == 4 and download_group(3, 4) == 3  # one page's new images: one message
    assert download_group(1, 4) == 1 and download_group(0, 4) == 1


def test_the_page_admission_rule() -> None:
    """Two pages a worker always; more only while images are short of two batches, within bounds."""
    from pipeline.batching import may_open_page

    def may(fetching: int, open_pages: int, waiting: int, stashed: int = 0) -> bool:
        return may_open_page(fetching, open_pages, stashed, waiting, page_workers=2, image_room=100)

    assert may(fetching=0, open_pages=3, waiting=500)  # within 2 x page_workers: as before, whatever waits
    assert not may(fetching=4, open_pages=0, waiting=0)  # never more than 2 x page_workers fetched at once
    assert may(fetching=1, open_pages=20, waiting=99)  # the batches are not full yet: another page
    assert not may(fetching=1, open_pages=20, waiting=100)  # two batches wait: enough
    assert not may(fetching=0, open_pages=100, waiting=0)  # pages stuck on a slow shared image: capped
    assert not may(fetching=1, open_pages=20, waiting=10, stashed=3)  # a browser's responses: kept to the window
    assert may(fetching=1, open_pages=20, waiting=10, stashed=2)


def test_caption_batches_fill_beyond_the_page_window(fresh_server: FixtureServer) -> None:
    """A batch bigger than the open pages' images still fills: pages open until two batches wait
    (a GPU's batch of 1,024 is 70 pages of images, and once captioned 40 at a time)."""
    import time

    class SlowModel(FakeCaptioner):
        def caption_batch(self, images, settings):  # type: ignore[no-untyped-def]
            time.sleep(0.3)  # the model is the slow side: images pile up behind it
            return super().caption_batch(images, settings)

    pages = [f"/p{i}.html" for i in range(24)]
    fresh_server.add("/", "".join(f'<a href="{page}">{page}</a>' for page in pages), content_type="text/html")
    for i, page in enumerate(pages):
        images = "".join(f'<img src="/i{i}-{k}.png" alt="">' for k in range(3))
        fresh_server.add(page, f"<html><body>{images}</body></html>", content_type="text/html")
        for k in range(3):
            fresh_server.add(f"/i{i}-{k}.png", make_image(120, 110, seed=100 * i + k), content_type="image/png")
    captioner = SlowModel()
    options = AuditOptions(
        render="never", allow_private=True, crawl=True, page_workers=1, batch_size=16, download_workers=2
    )
    report = run_audit([fresh_server.url("/")], options, captioner)
    assert sum(len(page.images) for page in report.pages) == 72
    assert sum(captioner.batches) == 72
    # Two pages open at a time (the window of one page worker) hold 6 images: no batch could be larger.
    assert max(captioner.batches) <= 16 and sum(size > 6 for size in captioner.batches) >= 2, captioner.batches


def test_waiting_costs_what_finished_not_what_is_in_flight() -> None:
    """InFlight.wait wakes on any future's end, from any thread, and hands back only those that ended."""
    from concurrent.futures import Future

    from pipeline.in_flight import InFlight

    flight = InFlight()
    idle: list[Future] = [Future() for _ in range(1000)]
    for future in idle:
        flight.add_images(future, [None, None])  # type: ignore[list-item]
    page, batch = Future(), Future()
    flight.add_page(page, None)  # type: ignore[arg-type]
    flight.watch(batch)
    threading.Timer(0.05, page.set_result, ["discovered"]).start()
    assert flight.wait() == [page]  # blocked until the page ended in another thread
    idle[7].set_result(None)
    batch.set_result(["a caption"])
    assert flight.wait() == [idle[7], batch]  # everything that ended since, in order
    assert len(flight.images) == 1000 and page in flight.pages  # the caller pops what it handles
    assert flight.images_in_flight == 2000 and flight.take_images(idle[7]) == [None, None]
    assert flight.images_in_flight == 1998 and idle[7] not in flight.images


def test_the_run_keeps_what_it_started_with_out_of_the_collectors_scans(
    site: tuple[str, dict], server: FixtureServer
) -> None:
    """During an audit, what was alive at its start (modules, the model) is in the collector's permanent
    generation; when the last of several runs ends, it is handed back."""
    import gc

    from pipeline.heap import frozen_heap

    assert gc.get_freeze_count() == 0
    during: list[int] = []
    report = run_audit([site[0]], OPTIONS, FakeCaptioner(), on_event=lambda event: during.append(gc.get_freeze_count()))
    assert report.pages and min(during) > 10_000 and gc.get_freeze_count() == 0
    with frozen_heap():
        with frozen_heap():  # a second run in the same process (the server's jobs)
            assert gc.get_freeze_count() > 10_000
        assert gc.get_freeze_count() > 10_000  # the first run is still going
    assert gc.get_freeze_count() == 0


def test_a_page_without_a_declared_encoding_is_warned_about(fresh_server: FixtureServer) -> None:
    fresh_server.add("/enc/photo.png", make_image(200, 150), content_type="image/png")
    unlabelled = fresh_server.add("/enc/a.html", '<img src="photo.png" alt="Crème brûlée">', content_type="text/html")
    labelled = fresh_server.add("/enc/b.html", '<img src="photo.png" alt="Crème brûlée">')
    report = run_audit([unlabelled, labelled], AuditOptions(render="never", allow_private=True), FakeCaptioner())
    first, second = report.pages
    assert [w for w in first.warnings if "does not declare its character encoding" in w] and not second.warnings
    assert first.images[0].alt == "Crème brûlée"
