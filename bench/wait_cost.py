"""What the local engine's thread pays to learn that one future ended, with thousands in flight.

    python3 bench/wait_cost.py                 # 2,050 futures (2 x 1,024 + 2 threads), 500 completions

``concurrent.futures.wait(FIRST_COMPLETED)`` over every future in flight (what the engine did)
against :class:`pipeline.in_flight.InFlight` (each future puts itself on a queue when done); the
CPU time per completion of the waiting thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.in_flight import InFlight


def per_completion_ms(in_flight: int, completions: int) -> tuple[float, float]:
    """(ms with ``wait`` over all, ms with ``InFlight``) of CPU per completion."""
    futures: list[Future[Any]] = [Future() for _ in range(in_flight)]
    started = time.process_time()
    for index in range(completions):
        futures[index].set_result(None)
        wait(futures[index:], return_when=FIRST_COMPLETED)
    with_wait = (time.process_time() - started) / completions * 1000
    flight, futures = InFlight(), [Future() for _ in range(in_flight)]
    for future in futures:
        flight.add_images(future, [None])  # type: ignore[list-item]
    started = time.process_time()
    for index in range(completions):
        futures[index].set_result(None)
        flight.wait()
    return with_wait, (time.process_time() - started) / completions * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in-flight", type=int, default=2050)
    parser.add_argument("--completions", type=int, default=500)
    args = parser.parse_args()
    with_wait, with_queue = per_completion_ms(args.in_flight, args.completions)
    print(
        f"{args.in_flight} futures in flight: wait() over all {with_wait:.3f} ms per completion, "
        f"InFlight {with_queue:.4f} ms ({with_wait / with_queue:.0f}x)"
    )


if __name__ == "__main__":
    main()
