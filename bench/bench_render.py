"""Rendered versus static reading of a page, and whether rendering overlaps captioning.

    python bench/bench_render.py              # about a minute on 2 CPU cores
    python bench/bench_render.py --repeat 9   # more runs per median

A loopback server serves (1) a client-rendered fixture page whose 8 images come from a JSON
array, and (2) a static page of 40 photos (400-1600 px), every image response delayed by
``--delay`` seconds. Per page and mode it reports the median time to a finished page with a
zero-cost captioner (discovery plus every image fetched and decoded), so the two modes do the
same work apart from the browser. Then 6 client-rendered pages run through the pipeline with
a captioner that sleeps ``--caption-s`` per image: if rendering overlapped captioning, the wall
time is close to the captioning time, not to rendering plus captioning.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.server
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loopback  # noqa: E402
from bench.bench_pipeline import build_site  # noqa: E402
from bench.loopback import NOT_FOUND, ROBOTS_ALLOW_ALL, Answer  # noqa: E402
from captioning.base import GenerationSettings  # noqa: E402
from options import AuditOptions  # noqa: E402
from pipeline import run_audit  # noqa: E402
from scraper.render import get_renderer  # noqa: E402

APP_IMAGES = 8


class SleepyCaptioner:
    """A captioner that costs ``seconds`` per image and nothing else."""

    default_batch_size = 8

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.busy_s = 0.0

    def load(self) -> None:
        return None

    def prepare(self, image: Any) -> Any:
        return image.size

    def caption_batch(self, images: list[Any], settings: GenerationSettings) -> list[str]:
        started = time.perf_counter()
        time.sleep(self.seconds * len(images))
        self.busy_s += time.perf_counter() - started
        return [f"a picture {w}x{h}" for w, h in images]

    def describe(self) -> dict[str, Any]:
        return {"id": "sleepy", "device": "cpu", "dtype": "none", "family": "bench"}


def serve(images: dict[str, tuple[bytes, str]], delay_s: float) -> http.server.ThreadingHTTPServer:
    """The benchmark site: /static.html (every image), /app-N.html (JS pages of APP_IMAGES each)."""
    names = sorted(images)

    def answer(path: str, base: str) -> Answer:
        if path == "/robots.txt":
            return ROBOTS_ALLOW_ALL
        if path == "/static.html":
            return 200, "text/html", ("<html><body>" + "".join(f'<img src="{n}" alt="">' for n in names)).encode()
        if path.startswith("/app-") and path.endswith(".html"):
            return (
                200,
                "text/html",
                (
                    "<html><body><div id='app'></div><script>"
                    f"fetch('/data-{path[5:-5]}.json').then(r => r.json()).then(items => {{ for (const src of items) {{"
                    "const img = document.createElement('img'); img.src = src; img.alt = '';"
                    "document.getElementById('app').appendChild(img); } });</script></body></html>"
                ).encode(),
            )
        if path.startswith("/data-") and path.endswith(".json"):
            page = int(path[6:-5])
            chosen = [names[(page * APP_IMAGES + i) % len(names)] for i in range(APP_IMAGES)]
            return 200, "application/json", json.dumps(chosen).encode()
        if path in images:
            body, content_type = images[path]
            return 200, content_type, body
        return NOT_FOUND

    return loopback.serve(answer, lambda path: delay_s if path in images else 0.0)


def page_seconds(url: str, options: AuditOptions, repeat: int) -> tuple[float, int]:
    """Median seconds to a finished page, and the images found (captioner costs nothing)."""
    times, found = [], 0
    for _ in range(repeat):
        report = run_audit([url], options, SleepyCaptioner(0.0))
        times.append(report.elapsed_s)
        found = report.summary()["captioned"]
    return statistics.median(times), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per image response")
    parser.add_argument("--caption-s", type=float, default=0.25, help="captioning seconds per image")
    parser.add_argument("--pages", type=int, default=6)
    args = parser.parse_args()

    images = {f"/{path.rsplit('/', 1)[-1]}": value for path, value in build_site(40).items()}
    server = serve(images, args.delay)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    rendered = AuditOptions(render="always", allow_private=True, min_width=1, min_height=1, max_images=500)
    static = dataclasses.replace(rendered, render="never")
    get_renderer(None).start()  # the browser starts once per process; not part of a page's time
    run_audit([f"{base}/app-0.html"], rendered, SleepyCaptioner(0.0))  # warm up

    print(
        f"# {platform.processor() or platform.machine()}, {args.delay * 1000:.0f} ms per image response, "
        f"median of {args.repeat}"
    )
    print("| page | static: s (images) | rendered: s (images) |")
    print("|---|---|---|")
    for label, url in (
        ("client-rendered fixture (8 images)", f"{base}/app-0.html"),
        ("static page, 40 images", f"{base}/static.html"),
    ):
        s_time, s_found = page_seconds(url, static, args.repeat)
        r_time, r_found = page_seconds(url, rendered, args.repeat)
        print(f"| {label} | {s_time:.2f} ({s_found}) | {r_time:.2f} ({r_found}) |")

    urls = [f"{base}/app-{i}.html" for i in range(args.pages)]
    render_alone = sum(page_seconds(url, rendered, 1)[0] for url in urls)
    captioner = SleepyCaptioner(args.caption_s)
    started = time.perf_counter()
    report = run_audit(urls, rendered, captioner)
    wall = time.perf_counter() - started
    images_done = report.summary()["captioned"]
    print(
        f"\n{args.pages} client-rendered pages, {images_done} images, captioning {args.caption_s:.2f} s/image:\n"
        f"- rendering alone (sum over pages): {render_alone:.2f} s\n"
        f"- captioning alone: {captioner.busy_s:.2f} s\n"
        f"- pipeline wall time: {wall:.2f} s (serialised would be about {render_alone + captioner.busy_s:.2f} s)\n"
        f"- captioner busy: {captioner.busy_s / wall:.0%} of the wall time"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
