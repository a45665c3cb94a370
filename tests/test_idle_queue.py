"""The idle workers' queue: a waiting page discovery gets the next idle worker before any image thread,
and every idle worker reaches a waiter (no wake-up is lost)."""

from __future__ import annotations

import threading
import time

from pipeline.idle_queue import IdleQueue


def _waiting(queue: IdleQueue[int], urgent: bool, got: list[tuple[str, int]], name: str) -> threading.Thread:
    thread = threading.Thread(target=lambda: got.append((name, queue.get(urgent))), daemon=True)
    thread.start()
    return thread


def test_a_page_gets_the_next_idle_worker_before_the_images_waiting_longer() -> None:
    queue: IdleQueue[int] = IdleQueue()
    got: list[tuple[str, int]] = []
    images = [_waiting(queue, False, got, f"image {i}") for i in range(3)]
    time.sleep(0.1)  # the image threads wait first
    page = _waiting(queue, True, got, "page")
    time.sleep(0.1)
    queue.put(1)
    page.join(5)
    assert got == [("page", 1)]
    for worker in (2, 3, 4):
        queue.put(worker)
    for thread in images:
        thread.join(5)
    assert not any(thread.is_alive() for thread in images) and len(got) == 4
    assert {name for name, _ in got[1:]} == {"image 0", "image 1", "image 2"} and {w for _, w in got[1:]} == {2, 3, 4}


def test_every_idle_worker_reaches_a_waiter_under_load() -> None:
    """Many threads of both kinds take and give back a few workers: none waits forever, none is lost."""
    queue: IdleQueue[int] = IdleQueue()
    for worker in range(3):
        queue.put(worker)
    calls = {"page": 0, "image": 0}
    lock = threading.Lock()

    def work(urgent: bool) -> None:
        for _ in range(300):
            worker = queue.get(urgent)
            with lock:
                calls["page" if urgent else "image"] += 1
            queue.put(worker)

    threads = [threading.Thread(target=work, args=(i < 2,), daemon=True) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert calls == {"page": 600, "image": 2400}
    assert sorted(queue.get() for _ in range(3)) == [0, 1, 2]  # all three idle again
