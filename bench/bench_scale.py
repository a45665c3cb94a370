"""The engines at scale: a 2,000-page loopback site crawled by ``--engine local`` and ``--engine ray``.

    python bench/bench_scale.py                 # 2,000 pages x 15 images (about 15 minutes on 2 CPU cores)
    python bench/bench_scale.py --pages 200     # a quicker look
    python bench/bench_scale.py --pages 5 --engines ray --runs 3   # a Ray run's fixed cost, cold and warm

The model costs next to nothing here, so the run measures the engines themselves: the tiny random
BLIP of the tests (32 px input, 2 layers). The actors of the Ray engine load a captioner by
name, which rules out an in-process fake; both engines run the same tiny model. Each page has 15
images (10 shared across pages, 5 of its own: about 5 x pages distinct images, 160-320 px JPEG);
every response waits ``--delay-ms``. Both engines write sharded output (``--shard-dir``), as a
big run would, so the driver holds no records; the reports are then built from the shards. Both
caption with one thread (``OMP_NUM_THREADS=1`` unless set): the tiny model is all overhead.

Each engine runs in a fresh process. Reported: wall time, pages/s, image records/s, the driver's
peak RSS, and for Ray the worker processes' peak RSS (the largest one, and the largest sum seen
at once, sampled every 0.25 s from /proc). The Ray engine runs on a local Ray with this machine's
CPUs: on two cores its workers compete with the driver and each other. ``--runs N`` audits the
site N times in the engine's process, each into a fresh folder: the first run pays for loading
what the driver loads (starting Ray is outside the clock), the later ones are what a server (or
the test suite) pays for each audit on a running Ray.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_site  # noqa: E402
from bench.bench_site import page_images  # noqa: E402


def _image(path: str) -> bytes:
    """Small, distinct JPEG bytes per path (fast to make: the site has thousands)."""
    from PIL import Image, ImageDraw

    seed = zlib.crc32(path.encode())
    width = 160 + seed % 161
    image = Image.new("RGB", (width, width * 3 // 4), ((seed >> 8) % 256, (seed >> 16) % 256, seed % 256))
    draw = ImageDraw.Draw(image)
    for k in range(6):
        box = ((seed >> k) % width, (seed >> (k + 3)) % 100, (seed >> (k + 5)) % width + 20, 110)
        draw.rectangle((min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]), max(box[1], box[3])),
                       fill=((seed * (k + 1)) % 256, (seed >> k) % 256, (seed >> 2 * k) % 256))  # fmt: skip
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def serve(pages: int, delay_s: float) -> tuple[object, int]:
    """The benchmark site of bench_site.py with small images, all made before the clock starts;
    returns (server, distinct images)."""
    paths = sorted({src for i in range(pages) for src in page_images(i)})
    images = {path: _image(path) for path in paths}
    return bench_site.serve(pages, delay_s, image=lambda path: (images[path], "image/jpeg")), len(paths)


class WorkerMemory:
    """Peak RSS of Ray's worker processes (``ray::`` in /proc), sampled in a thread."""

    def __init__(self) -> None:
        self.largest_mb = 0.0
        self.total_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            total = 0.0
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::"):
                        continue
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                rss = int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
                peak = int(fields.get("VmHWM", "0 kB").split()[0]) / 1024
                total += rss
                self.largest_mb = max(self.largest_mb, peak)
            self.total_mb = max(self.total_mb, total)

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()


def child(args: argparse.Namespace, run: int = 1) -> dict[str, float]:
    """One crawl in this process (its ``run``-th); its numbers for the JSON the parent reads."""
    from options import AuditOptions
    from pipeline import AuditFinished, audit
    from reports.sharded import ShardReports, build_reports

    options = AuditOptions(
        model=str(args.model_dir),
        device="cpu",
        dtype="float32",
        allow_private=True,
        render="never",
        ocr="off",
        crawl=True,
        max_pages=args.pages + 1,
        engine=args.engine,
        shard_dir=str(args.workdir / f"{args.engine}-{run}"),
        shard_pages=200,
    )
    memory = None
    if args.engine == "ray":
        from pipeline.ray_stages import ensure_ray

        ensure_ray(None)  # outside the clock (once per process)
        memory = WorkerMemory()
    started = time.perf_counter()
    folder = next(e.shard_dir for e in audit([args.url], options) if isinstance(e, AuditFinished))
    seconds = time.perf_counter() - started
    if memory is not None:
        memory.stop()
    reports_started = time.perf_counter()
    summary = build_reports(folder, ShardReports.in_folder(Path(folder)))
    return {
        "seconds": seconds,
        "pages": summary["pages"],
        "images": summary["images"],
        "captioned": summary["captioned"],
        "reports_s": time.perf_counter() - reports_started,
        "driver_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_largest_mb": memory.largest_mb if memory else 0.0,
        "workers_total_mb": memory.total_mb if memory else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--delay-ms", type=float, default=10.0, help="every response waits this long")
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "altscout-blip-tiny")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=1, help="audits of the site in each engine's process")
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        print(json.dumps([child(args, run) for run in range(1, args.runs + 1)]))
        return
    from bench.blip_random import save_tiny_blip

    if not (args.model_dir / "model.safetensors").exists():
        save_tiny_blip(args.model_dir)
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="altscout-bench-scale-"))
    server, distinct = serve(args.pages, args.delay_ms / 1000)
    url = f"http://127.0.0.1:{server.server_address[1]}/"  # type: ignore[attr-defined]
    print(
        f"# {args.pages} pages x 15 images ({distinct} distinct), {args.delay_ms:.0f} ms per response, "
        f"tiny random BLIP, sharded output, {os.cpu_count()} CPUs"
    )
    # One model thread on both engines: the tiny model's operations are too small to share, and two
    # threads waiting at each other's barriers on 2 busy cores made its captions 3x slower (SCALE.md).
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    env["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "1")
    for engine in args.engines.split(","):
        command = [sys.executable, __file__, "--engine", engine, "--url", url, "--pages", str(args.pages),
                   "--model-dir", str(args.model_dir), "--workdir", str(args.workdir),
                   "--runs", str(args.runs)]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise SystemExit(f"--engine {engine} failed:\n{result.stderr[-3000:]}")
        for run, out in enumerate(json.loads(result.stdout.strip().splitlines()[-1]), start=1):
            workers = (
                f"; workers: largest {out['worker_largest_mb']:.0f} MiB, all at once {out['workers_total_mb']:.0f} MiB"
                if engine == "ray"
                else ""
            )
            which = f" (run {run} of {args.runs})" if args.runs > 1 else ""
            print(
                f"--engine {engine}{which}: {out['seconds']:.1f} s, {out['pages']} pages "
                f"({out['pages'] / out['seconds']:.1f}/s), {out['images']} image records "
                f"({out['images'] / out['seconds']:.1f}/s), {out['captioned']} captioned; driver peak RSS "
                f"{out['driver_peak_mb']:.0f} MiB{workers}; reports from shards {out['reports_s']:.1f} s",
                flush=True,
            )
    server.shutdown()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
