"""How fast the CPU side can feed a captioner: the local engine with captions that cost nothing.

    python3 bench/feed_rate.py                          # 200 pages (1,026 distinct images), 1 thread and one per core
    python3 bench/feed_rate.py --pages 1000 --threads 1 8 16 --processes 16   # on a GPU machine's 16 cores
    python3 bench/feed_rate.py --threads 2 --processes 2 --batch 1024        # the batches a GPU's engine forms
    python3 bench/feed_rate.py --threads 2 --processes 2 --batch 256 --batch-seconds 0.5  # the model is the slow side
    python3 bench/feed_rate.py --processes 2 --batch 1024 --nav-links 80  # a real site's menu on every page

The benchmark site of ``bench_site.py`` (every image made before the clock starts, no response
delay) is audited by the local engine in a fresh process per run, with everything a real audit
does to an image (fetch through the guarded fetcher and the response store, decode, JPEG draft,
EXIF, the resize to BLIP's 384 x 384 that the processor would do, page discovery, records and the
audit) except the model: captions are instant. So the distinct images per second it prints are
the most an end-to-end audit can reach with any captioner on this machine, and a GPU audit that is
slower than its captioning stage is bound by this. Each line gives the threads that download and
prepare images, the rate, the CPU time per distinct image (the crawling process only; the site
runs in this one), the sizes of the caption batches the engine formed (``--batch``: the batch
size; a GPU's is 1,024, and an instant captioner takes what is ready from a quarter batch;
``--batch-seconds`` makes every batch take that long, like a GPU below saturation, so the model is
the slower side and batches should fill), and the crawling process's peak RSS. From
the rates at 1 and N threads it derives the share of the work that did not run in parallel
(Amdahl's law: mostly Python holding the GIL) and the ceiling that share puts on any number of
cores. ``--processes N`` runs the page and image stages in N worker processes instead
(``--processes``, :mod:`pipeline.processes`); then the CPU time per image is the
parent's alone, which is what bounds it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_site import child_env, image_paths, serve  # noqa: E402


class InstantCaptioner:
    """BLIP's real preprocessing (the processor's recipe, 384 px, bicubic), captions that cost nothing."""

    default_batch_size = 64

    def __init__(self, batch_seconds: float = 0.0) -> None:
        from transformers import BlipImageProcessor
        from transformers.utils import logging

        from captioning.pixels import PixelRecipe

        logging.set_verbosity_error()  # the processor's note that torchvision is absent
        recipe = PixelRecipe.from_processor(BlipImageProcessor())
        if recipe is None:
            raise SystemExit("BLIP's image processor cannot be copied by PixelRecipe")
        self.recipe = recipe
        self.batches: list[int] = []  # the size of every batch the engine sent
        self.batch_seconds = batch_seconds  # what a batch costs whatever its size (a GPU below saturation)

    def load(self) -> None:
        return None

    def pixel_recipe(self) -> Any:
        return self.recipe  # what --processes workers prepare with

    def prepare(self, image: Any) -> Any:
        return self.recipe.to_array(image)

    def caption_batch(self, images: list[Any], settings: Any) -> list[str]:
        self.batches.append(len(images))
        time.sleep(self.batch_seconds)
        return [f"a picture {index}" for index in range(len(images))]

    def describe(self) -> dict[str, Any]:
        return {"id": "instant", "device": "cpu", "dtype": "none", "family": "bench"}


class ThreadCpu:
    """The CPU seconds of this process's threads by kind (their name less its number), counted as each
    thread ends, and the time its full (generation 2) garbage collections took."""

    def __init__(self) -> None:
        self.by_kind: dict[str, float] = {}
        self.full_collections = [0, 0.0]
        self._lock = threading.Lock()
        self._collecting = 0.0

    def __enter__(self) -> ThreadCpu:
        self._run = run = threading.Thread.run
        counted = self

        def timed_run(thread: threading.Thread) -> None:
            started = time.thread_time()
            try:
                run(thread)
            finally:
                counted.add(re.sub(r"[-_]?\d+(_\d+)?$", "", thread.name), time.thread_time() - started)

        threading.Thread.run = timed_run  # type: ignore[method-assign]
        gc.callbacks.append(self._on_collection)
        return self

    def __exit__(self, *exc: object) -> None:
        threading.Thread.run = self._run  # type: ignore[method-assign]
        gc.callbacks.remove(self._on_collection)

    def add(self, kind: str, seconds: float) -> None:
        with self._lock:
            self.by_kind[kind] = self.by_kind.get(kind, 0.0) + seconds

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._collecting = time.perf_counter()
        else:
            self.full_collections[0] += 1
            self.full_collections[1] += time.perf_counter() - self._collecting


def child(
    url: str, threads: int, processes: int = 0, batch: int | None = None, batch_seconds: float = 0.0
) -> dict[str, Any]:
    """One audit of the site with ``threads`` download threads (``processes`` > 0: that many
    worker processes instead, ``--processes``) and ``batch`` images a caption batch; its wall and
    CPU seconds, by kind of thread too (the engine's is the caller's: ``MainThread``)."""
    from options import AuditOptions
    from pipeline import run_audit

    options = AuditOptions(
        model="instant", allow_private=True, render="never", crawl=True, max_pages=100_000, ocr="off",
        download_workers=threads, processes=processes, batch_size=batch,
    )  # fmt: skip
    captioner = InstantCaptioner(batch_seconds)
    with ThreadCpu() as threads_cpu:
        started, cpu, main_cpu = time.perf_counter(), time.process_time(), time.thread_time()
        report = run_audit([url], options, captioner)
        threads_cpu.add("MainThread", time.thread_time() - main_cpu)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "thread_cpu_s": threads_cpu.by_kind,
        "full_collections": threads_cpu.full_collections,
        "distinct": report.site["unique_images"],
        "captioned": report.summary()["captioned"],
        "records": report.summary()["images"],
        "batches": captioner.batches,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
    }


def batch_sizes(batches: list[int]) -> str:
    """The mean and spread of the caption batches' sizes."""
    if not batches:
        return "none"
    ordered = sorted(batches)
    mean, median = sum(batches) / len(batches), ordered[len(ordered) // 2]
    return f"{mean:.0f} images on average (median {median}, largest {ordered[-1]})"


def serial_share(rate_one: float, rate_many: float, threads: int) -> float:
    """Amdahl's serial share from the speed-up at ``threads`` (meaningful up to one thread per core)."""
    if threads <= 1:
        return float("nan")
    return (rate_one / rate_many - 1 / threads) / (1 - 1 / threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument(
        "--processes",
        type=int,
        nargs="*",
        default=[],
        help="worker processes for the page and image stages (each a run)",
    )
    parser.add_argument("--batch", type=int, default=None, help="images a caption batch (default 64; a GPU's is 1,024)")
    parser.add_argument(
        "--batch-seconds",
        type=float,
        default=0.0,
        help="each caption batch takes this long whatever its size, as a GPU's does below saturation (default 0)",
    )
    parser.add_argument(
        "--nav-links",
        type=int,
        default=0,
        help="a menu of this many links on every page, the same on each, as a real site's header and footer",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        processes = args.processes[0] if args.processes else 0
        print(json.dumps(child(args.child, args.threads[0], processes, args.batch, args.batch_seconds)))
        return
    started = time.perf_counter()
    server = serve(args.pages, 0.0, nav_links=args.nav_links)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(
        f"# {args.pages} pages x 15 images ({len(image_paths(args.pages))} distinct, made in "
        f"{time.perf_counter() - started:.1f} s), {args.nav_links} menu links a page, no delay, instant captions, "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    rates: dict[int, float] = {}
    for threads, processes in [*((t, 0) for t in args.threads), *((1, p) for p in args.processes)]:
        command = [sys.executable, __file__, "--child", url, "--threads", str(threads), "--processes", str(processes)]
        command += ["--batch", str(args.batch)] if args.batch else []
        command += ["--batch-seconds", str(args.batch_seconds)]
        done = subprocess.run(command, capture_output=True, text=True, env=child_env(), check=False)
        if done.returncode != 0:
            raise SystemExit(f"the run with {threads} threads, {processes} processes failed:\n{done.stderr[-3000:]}")
        run = json.loads(done.stdout.strip().splitlines()[-1])
        rate = run["distinct"] / run["seconds"]
        label = f"{processes:>3} worker processes" if processes else f"{threads:>3} threads"
        if not processes:
            rates[threads] = rate
        print(
            f"{label}: {run['seconds']:.1f} s, {run['distinct']} distinct images "
            f"({run['captioned']} of {run['records']} records captioned), {rate:.0f} distinct images/s, "
            f"{run['cpu_s'] / run['distinct'] * 1000:.1f} ms CPU per distinct image"
            + (" in the parent" if processes else "")
            + f"; {len(run['batches'])} caption batches of {batch_sizes(run['batches'])}"
            + f"; peak RSS {run['peak_rss_mb']:.0f} MiB",
            flush=True,
        )
        kinds = sorted(run["thread_cpu_s"].items(), key=lambda item: -item[1])
        count, spent = run["full_collections"]
        per_image = [(kind, seconds / run["distinct"] * 1000) for kind, seconds in kinds]
        print(
            "     CPU per distinct image by thread: "
            + ", ".join(f"{kind} {ms:.2f} ms" for kind, ms in per_image if ms >= 0.005)
            + f"; {count} full garbage collections, {spent:.2f} s",
            flush=True,
        )
    one = rates.get(1)
    for threads, rate in rates.items():
        share = serial_share(one, rate, threads) if one else float("nan")
        if share == share and threads <= (os.cpu_count() or 1):
            print(
                f"1 -> {threads} threads: {rate / one:.2f}x; serial share (Amdahl) {share:.0%}, so at most "
                f"{one / max(share, 1e-9):.0f} distinct images/s on any number of cores"
            )
    server.shutdown()


if __name__ == "__main__":
    main()
