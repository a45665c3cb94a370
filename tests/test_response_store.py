"""The run-wide response store (scraper/responses.py) against a loopback server: once per run,
bounded by its budgets, conditional across runs, shared between processes through its folder."""

from __future__ import annotations

import io
import multiprocessing
import threading
from collections import Counter
from pathlib import Path

import pytest
from conftest import FixtureServer
from PIL import Image

from options import AuditOptions
from scraper.errors import FetchError
from scraper.net import Fetcher, FetchPolicy
from scraper.responses import ResponseStore

FETCHER = Fetcher(FetchPolicy(allow_private=True))
KB = 1024


def png_bytes(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def get(store: ResponseStore, url: str, max_bytes: int = 10 * KB * KB) -> bytes:
    return store.fetch(url, max_bytes=max_bytes, deadline_s=5).content


def hits(server: FixtureServer) -> Counter[str]:
    return Counter(path for path, _ in server.requests)


def test_concurrent_requests_for_one_url_go_to_the_site_once(fresh_server: FixtureServer, tmp_path: Path) -> None:
    body = png_bytes((300, 200))
    url = fresh_server.add("/img/logo.png", body, content_type="image/png", delay_s=0.2)
    store = ResponseStore(FETCHER, tmp_path / "r")
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(get(store, url))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [body] * 8 and hits(fresh_server)["/img/logo.png"] == 1
    assert store.counts.requests == 1 and store.counts.memory_hits == 7


def test_redirect_hops_errors_and_statuses_are_kept_for_the_run(fresh_server: FixtureServer, tmp_path: Path) -> None:
    fresh_server.add("/old.png", status=301, headers={"Location": "/new.png"})
    fresh_server.add("/new.png", b"PNGDATA", content_type="image/png")
    fresh_server.add("/gone.png", status=404)
    store = ResponseStore(FETCHER, tmp_path / "r")
    for _ in range(3):
        result = store.fetch(fresh_server.url("/old.png"), max_bytes=KB, deadline_s=5)
        assert (result.status, result.content, result.redirects) == (200, b"PNGDATA", [fresh_server.url("/new.png")])
        assert store.fetch(fresh_server.url("/gone.png"), max_bytes=KB, deadline_s=5).status == 404
        with pytest.raises(FetchError) as refused:  # a refusal is remembered: no second request
            store.fetch("http://127.0.0.1:1/closed.png", max_bytes=KB, deadline_s=1)
        assert refused.value.code in ("connection_error", "connect_timeout")
    assert hits(fresh_server) == Counter({"/old.png": 1, "/new.png": 1, "/gone.png": 1})
    with pytest.raises(FetchError, match="exceeds the 3-byte limit"):  # a smaller cap is still enforced
        store.fetch(fresh_server.url("/new.png"), max_bytes=3, deadline_s=5)


def test_budgets_evict_without_losing_anything(fresh_server: FixtureServer, tmp_path: Path) -> None:
    urls = [fresh_server.add(f"/img/{i}.png", bytes([i]) * 40 * KB, content_type="image/png") for i in range(6)]
    tight_memory = ResponseStore(FETCHER, tmp_path / "m", memory_bytes=100 * KB, disk_bytes=100 * KB * KB)
    for url in urls + urls:
        assert get(tight_memory, url)[:1] in {bytes([i]) for i in range(6)}
    assert tight_memory.counts.requests == 6 and tight_memory.counts.disk_hits > 0  # memory full: read from disk
    fresh_server.requests.clear()
    tight_disk = ResponseStore(FETCHER, tmp_path / "d", memory_bytes=1, disk_bytes=200 * KB)
    for url in urls + urls:
        assert len(get(tight_disk, url)) == 40 * KB  # every answer complete, whatever was evicted
    assert 6 < tight_disk.counts.requests <= 12  # the evicted ones went to the site again
    assert sum(p.stat().st_size for p in (tmp_path / "d").glob("*/*.body")) <= 200 * KB


def test_a_new_run_asks_conditionally_and_serves_the_stored_body(fresh_server: FixtureServer, tmp_path: Path) -> None:
    url = fresh_server.add("/img/a.png", b"A" * 1000, content_type="image/png", etag=True)
    first = ResponseStore(FETCHER, tmp_path / "r", run="run-1")
    assert get(first, url) == b"A" * 1000
    second = ResponseStore(FETCHER, tmp_path / "r", run="run-2")
    fresh_server.bodies.clear()
    result = second.fetch(url, max_bytes=KB * KB, deadline_s=5)
    assert result.status == 200 and result.content == b"A" * 1000 and result.headers["etag"]
    assert fresh_server.bodies == [] and second.counts.not_modified == 1
    assert fresh_server.requests[-1][1]["If-None-Match"] == result.headers["etag"]
    fresh_server.add("/img/a.png", b"B" * 1000, content_type="image/png", etag=True)
    third = ResponseStore(FETCHER, tmp_path / "r", run="run-3")
    assert get(third, url) == b"B" * 1000 and third.counts.bodies == 1
    refresh = ResponseStore(FETCHER, tmp_path / "r", run="run-4", revalidate=False)
    get(refresh, url)
    assert "If-None-Match" not in fresh_server.requests[-1][1]  # --refresh: a plain request


def _fetch_in_child(folder: str, url: str, queue: multiprocessing.Queue) -> None:
    store = ResponseStore(Fetcher(FetchPolicy(allow_private=True)), Path(folder), run="shared")
    queue.put(get(store, url))


def test_processes_sharing_the_folder_fetch_once(fresh_server: FixtureServer, tmp_path: Path) -> None:
    url = fresh_server.add("/img/shared.png", b"S" * 5000, content_type="image/png", delay_s=0.3)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=_fetch_in_child, args=(str(tmp_path), url, queue)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(20)
    assert [queue.get(timeout=5) for _ in children] == [b"S" * 5000] * 3
    assert hits(fresh_server)["/img/shared.png"] == 1  # the Ray engine's actors on one node


def test_budgets_are_options() -> None:
    options = AuditOptions(response_memory_bytes=KB, response_disk_bytes=KB)
    assert options.response_memory_bytes == KB
    with pytest.raises(ValueError, match="response-disk-bytes must be positive"):
        AuditOptions(response_disk_bytes=0)


def test_a_temporary_store_is_gone_when_closed_and_its_files_removed_behind(
    fresh_server: FixtureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close() moves a temporary folder out of the way at once; a thread deletes its files."""
    from scraper import responses

    removers: list[threading.Thread] = []
    remove = responses.remove_in_background
    monkeypatch.setattr(responses, "remove_in_background", lambda folder: removers.append(remove(folder)))
    url = fresh_server.add("/a.png", png_bytes((40, 30)), content_type="image/png")
    store = ResponseStore(FETCHER)  # no folder: a temporary one
    folder = store.folder
    assert get(store, url) and any(folder.rglob("*"))
    store.close()
    assert not folder.exists() and len(removers) == 1
    removers[0].join(10)
    assert not folder.with_name(f"{folder.name}.removing").exists()
    kept = ResponseStore(FETCHER, folder)  # a folder that was given is kept
    kept.close()
    assert folder.exists() and len(removers) == 1
    kept.folder.rmdir()


def test_a_store_closed_as_the_interpreter_exits_is_removed_without_hanging(tmp_path: Path) -> None:
    """An audit abandoned and closed at exit: a thread started while the interpreter finalizes never
    runs (and starting it waits forever), so the folder is removed there and then."""
    import subprocess
    import sys

    folder = tmp_path / "responses"
    folder.mkdir()
    (folder / "body").write_bytes(b"x")
    script = (
        "import sys\nfrom pathlib import Path\nfrom scraper.responses import remove_in_background\n"
        "class Late:\n    def __init__(self, folder):\n        self.folder = folder\n"
        "    def __del__(self):\n        remove_in_background(self.folder)\n"
        "sys.modules['late'] = Late(Path(sys.argv[1]))  # collected while the interpreter finalizes\n"
    )
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run([sys.executable, "-c", script, str(folder)], cwd=root, timeout=60, check=False)
    assert done.returncode == 0 and not folder.exists()


def test_an_answer_read_outside_the_store_is_kept_for_the_run(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """An image address's own page request: kept under its final URL, so another process of the run
    is answered from the folder; a later run revalidates it; an error answer is not kept."""
    body = png_bytes((120, 80))
    url = fresh_server.add("/photo.png", body, content_type="image/png", etag=True)
    fresh_server.add("/old-photo.png", status=301, headers={"Location": "/photo.png"})
    read = FETCHER.fetch(fresh_server.url("/old-photo.png"), max_bytes=KB * KB, deadline_s=5)
    assert read.final_url == url and read.redirects == [url]
    ResponseStore(FETCHER, tmp_path / "r", run="run-1").keep(read)
    other_process = ResponseStore(FETCHER, tmp_path / "r", run="run-1")
    kept = other_process.fetch(url, max_bytes=KB * KB, deadline_s=5)
    assert (kept.status, kept.content, kept.final_url) == (200, body, url) and other_process.counts.disk_hits == 1
    assert hits(fresh_server) == {"/old-photo.png": 1, "/photo.png": 1}
    later_run = ResponseStore(FETCHER, tmp_path / "r", run="run-2")
    assert get(later_run, url) == body and later_run.counts.not_modified == 1  # asked conditionally
    missing = fresh_server.add("/missing.png", status=404)
    store = ResponseStore(FETCHER, tmp_path / "r", run="run-2")
    store.keep(FETCHER.fetch(missing, max_bytes=KB, deadline_s=5, raise_for_status=False))
    assert store.fetch(missing, max_bytes=KB, deadline_s=5).status == 404 and hits(fresh_server)["/missing.png"] == 2
