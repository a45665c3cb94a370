"""Whole-site audit: AltScout --crawl against the naive loop, plus resume and re-audit.

    python bench/bench_site.py                    # 50 pages (about 20 minutes on 2 CPU cores)
    python bench/bench_site.py --naive-pages 50   # the naive loop on all 50 pages too (30 more minutes)
    python bench/bench_site.py --quick            # 6 pages, naive on 2
    python bench/bench_site.py --memory           # peak memory at 50 and 2,000 pages (fake captioner)
    python bench/bench_site.py --engines local,ray --only-crawl   # the crawl on each engine (Ray: a local Ray)
    python bench/bench_site.py --requests --engines local,ray [--render auto]   # requests per URL, re-audit
    python bench/bench_site.py --only-crawl --pages 1000 --delay-ms 0 --stage-rate   # on a GPU: 5,030 distinct
                                  # images end to end against the captioning stage alone, and GPU busy %

A loopback site: a home page linking every page; each page has 5 images of its own and 10
shared ones (a logo, 3 icons and 2 header photos on every page, 4 product thumbnails shared by
the pages of its category, 5 categories); every response waits 150 ms. AltScout crawls it from
the home page with the full-size BLIP-base architecture (random weights, exactly 20 new tokens);
the naive loop (bench/naive.py) audits the same page list one page after another, one image at a
time, with no sharing. The naive loop's time is linear in pages (no state, no sharing), so by
default it runs on the first ``--naive-pages`` pages and its 50-page time is scaled from them.
Each run is a fresh process (model loading excluded). Then: a crawl with ``--state`` killed with
SIGKILL at half its pages and run again, and a re-audit of the unchanged site with that state.

``--requests`` measures what each engine asks of the site (a tiny random BLIP: the model does not
matter here): requests per distinct page and image URL on a first crawl with ``--state``, then a
re-audit of the unchanged site with that state (its time, its requests, and how many came back
with a body rather than a 304). Every answer of the loopback site has an ETag.
"""

from __future__ import annotations

import argparse
import http.server
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loopback  # noqa: E402
from bench.bench_pipeline import peak_rss_mb  # noqa: E402
from bench.busy import GpuBusy, time_batches  # noqa: E402
from bench.loopback import NOT_FOUND, ROBOTS_ALLOW_ALL, Answer  # noqa: E402

DELAY_S = 0.15
CATEGORIES = 5
SHARED = ["/img/logo.png", "/img/icon-1.png", "/img/icon-2.png", "/img/icon-3.png", "/img/header-1.jpg",
          "/img/header-2.jpg"]  # fmt: skip


def page_images(i: int) -> list[str]:
    """The 15 images of page ``i``: 10 shared, 5 of its own."""
    category = i % CATEGORIES
    return [*SHARED, *(f"/img/cat{category}-{k}.jpg" for k in range(4)), *(f"/img/p{i}-{k}.jpg" for k in range(5))]


