"""What handing an image to a worker process costs the crawling process, one image a message or a group.

    python3 bench/handover_cost.py                 # 60 pages' images (about 330), 2 workers, 3 threads
    python3 bench/handover_cost.py --workers 16 --threads 17 --pages 200   # a GPU machine's 16 cores

The image stage runs in worker processes (``--processes``, :mod:`pipeline.processes`); each task a
download thread hands over costs the parent a message each way, a thread's wake-up and the record
pickled, whatever the image. The benchmark site's images are read once into the run's response
store (so the workers do little), then handed over again and again by ``--threads`` threads, in
tasks of one image and of ``GROUP`` images (what a thread takes once enough images wait), in
alternation; it prints the parent's CPU time per image for each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_site import serve  # noqa: E402
from bench.feed_rate import InstantCaptioner  # noqa: E402


def parent_ms_per_image(url: str, pages: int, workers: int, threads: int, rounds: int) -> dict[int, list[float]]:
    """{group size: the parent's CPU ms per image, a value a round} for the site's distinct images."""
    from options import AuditOptions
    from pipeline.processes import GROUP, StageProcesses
    from pipeline.stages import AuditRun
    from records import ImageRecord

    options = AuditOptions(allow_private=True, render="never", crawl=True, ocr="off", processes=workers)
    run = AuditRun(options, InstantCaptioner())
    with tempfile.TemporaryDirectory() as folder:
        run.open_responses(Path(folder) / "responses", "handover")
        processes = run.stage_processes = StageProcesses.start(run)
        assert processes is not None and processes.wait_started(120)
        try:
            urls = sorted({r.source for i in range(pages) for r in run.discover(f"{url}page/{i}").page.images})
            source, results = run.page_bytes(), {1: [], GROUP: []}
            for _ in range(rounds + 1):  # the first round reads the site into the store, and is not counted
                for size in results:
                    records = [ImageRecord(source=u, found_in=["img"]) for u in urls]
                    groups = [[(r, source) for r in records[i : i + size]] for i in range(0, len(records), size)]
                    cpu = time.process_time()
                    with ThreadPoolExecutor(threads) as pool:
                        for outcome in [pool.submit(processes.download_images, group) for group in groups]:
                            outcome.result()
                    results[size].append((time.process_time() - cpu) / len(records) * 1000)
            return {size: values[1:] for size, values in results.items()}
        finally:
            run.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = serve(args.pages, 0.0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        results = parent_ms_per_image(url, args.pages, args.workers, args.threads, args.rounds)
    finally:
        server.shutdown()
    print(f"# {args.pages} pages' images, {args.workers} workers, {args.threads} threads, the images in the store")
    for size, values in results.items():
        print(f"  {size} image(s) a message: {', '.join(f'{v:.3f}' for v in values)} ms of the parent's CPU per image")


if __name__ == "__main__":
    main()
