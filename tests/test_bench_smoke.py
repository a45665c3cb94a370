"""The benchmark's pieces still work (speed is measured by bench/, never asserted here)."""

from __future__ import annotations

import threading
from pathlib import Path

import requests

from bench import bench_pipeline, naive


def test_bench_site_and_naive_loop(tiny_blip_dir: Path, tmp_path: Path) -> None:
    routes = bench_pipeline.build_site(3)
    assert len(routes) == 3 and {path.rsplit(".", 1)[1] for path in routes} == {"jpg", "png", "webp"}
    server = bench_pipeline.serve(routes)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        assert requests.get(url, timeout=10).text.count("<img") == 3
        processor, model = naive.load(str(tiny_blip_dir))
        out = tmp_path / "captions.txt"
        assert naive.run(url, processor, model, 3, out) == 3
        assert len(out.read_text().splitlines()) == 3
    finally:
        server.shutdown()


def test_bench_site_shares_what_it_says() -> None:
    """The site benchmark: 15 images a page, 10 shared; the crawl finds every distinct one once."""
    from bench import bench_site
    from options import AuditOptions
    from pipeline import run_audit

    server = bench_site.serve(3, 0.0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        options = AuditOptions(render="never", crawl=True, allow_private=True)
        report = run_audit([url], options, bench_site.FakeCaptioner())
        assert report.site["pages_audited"] == 4  # the home page and three pages
        assert report.summary()["images"] == 45 and report.summary()["captioned"] == 45
        assert report.site["unique_images"] == 6 + 3 * 4 + 3 * 5  # shared, category thumbnails, own photos
    finally:
        server.shutdown()


def test_feed_rate_audits_the_site_with_the_real_preprocessing() -> None:
    """bench/feed_rate.py: every image of a warm site prepared as BLIP's processor would, captions instant."""
    from PIL import Image

    from bench import bench_site, feed_rate

    run_of_threads = threading.Thread.run
    captioner = feed_rate.InstantCaptioner()
    assert captioner.prepare(Image.new("RGB", (50, 40))).shape == (384, 384, 3)
    server = bench_site.serve(2, 0.0)
    try:
        run = feed_rate.child(f"http://127.0.0.1:{server.server_address[1]}/", 2, batch=8)
    finally:
        server.shutdown()
    assert run["distinct"] == len(bench_site.image_paths(2)) == 6 + 2 * 4 + 2 * 5
    assert run["captioned"] == run["records"] == 2 * 15 and run["seconds"] > 0 and run["cpu_s"] > 0
    assert sum(run["batches"]) == run["distinct"] and max(run["batches"]) <= 8  # the batches it reports
    cpu = run["thread_cpu_s"]  # by kind of thread: the engine's (the caller's), the page and download pools
    assert cpu["MainThread"] > 0 and cpu["altscout-dl"] > 0 and cpu["altscout-page"] > 0
    assert run["full_collections"][0] >= 0 and threading.Thread.run is run_of_threads  # put back
    assert feed_rate.batch_sizes([4, 8, 8]) == "7 images on average (median 8, largest 8)"
    assert feed_rate.serial_share(100.0, 100.0, 4) == 1.0  # no speed-up: all serial
    assert feed_rate.serial_share(100.0, 400.0, 4) == 0.0  # linear: nothing serial
    assert feed_rate.serial_share(100.0, 160.0, 4) == 0.5


def test_handover_cost_hands_the_sites_images_to_workers_one_and_a_group_at_a_time() -> None:
    """bench/handover_cost.py: the parent's CPU per image, for one image a message and for a group."""
    from bench import bench_site, handover_cost
    from pipeline.processes import GROUP

    server = bench_site.serve(2, 0.0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        results = handover_cost.parent_ms_per_image(url, pages=2, workers=1, threads=2, rounds=1)
    finally:
        server.shutdown()
    assert set(results) == {1, GROUP} and all(len(values) == 1 and values[0] > 0 for values in results.values())


def test_ocr_benchmark_scores_a_small_set() -> None:
    """bench/bench_ocr.py on 8 text images and 4 photos: the metrics are computed, the set is balanced."""
    from bench import bench_ocr
    from bench.ocr_set import evaluation_set

    samples = list(evaluation_set(8, 4))
    assert [s.text is None for s in samples] == [False] * 8 + [True] * 4
    assert {s.lang for s in samples[:8]} == {"en", "es", "fr", "de"}
    result = bench_ocr.evaluate(bench_ocr.altscout_reader(), samples)
    assert result["quality"]["all"]["images"] == 8 and 0 <= result["quality"]["all"]["cer"] <= 1
    assert result["detection"]["true_positive"] + result["detection"]["false_negative"] == 8
    assert bench_ocr.cer("abc", "abd") == 1 / 3 and bench_ocr.word_accuracy("a b c d", "a b x d") == 0.75
