"""The run-wide response store: every subresource goes to the site once per audit, and re-audits ask
only whether it changed.

:class:`ResponseStore` sits between the guarded :class:`scraper.net.Fetcher` and everything that
reads a subresource (the static reader's stylesheets, the browser's intercepted requests, the
image stage). A URL (spelled by :func:`scraper.urls.resource_url`) is fetched one redirect hop
at a time; each answer is kept on disk (``<hash>.json`` with status, headers and validators, then
``<hash>.body``) and the most recently used answers in memory, both within byte budgets, evicted
least recently used first. Reaching a budget never loses anything: an evicted answer is fetched
again when it is asked for again.

* **Once per run.** Concurrent requests for one URL wait for the first (a lock per URL in the
  process and an ``flock`` on the entry's lock file across processes, so the Ray engine's actors on
  one node share a folder); later requests are answered from memory or disk.
* **Conditional across runs.** An entry written by an earlier run (its ``run`` differs) is
  revalidated once with ``If-None-Match`` / ``If-Modified-Since``; a ``304`` serves the stored body
  and headers, and the body is not sent again.
* **Politeness counts the wire.** ``wire_gate(url)`` (the per-host download limit) is held only
  around requests that go to the site.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from scraper.errors import FetchError, ScrapeError
from scraper.net import Fetcher, FetchResult
from scraper.urls import resource_url

log = logging.getLogger("altscout.responses")

LOCK_STRIPES = 64
NOT_MODIFIED = 304
REDIRECTS = (301, 302, 303, 307, 308)
MB = 1024 * 1024


@dataclass
class WireCounts:
    """What the store sent to sites and how it answered (for the report and the benchmarks)."""

    requests: int = 0  # requests that went to a site
    bodies: int = 0  # answers whose body came over the wire (not a 304)
    conditional: int = 0  # requests with If-None-Match / If-Modified-Since
    not_modified: int = 0  # 304 answers: the stored body was served
    memory_hits: int = 0
    disk_hits: int = 0
    by_url: dict[str, int] = field(default_factory=dict)  # wire requests per URL

    def as_dict(self) -> dict[str, int]:
        """The counters without the per-URL table."""
        return {k: v for k, v in self.__dict__.items() if k != "by_url"}

    def add(self, other: WireCounts) -> None:
        """Count ``other``'s requests too (another process's, for the same run)."""
        for name, value in other.as_dict().items():
            setattr(self, name, getattr(self, name) + value)
        for url, requests in other.by_url.items():
            self.by_url[url] = self.by_url.get(url, 0) + requests


def _no_gate(url: str) -> AbstractContextManager[Any]:
    return contextlib.nullcontext()


class ResponseStore:
    """Subresource answers of one audit, by URL: memory, then disk, then the site (see the module)."""

    def __init__(
        self,
        fetcher: Fetcher,
        folder: Path | None = None,
        *,
        memory_bytes: int = 256 * MB,
        disk_bytes: int = 2048 * MB,
        run: str = "",
        revalidate: bool = True,
        wire_gate: Callable[[str], AbstractContextManager[Any]] = _no_gate,
    ) -> None:
        self.fetcher = fetcher
        self._owned = folder is None  # a temporary folder, removed by close()
        self.folder = Path(tempfile.mkdtemp(prefix="altscout-responses-")) if folder is None else Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.memory_bytes, self.disk_bytes = memory_bytes, disk_bytes
        self.run = run or os.urandom(8).hex()
        self.revalidate = revalidate
        self.wire_gate = wire_gate
        self.counts = WireCounts()
        self._memory: OrderedDict[str, FetchResult] = OrderedDict()
        self._memory_used = 0
        self._errors: dict[str, tuple[ScrapeError, int]] = {}  # key -> (why, the byte cap it was asked with)
        self._stripes = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._lock = threading.Lock()  # memory, counters, disk accounting
        self._disk_used = sum(p.stat().st_size for p in self.folder.glob("*/*.body"))

    # --- the public calls ------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        max_bytes: int,
        deadline_s: float,
        accept: str = "*/*",
        headers: dict[str, str] | None = None,
        follow_redirects: bool = True,
        max_redirects: int = 5,
    ) -> FetchResult:
        """The answer for ``url`` (any status), each redirect hop from the store; ScrapeError on failure."""
        current, hops = url, []
        while True:
            result = self.fetch_hop(current, max_bytes=max_bytes, deadline_s=deadline_s, accept=accept, headers=headers)
            if not (follow_redirects and result.status in REDIRECTS and "location" in result.headers):
                break
            if len(hops) >= max_redirects:
                raise FetchError(f"more than {max_redirects} redirects", code="too_many_redirects")
            current = urljoin(current, result.headers["location"])
            hops.append(current)
        return FetchResult(url, result.final_url, result.status, result.headers, result.content, hops)

    def fetch_hop(
        self,
        url: str,
        *,
        max_bytes: int,
        deadline_s: float,
        accept: str = "*/*",
        headers: dict[str, str] | None = None,
    ) -> FetchResult:
        """One request's answer (a redirect is returned as it is), from memory, disk or the site."""
        key = resource_url(url, url)
        if (found := self._answer_from_memory(key, max_bytes)) is not None:
            return found
        with self._stripes[hash(key) % LOCK_STRIPES], self._file_lock(key):
            if (found := self._answer_from_memory(key, max_bytes)) is not None:
                return found
            meta = self._read_meta(key)
            if meta is not None and meta.get("run") == self.run and (body := self._read_body(key)) is not None:
                with self._lock:
                    self.counts.disk_hits += 1
                return self._remember(key, self._result(url, meta, body), max_bytes)
            answer = self._from_wire(key, url, meta, max_bytes, deadline_s, accept, headers)
            return self._remember(key, answer, max_bytes)

    def keep(self, result: FetchResult) -> None:
        """An answer read outside the store this run (an image address's own page request), kept for its
        final URL: the image stage, in this process or another sharing the folder, is answered from it."""
        if result.status >= 300:
            return
        key = resource_url(result.final_url, result.final_url)
        with self._stripes[hash(key) % LOCK_STRIPES], self._file_lock(key):
            answer = replace(result, url=key, final_url=key, redirects=[])
            self._write(key, answer)
            with self._lock:
                self._errors.pop(key, None)
            self._remember(key, answer, len(answer.content))

    def add_counts(self, counts: WireCounts) -> None:
        """Requests that a worker process of the same run sent through its own store of this folder."""
        with self._lock:
            self.counts.add(counts)

    def close(self) -> None:
        """Free memory; remove the folder when it was a temporary one."""
        with self._lock:
            self._memory.clear()
            self._memory_used = 0
        if self._owned:
            remove_in_background(self.folder)

    # --- memory ----------------------------------------------------------------------

    def _answer_from_memory(self, key: str, max_bytes: int) -> FetchResult | None:
        with self._lock:
            error = self._errors.get(key)
            if error is not None and not (error[0].code == "too_large" and max_bytes > error[1]):
                raise error[0]
            result = self._memory.get(key)
            if result is None:
                return None
            self._memory.move_to_end(key)
            self.counts.memory_hits += 1
        return _within(result, max_bytes)

    def _remember(self, key: str, result: FetchResult, max_bytes: int) -> FetchResult:
        size = len(result.content)
        with self._lock:
            if key not in self._memory and size <= self.memory_bytes:
                self._memory[key] = result
                self._memory_used += size
                while self._memory_used > self.memory_bytes:
                    _, dropped = self._memory.popitem(last=False)
                    self._memory_used -= len(dropped.content)
        return _within(result, max_bytes)

    # --- the wire --------------------------------------------------------------------

    def _from_wire(
        self,
        key: str,
        url: str,
        meta: dict[str, Any] | None,
        max_bytes: int,
        deadline_s: float,
        accept: str,
        headers: dict[str, str] | None,
    ) -> FetchResult:
        sent = dict(headers or {})
        stored_body = self._read_body(key) if meta is not None and self.revalidate else None
        if stored_body is not None and meta is not None:
            if meta.get("etag"):
                sent["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                sent["If-Modified-Since"] = meta["last_modified"]
        conditional = "If-None-Match" in sent or "If-Modified-Since" in sent
        try:
            with self.wire_gate(url):
                result = self.fetcher.fetch(
                    url,
                    max_bytes=max_bytes,
                    deadline_s=deadline_s,
                    accept=accept,
                    raise_for_status=False,
                    follow_redirects=False,
                    headers=sent,
                )
        except ScrapeError as exc:
            with self._lock:
                self.counts.requests += 1
                self.counts.by_url[key] = self.counts.by_url.get(key, 0) + 1
                self._errors[key] = (exc, max_bytes)
            raise
        with self._lock:
            self.counts.requests += 1
            self.counts.by_url[key] = self.counts.by_url.get(key, 0) + 1
            self.counts.conditional += conditional
            if result.status == NOT_MODIFIED and stored_body is not None:
                self.counts.not_modified += 1
            else:
                self.counts.bodies += 1
        if result.status == NOT_MODIFIED and stored_body is not None and meta is not None:
            meta["headers"].update({k: v for k, v in result.headers.items() if k in ("etag", "last-modified", "date")})
            stored = meta["headers"]
            meta.update(run=self.run, etag=stored.get("etag"), last_modified=stored.get("last-modified"))
            self._write_meta(key, meta)
            return self._result(url, meta, stored_body)
        self._write(key, result)
        return result

    # --- disk ------------------------------------------------------------------------

    def _paths(self, key: str) -> tuple[Path, Path, Path]:
        digest = hashlib.sha256(key.encode()).hexdigest()
        base = self.folder / digest[:2] / digest
        return base.with_suffix(".json"), base.with_suffix(".body"), base.with_suffix(".lock")

    @contextlib.contextmanager
    def _file_lock(self, key: str) -> Iterator[None]:
        """Other processes sharing the folder (Ray actors on this node) wait for this URL's answer."""
        lock_path = self._paths(key)[2]
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_meta(self, key: str) -> dict[str, Any] | None:
        meta_path = self._paths(key)[0]
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return None
        return meta if meta.get("url") == key else None

    def _read_body(self, key: str) -> bytes | None:
        body_path = self._paths(key)[1]
        try:
            body = body_path.read_bytes()
            os.utime(body_path)  # recently used: evicted last
        except OSError:
            return None
        return body

    def _write(self, key: str, result: FetchResult) -> None:
        """The answer to disk: body first, then its meta (an entry exists once its meta does)."""
        headers = result.headers
        meta = {
            "url": key,
            "status": result.status,
            "headers": headers,
            "run": self.run,
            "sha256": hashlib.sha256(result.content).hexdigest(),
            "size": len(result.content),
            "etag": headers.get("etag"),
            "last_modified": headers.get("last-modified"),
        }
        if len(result.content) > self.disk_bytes // 4:
            return  # too large to keep: fetched again when asked for again
        meta_path, body_path, _ = self._paths(key)
        try:
            old_size = body_path.stat().st_size if body_path.exists() else 0
            _replace(body_path, result.content)
            _replace(meta_path, json.dumps(meta).encode())
        except OSError as exc:  # a full disk only costs a later fetch
            log.warning("response store: %s not kept: %s", key, exc)
            return
        with self._lock:
            self._disk_used += len(result.content) - old_size
            over = self._disk_used > self.disk_bytes
        if over:
            self._evict()

    def _write_meta(self, key: str, meta: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            _replace(self._paths(key)[0], json.dumps(meta).encode())

    def _evict(self) -> None:
        """Least recently used bodies go until the folder is at 90% of its budget."""
        bodies = sorted(self.folder.glob("*/*.body"), key=lambda p: p.stat().st_mtime)
        used = sum(p.stat().st_size for p in bodies)
        for body_path in bodies:
            if used <= 0.9 * self.disk_bytes:
                break
            size = body_path.stat().st_size
            for path in (body_path.with_suffix(".json"), body_path):
                path.unlink(missing_ok=True)
            used -= size
        with self._lock:
            self._disk_used = used

    def _result(self, url: str, meta: dict[str, Any], body: bytes) -> FetchResult:
        return FetchResult(url, url, int(meta["status"]), dict(meta["headers"]), body)


def _within(result: FetchResult, max_bytes: int) -> FetchResult:
    if len(result.content) > max_bytes:
        raise FetchError(f"response exceeds the {max_bytes:,}-byte limit", code="too_large")
    return result


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    part.write_bytes(data)
    os.replace(part, path)


def remove_in_background(folder: Path) -> threading.Thread | None:
    """Remove a folder: renamed out of the way at once, its files deleted by a thread (a run's responses
    are thousands of files: 0.1 s per 2,000 images that the audit's end need not wait for; the
    interpreter waits for the thread before it exits). At exit (an abandoned audit closed then), here:
    a thread started while the interpreter finalizes never runs, and its start would wait forever."""
    if sys.is_finalizing():
        shutil.rmtree(folder, True)
        return None
    trash = folder.with_name(f"{folder.name}.removing")
    try:
        folder.rename(trash)
    except OSError:
        trash = folder
    remover = threading.Thread(target=shutil.rmtree, args=(trash, True), name="altscout-remove")
    try:
        remover.start()
    except RuntimeError:  # threads can no longer be started
        shutil.rmtree(trash, True)
        return None
    return remover