def _image_bytes(path: str, sources: list) -> tuple[bytes, str]:
    """Deterministic, distinct image bytes per path: photos at 400-1200 px, icons at 128 px."""
    from PIL import ImageDraw

    seed = zlib.crc32(path.encode())
    source = sources[seed % len(sources)]
    if "/icon-" in path:
        image, fmt = source.resize((128, 128)), "PNG"
    else:
        width = 400 + seed % 801
        image, fmt = source.resize((width, max(300, width * 3 // 4))), "PNG" if path.endswith(".png") else "JPEG"
    if (seed >> 12) % 2:
        image = image.transpose(0)
    draw = ImageDraw.Draw(image)  # a mark of its own: no two paths share bytes
    draw.rectangle((10, 10, 60, 60), fill=(seed % 256, (seed >> 8) % 256, (seed >> 16) % 256))
    buffer = io.BytesIO()
    image.save(buffer, fmt, quality=85)
    return buffer.getvalue(), "image/png" if fmt == "PNG" else "image/jpeg"


def image_paths(pages: int) -> list[str]:
    """Every distinct image path of a site of ``pages`` pages, in the order pages first use them."""
    return list(dict.fromkeys(path for i in range(pages) for path in page_images(i)))


def serve(
    pages: int,
    delay_s: float,
    image: Callable[[str], tuple[bytes, str]] | None = None,
    warm: bool = True,
    nav_links: int = 0,
) -> http.server.ThreadingHTTPServer:
    """The benchmark site on 127.0.0.1; ``image(path)`` gives (bytes, content type) of an image,
    by default a 400-1200 px photo or a 128 px icon. ``warm``: every image made before the server
    answers, on all cores, so a timed crawl measures the crawler, not the site making its images
    (one at a time, about 100 a second); otherwise each is made on first request and kept.
    ``nav_links``: every page also carries a menu of that many links, the same on every page (a
    real shop's header and footer: 50 to 100 links) to the first pages."""
    made: dict[str, tuple[bytes, str]] = {}
    lock = threading.Lock()
    if image is None:
        from bench.bench_pipeline import _sources

        sources = [s.resize((800, 600)) for s in _sources()]

        def image(path: str) -> tuple[bytes, str]:
            return _image_bytes(path, sources)

    if warm:  # Pillow's resize and JPEG encoder let go of the GIL: threads use every core
        paths = image_paths(pages)
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            made.update(zip(paths, pool.map(image, paths), strict=True))

    menu = "".join(f'<a href="/page/{k % pages}">Menu {k}</a>' for k in range(nav_links))  # none: pages as before

    def answer(path: str, base: str) -> Answer:
        if path == "/robots.txt":
            return ROBOTS_ALLOW_ALL
        if path == "/":
            links = "".join(f'<a href="/page/{i}">Page {i}</a>' for i in range(pages))
            return 200, "text/html", f"<html><body><h1>Shop</h1>{links}</body></html>".encode()
        if path.startswith("/page/") and path[6:].isdigit() and int(path[6:]) < pages:
            i = int(path[6:])
            imgs = "".join(f'<img src="{base}{src}" alt="">' for src in page_images(i))  # absolute: see naive.py
            links = f'{menu}<a href="/">Home</a><a href="/page/{(i + 1) % pages}">Next</a>'
            html = f"<html><body>{links}{imgs}</body></html>"
            return 200, "text/html", html.encode()
        if path.startswith("/img/"):
            with lock:
                if path not in made:
                    made[path] = image(path)
            body, content_type = made[path]
            return 200, content_type, body
        return NOT_FOUND

    return loopback.serve(answer, lambda path: delay_s)


# --- children: one measured run each, in a fresh process -------------------------------


class FakeCaptioner:
    """Costs nothing: the memory runs measure the pipeline, not the model."""

    default_batch_size = 8

    def load(self) -> None:
        return None

    def prepare(self, image):  # type: ignore[no-untyped-def]
        return image.size

    def caption_batch(self, images, settings):  # type: ignore[no-untyped-def]
        return [f"a picture {w} {h}" for w, h in images]

    def describe(self) -> dict:
        return {"id": "fake", "device": "cpu", "dtype": "none", "family": "bench"}


def child_crawl(args: argparse.Namespace) -> dict:
    from captioning import get_captioner
    from options import AuditOptions
    from pipeline import run_audit

    options = AuditOptions(
        model=str(args.model_dir),
        allow_private=True,
        render=args.render,
        crawl=True,
        max_pages=100_000,
        max_new_tokens=args.tokens,
        min_new_tokens=args.tokens,
        state_path=args.state,
        dtype=args.dtype,
        engine=args.engine,
        ocr="off",
    )
    if args.engine == "ray":  # the actors load the model; the driver only needs a Ray to talk to
        from pipeline.ray_stages import ensure_ray

        ensure_ray(None)
        captioner, busy = None, {"s": float("nan")}
    else:
        captioner = FakeCaptioner() if args.fake else get_captioner(options.captioner_spec)
    loading = time.perf_counter()
    if captioner is not None:  # the Ray engine's actors load theirs inside the timed run
        captioner.load()
        busy = time_batches(captioner)
    load_s = time.perf_counter() - loading
    started = time.perf_counter()
    with GpuBusy() as gpu:
        report = run_audit([args.url], options, captioner)
    seconds = time.perf_counter() - started
    summary = report.summary()
    crawl_busy_s = busy["s"]  # before the stage is timed on the same (wrapped) captioner
    mean_batch = busy["images"] / busy["batches"] if busy.get("batches") else float("nan")
    stage = stage_rate(captioner, options) if args.stage_rate and captioner is not None else float("nan")
    return {
        "gpu_busy": gpu.percent,
        "stage_images_per_s": stage,
        "seconds": seconds,
        "load_s": load_s,
        "pages": report.site["pages_audited"],
        "images": summary["images"],
        "captioned": summary["captioned"],
        "unique_images": report.site["unique_images"],
        "captioned_this_run": report.site["captioned_this_run"],
        "caption_busy_s": crawl_busy_s,
        "mean_batch": mean_batch,
        "peak_rss_mb": peak_rss_mb(),
    }


def stage_rate(captioner: object, options: object) -> float:
    """The captioning stage alone, in the same process right after the crawl: images/s over four
    batches of the audit's batch size, sent as the engine sends them."""
    from bench.bench_captioning import caption_as_the_engine_does, sample_jpegs
    from scraper.images import prepare_image

    batch = options.batch_size or captioner.default_batch_size  # type: ignore[attr-defined]
    jpegs = sample_jpegs(64)
    prepared = [captioner.prepare(prepare_image(data, min_width=1, min_height=1).image) for data in jpegs]  # type: ignore[attr-defined]
    images = [prepared[i % len(prepared)] for i in range(4 * batch)]
    settings = options.generation  # type: ignore[attr-defined]
    caption_as_the_engine_does(captioner, images[:batch], batch, settings)  # warm at this size
    started = time.perf_counter()
    caption_as_the_engine_does(captioner, images, batch, settings)
    return len(images) / (time.perf_counter() - started)


def child_naive(args: argparse.Namespace) -> dict:
    from bench.naive import load, run

    processor, model = load(str(args.model_dir))
    started = time.perf_counter()
    captioned = 0
    for i in range(args.pages):
        out = Path(args.workdir) / f"naive-{i}.txt"
        captioned += run(f"{args.url}page/{i}", processor, model, args.tokens, out)
    return {"seconds": time.perf_counter() - started, "captioned": captioned, "peak_rss_mb": peak_rss_mb()}


def child_command(method: str, url: str, args: argparse.Namespace, **extra: object) -> list[str]:
    command = [sys.executable, __file__, "--child", method, "--url", url, "--model-dir", str(args.model_dir),
               "--tokens", str(args.tokens), "--workdir", str(args.workdir), "--dtype", args.dtype]  # fmt: skip
    for key, value in extra.items():
        if value is True:
            command.append(f"--{key}")
        elif value is not None and value is not False:
            command += [f"--{key}", str(value)]
    return command


def child_env() -> dict[str, str]:
    """The parent's environment with the project first on the path (carried wheels stay on it)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}


def run_child(command: list[str]) -> dict:
    result = subprocess.run(command, capture_output=True, text=True, env=child_env(), check=False)
    if result.returncode != 0:
        raise SystemExit(f"{command[3]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def killed_at_half(command: list[str], state: Path, pages: int) -> float:
    """Run a crawl until half its pages are audited, then SIGKILL it; return the seconds it ran."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env())
    while process.poll() is None:
        time.sleep(0.5)
        if state.exists():
            try:
                with sqlite3.connect(state) as db:
                    done = db.execute("SELECT COUNT(*) FROM urls WHERE status = 'audited'").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if done >= pages // 2:
                os.kill(process.pid, signal.SIGKILL)
                break
    process.wait()
    return time.perf_counter() - started


def request_counts(server: http.server.ThreadingHTTPServer) -> dict[str, tuple[int, int, int]]:
    """Per kind of URL: (requests, distinct URLs, answers with a body)."""
    kinds: dict[str, tuple[int, int, int]] = {}
    for kind, prefixes in (("pages", ("/page/",)), ("images", ("/img/",))):
        paths = [path for path in server.requests if (path == "/" and kind == "pages") or path.startswith(prefixes)]  # type: ignore[attr-defined]
        requests = sum(server.requests[path] for path in paths)  # type: ignore[attr-defined]
        bodies = sum(server.bodies[path] for path in paths)  # type: ignore[attr-defined]
        kinds[kind] = (requests, len(paths), bodies)
    return kinds


def measure_requests(args: argparse.Namespace) -> None:
    """What each engine asks of the site on a first crawl and on a re-audit of the unchanged site."""
    from bench.blip_random import save_tiny_blip

    args.model_dir = save_tiny_blip(args.workdir / "tiny-blip")
    server = serve(args.pages, 0.0)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(f"# {args.pages} pages x 15 images (10 shared), render {args.render}, ETags on every answer")
    for engine in args.engines.split(","):
        state = args.workdir / f"requests-{engine}.db"
        for label in ("first crawl", "re-audit"):
            server.requests.clear()  # type: ignore[attr-defined]
            server.bodies.clear()  # type: ignore[attr-defined]
            result = run_child(child_command("crawl", url, args, engine=engine, state=state, render=args.render))
            counts = request_counts(server)
            line = ", ".join(
                f"{kind}: {requests} requests for {distinct} URLs ({requests / max(distinct, 1):.2f} per URL, "
                f"{bodies} bodies)"
                for kind, (requests, distinct, bodies) in counts.items()
            )
            print(
                f"--engine {engine} {label}: {result['seconds']:.1f} s, {result['pages']} pages, "
                f"{result['captioned_this_run']} captioned; {line}",
                flush=True,
            )
    server.shutdown()


def crawl_each_engine(args: argparse.Namespace, url: str) -> dict[str, dict]:
    """One crawl per engine, each in a fresh process, printed as it ends; the runs by engine."""
    runs: dict[str, dict] = {}
    for engine in args.engines.split(","):
        extra = {"engine": engine, "stage-rate": args.stage_rate and engine == "local"}
        ours = runs[engine] = run_child(child_command("crawl", url, args, **extra))
        distinct = ours["captioned_this_run"] / ours["seconds"]
        print(
            f"AltScout --crawl --engine {engine}: {ours['seconds']:.1f} s for {ours['pages']} pages "
            f"({ours['seconds'] + ours['load_s']:.1f} s with the model's load in the driver: "
            f"{ours['load_s']:.1f} s), {ours['images']} image records ({ours['unique_images']} distinct), "
            f"{ours['images'] / ours['seconds']:.2f} images/s; captioner busy "
            f"{ours['caption_busy_s'] / ours['seconds']:.0%} (batches of {ours['mean_batch']:.0f} images on average); "
            f"peak RSS (driver) {ours['peak_rss_mb']:.0f} MiB",
            flush=True,
        )
        if ours["gpu_busy"] is not None:
            print(f"GPU busy (NVML) over the crawl: {ours['gpu_busy']:.0f}%", flush=True)
        if ours["stage_images_per_s"] == ours["stage_images_per_s"]:  # measured (not NaN)
            print(
                f"end to end {distinct:.0f} distinct images captioned/s against the captioning stage alone "
                f"{ours['stage_images_per_s']:.0f} images/s (same process, same batch): "
                f"{distinct / ours['stage_images_per_s']:.0%}",
                flush=True,
            )
    if {"local", "ray"} <= runs.keys():  # Ray's time includes starting its actors and their model loads
        local, ray = runs["local"], runs["ray"]
        print(
            f"Ray engine overhead: {ray['seconds'] / (local['seconds'] + local['load_s']) - 1:+.0%} against the "
            f"local engine with its model load, {ray['seconds'] / local['seconds'] - 1:+.0%} without it"
        )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--naive-pages", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="6 pages, the naive loop on 2")
    parser.add_argument("--memory", action="store_true", help="peak memory at 50 and 2,000 pages (fake captioner)")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--dtype", default="auto", help="AltScout's dtype (auto: bf16 on CPUs with AMX)")
    parser.add_argument("--only-crawl", action="store_true", help="only the AltScout crawl (no naive, resume)")
    parser.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "altscout-blip-base-random")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", choices=["crawl", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--state", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engines", default="local", help="comma-separated: local, ray (each crawls the site)")
    parser.add_argument("--engine", default="local", help=argparse.SUPPRESS)
    parser.add_argument("--requests", action="store_true", help="requests per URL and the re-audit, per engine")
    parser.add_argument("--render", default="never", help="never (default) or auto: the browser renders every page")
    parser.add_argument("--delay-ms", type=float, default=DELAY_S * 1000, help="each response's delay (default 150)")
    parser.add_argument(
        "--stage-rate",
        action="store_true",
        help="after the local crawl, time the captioning stage alone in the same process (end to end / stage)",
    )
    args = parser.parse_args()
    if args.child:
        result = child_crawl(args) if args.child == "crawl" else child_naive(args)
        print(json.dumps(result))
        return
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="altscout-bench-site-"))
    if args.memory:
        for pages in (50, 2000):
            server = serve(pages, 0.0, warm=False)  # 10,030 images at 2,000 pages: made as asked
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            result = run_child(child_command("crawl", url, args, fake=True))
            print(
                f"{pages} pages, {result['images']} image records, {result['unique_images']} distinct images: "
                f"peak RSS {result['peak_rss_mb']:.0f} MiB, {result['seconds']:.1f} s"
            )
            server.shutdown()
        return
    if args.requests:
        measure_requests(args)
        return
    from bench.blip_random import save_random_blip_base

    if args.quick:
        args.pages, args.naive_pages = 6, 2
    save_random_blip_base(args.model_dir)
    server = serve(args.pages, args.delay_ms / 1000)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(
        f"# {args.pages} pages x 15 images, {args.delay_ms:.0f} ms per response, BLIP-base random, "
        f"{args.tokens} tokens, dtype {args.dtype}, {os.cpu_count()} CPUs"
    )
    runs = crawl_each_engine(args, url)
    ours = runs[args.engines.split(",")[-1]]
    if args.only_crawl:
        server.shutdown()
        return
    naive = run_child(child_command("naive", url, args, pages=args.naive_pages))
    scaled = naive["seconds"] * args.pages / args.naive_pages
    how = "measured" if args.naive_pages == args.pages else f"scaled from {args.naive_pages} pages"
    print(
        f"naive loop: {naive['seconds']:.1f} s for {args.naive_pages} pages ({naive['captioned']} captions); "
        f"{scaled:.1f} s for {args.pages} pages ({how}); ratio {scaled / ours['seconds']:.2f}x"
    )
    state = args.workdir / "site.db"
    first = killed_at_half(child_command("crawl", url, args, state=state), state, args.pages)
    resumed = run_child(child_command("crawl", url, args, state=state))
    print(
        f"resume: killed (SIGKILL) after {first:.1f} s at half the pages; the rerun took {resumed['seconds']:.1f} s "
        f"and captioned {resumed['captioned_this_run']} of {resumed['unique_images']} distinct images "
        f"(total {first + resumed['seconds']:.1f} s)"
    )
    again = run_child(child_command("crawl", url, args, state=state))
    print(
        f"re-audit of the unchanged site with --state: {again['seconds']:.1f} s, "
        f"{again['captioned_this_run']} images captioned, {again['pages']} pages read again"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
