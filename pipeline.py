"""The one audit pipeline behind every front end.

``audit(urls, options)`` yields events as work completes: a page starts, an image record is
final, a page is done, the whole audit is done (carrying the :class:`AuditReport`).
``run_audit`` drains it. Downloads, decoding and the model's preprocessing
(``Captioner.prepare``) run in a bounded thread pool and overlap captioning, which happens in
batches in the calling thread; at most ``2 x batch + workers`` prepared images exist at once,
whatever the page size. Typed errors become records here, at the boundary.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from auditing import audit_page as audit_checks
from captioning import Captioner, ModelLoadError, clean_caption, get_captioner
from captioning.cache import CaptionCache
from captioning.translate import AUTO, ENGLISH, Translator, get_translator, page_language
from library import scan_folder
from options import AuditOptions, OptionsError
from records import PENDING, AuditReport, ImageRecord, PageReport
from scraper.discover import ParsedPage, find_images, parse_page, stylesheet_imports
from scraper.errors import FetchError, ScrapeError
from scraper.images import ImageSkipped, decode_data_uri, prepare_image
from scraper.net import Fetcher, check_url
from scraper.robots import RobotsCache

log = logging.getLogger("altscout")

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
IMAGE_ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/*;q=0.8,*/*;q=0.1"
CSS_ACCEPT = "text/css,*/*;q=0.1"


@dataclass(frozen=True)
class PageStarted:
    """A page is about to be fetched."""

    index: int
    total: int
    url: str


@dataclass(frozen=True)
class ImageFinished:
    """One image record reached its final status."""

    page_index: int
    record: ImageRecord
    done: int
    total: int


@dataclass(frozen=True)
class PageFinished:
    """A page is fully audited (or failed)."""

    index: int
    page: PageReport


@dataclass(frozen=True)
class AuditFinished:
    """The whole run is done."""

    report: AuditReport


AuditEvent = PageStarted | ImageFinished | PageFinished | AuditFinished


@dataclass(frozen=True)
class _Ready:
    """A decoded image reduced to what captioning needs: its hash and the model's input."""

    sha256: str
    model_input: Any


class _HostLimiter:
    """A semaphore per host, so one site never gets more than ``limit`` parallel downloads."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._semaphores: dict[str, threading.Semaphore] = {}
        self._lock = threading.Lock()

    def __call__(self, url: str) -> threading.Semaphore:
        host = urlsplit(url).netloc.lower()
        with self._lock:
            return self._semaphores.setdefault(host, threading.Semaphore(self._limit))


class AuditRun:
    """State shared by the pages of one run: fetcher, robots cache, captioner, caption memo."""

    def __init__(self, options: AuditOptions, captioner: Captioner | None = None) -> None:
        self.options = options
        self.captioner: Captioner = captioner or get_captioner(options.model, options.device, options.dtype)
        self.fetcher = Fetcher(options.fetch_policy)
        self.robots = RobotsCache(self.fetcher, deadline_s=min(10.0, options.page_deadline_s))
        self.host_limit = _HostLimiter(options.per_host_limit)
        self._captions_by_hash: dict[str, tuple[str, str]] = {}
        self.cache = (
            CaptionCache(options.cache_dir, self.captioner_id(), options.generation) if options.cache_dir else None
        )

    def captioner_id(self) -> str:
        """The captioner's model id (for cache keys)."""
        return str(self.captioner.describe().get("id") or self.options.model)

    def _known_caption(self, sha256: str) -> tuple[str, str] | None:
        """A caption already made in this run, or stored in the on-disk cache."""
        known = self._captions_by_hash.get(sha256)
        if known is None and self.cache is not None:
            known = self.cache.get(sha256)
            if known is not None:
                self._captions_by_hash[sha256] = known
        return known

    @property
    def batch_size(self) -> int:
        """The batch size in force (options win over the captioner's device default)."""
        return self.options.batch_size or self.captioner.default_batch_size

    def model_info(self) -> dict[str, object]:
        """The report's ``model`` block."""
        generation = self.options.generation
        return {
            **self.captioner.describe(),
            "batch_size": self.batch_size,
            "max_new_tokens": generation.max_new_tokens,
            "min_new_tokens": generation.min_new_tokens,
            "num_beams": generation.num_beams,
            "prompt": generation.prompt,
            "lang": self.options.lang,
            "translation_model": (
                self.options.translation_model_id(self.options.lang)
                if self.options.lang not in (ENGLISH, AUTO)
                else None
            ),
        }

    # --- pages -------------------------------------------------------------------------

    def audit_page(self, index: int, url: str) -> Iterator[AuditEvent]:
        """Fetch, discover, download and caption one page; never raises for page problems."""
        page = PageReport(url=url)
        try:
            records = self._discover(page)
        except ScrapeError as exc:
            page.status, page.error, page.error_code = "failed", exc.message, exc.code
            yield PageFinished(index, page)
            return
        except Exception as exc:  # one bad page never aborts a run
            log.exception("unexpected error on page %s", url)
            page.status, page.error_code = "failed", "internal_error"
            page.error = f"internal error: {type(exc).__name__}"
            yield PageFinished(index, page)
            return
        page.images = records
        for done, record in enumerate(self._process_images(records), start=1):
            yield ImageFinished(index, record, done, len(records))
        audit_checks(page, self.options.audit_settings)
        self._translate(page)
        yield PageFinished(index, page)

    def audit_folder(self, index: int, folder: Path) -> Iterator[AuditEvent]:
        """Caption every image file of a local folder (recursive) as one report."""
        page = PageReport(url=str(folder), final_url=str(folder.resolve()), kind="folder", title=folder.name)
        root = folder.resolve()
        page.images = [
            ImageRecord(
                source=path.relative_to(root).as_posix(), found_in=["file"], occurrences=1, local_path=str(path)
            )
            for path in scan_folder(folder, self.options.glob)
        ]
        for done, record in enumerate(self._process_images(page.images), start=1):
            yield ImageFinished(index, record, done, len(page.images))
        audit_checks(page, self.options.audit_settings)
        self._translate(page)
        yield PageFinished(index, page)

    def _discover(self, page: PageReport) -> list[ImageRecord]:
        opts = self.options
        check_url(page.url)
        if not opts.ignore_robots:
            self.robots.check(page.url)
        result = self.fetcher.fetch(
            page.url, max_bytes=opts.page_max_bytes, deadline_s=opts.page_deadline_s, accept=HTML_ACCEPT
        )
        page.final_url = result.final_url
        if result.content_type.startswith("image/"):
            raise ScrapeError(f"{page.url} is an image, not an HTML page", code="not_html")
        parsed = parse_page(result.content, result.final_url, result.charset)
        page.title, page.lang = parsed.title, parsed.lang
        stylesheets = self._fetch_stylesheets(parsed, page)
        records = find_images(parsed, stylesheets)
        self._prefilter(records)
        return records

    def _fetch_stylesheets(self, parsed: ParsedPage, page: PageReport) -> list[tuple[str, str]]:
        """Fetch linked stylesheets (and their @imports), at most ``max_stylesheets``."""
        opts = self.options
        queue = deque(parsed.stylesheet_urls)
        for block in parsed.style_blocks:
            queue.extend(stylesheet_imports(block, parsed.base_url))
        seen: set[str] = set()
        sheets: list[tuple[str, str]] = []
        while queue:
            css_url = queue.popleft()
            if css_url in seen:
                continue
            if len(seen) >= opts.max_stylesheets:
                page.warnings.append(f"stylesheet limit ({opts.max_stylesheets}) reached; {css_url} not read")
                continue
            seen.add(css_url)
            try:
                result = self.fetcher.fetch(
                    css_url, max_bytes=opts.css_max_bytes, deadline_s=min(10.0, opts.page_deadline_s), accept=CSS_ACCEPT
                )
            except ScrapeError as exc:
                page.warnings.append(f"stylesheet {css_url} not read: {exc.message}")
                continue
            text = result.content.decode(result.charset or "utf-8", errors="replace")
            sheets.append((text, result.final_url))
            queue.extend(stylesheet_imports(text, result.final_url))
        return sheets

    def _prefilter(self, records: list[ImageRecord]) -> None:
        """Skip, before any download, images over the limit or declared too small."""
        opts = self.options
        kept = 0
        for record in records:
            if record.status != PENDING:
                continue
            if kept >= opts.max_images:
                record.skip("over_limit", f"page has more than {opts.max_images} images (--max-images)")
                continue
            w, h = record.width_attr, record.height_attr
            if (w is not None and w < opts.min_width) or (h is not None and h < opts.min_height):
                record.skip(
                    "too_small",
                    f"declared {w or '?'}x{h or '?'} px is below the {opts.min_width}x{opts.min_height} px minimum",
                )
                continue
            kept += 1

    # --- translation -------------------------------------------------------------------

    def translator_for(self, lang: str) -> Translator:
        """The cached translator for a language (weights load on first use)."""
        return get_translator(self.options.translation_model_id(lang), self.options.device)

    def _translate(self, page: PageReport) -> None:
        """Translate captions and suggested alt text into the page's target language."""
        lang = page_language(self.options.lang, page.lang)
        records = [record for record in page.images if record.caption]
        if lang == ENGLISH or not records:
            return
        try:
            translator = self.translator_for(lang)
            translator.load()
        except (OptionsError, ModelLoadError) as exc:
            if self.options.lang != AUTO:
                raise
            page.warnings.append(f"captions not translated into {lang}: {exc}")
            return
        suggestions = [record for record in records if record.suggested_alt]
        texts = [record.caption or "" for record in records] + [record.suggested_alt or "" for record in suggestions]
        translated = translator.translate(texts)
        for record, text in zip(records, translated[: len(records)], strict=True):
            record.caption_translated, record.translation_lang = text, lang
        for record, text in zip(suggestions, translated[len(records) :], strict=True):
            record.suggested_alt_translated = text

    # --- images ------------------------------------------------------------------------

    def _download(self, record: ImageRecord) -> _Ready | None:
        """Fetch, decode and preprocess one image; on failure finish the record and return None."""
        opts = self.options
        try:
            if record.local_path is not None:
                data = _read_local(Path(record.local_path), opts.image_max_bytes)
            elif record.source.lower().startswith("data:"):
                data = decode_data_uri(record.source, opts.image_max_bytes)
            else:
                with self.host_limit(record.source):
                    data = self.fetcher.fetch(
                        record.source,
                        max_bytes=opts.image_max_bytes,
                        deadline_s=opts.image_deadline_s,
                        accept=IMAGE_ACCEPT,
                    ).content
        except ScrapeError as exc:
            record.fail(exc.code, exc.message)
            return None
        return self._prepare(record, data)

    def _prepare(self, record: ImageRecord, data: bytes) -> _Ready | None:
        """Decode bytes into the record and preprocess them for the model (in a worker thread).

        On failure the record is finished and None returned.
        """
        opts = self.options
        try:
            prepared = prepare_image(data, min_width=opts.min_width, min_height=opts.min_height)
            model_input = self.captioner.prepare(prepared.image)
        except ImageSkipped as exc:
            record.skip(exc.code, exc.message)
            return None
        except ScrapeError as exc:
            record.fail(exc.code, exc.message)
            return None
        except Exception as exc:  # never let one image take the page down
            log.exception("unexpected error on image %s", record.url)
            record.fail("internal_error", f"internal error: {type(exc).__name__}")
            return None
        record.width, record.height = prepared.width, prepared.height
        record.bytes, record.format, record.sha256 = prepared.bytes, prepared.format, prepared.sha256
        if opts.thumbnail_size:
            record.thumbnail = make_thumbnail(prepared.image, opts.thumbnail_size)
        return _Ready(prepared.sha256, model_input)

    def caption_single(self, record: ImageRecord, data: bytes | None = None) -> ImageRecord:
        """Fetch (unless ``data`` is given), decode and caption one image record."""
        prepared = self._download(record) if data is None else self._prepare(record, data)
        if prepared is not None:
            for _ in self._caption([(record, prepared.model_input)], {}):
                pass
        return record

    def _process_images(self, records: list[ImageRecord]) -> Iterator[ImageRecord]:
        """Yield every record once it is final: pre-skipped first, then as work completes."""
        todo: deque[ImageRecord] = deque()
        for record in records:
            if record.status == PENDING:
                todo.append(record)
            else:
                yield record
        if not todo:
            return
        batch_size = self.batch_size
        capacity = 2 * batch_size + self.options.download_workers
        ready: list[tuple[ImageRecord, Any]] = []  # (record, model input) waiting for a batch
        followers: dict[str, list[ImageRecord]] = {}  # same bytes as an image already queued
        in_flight: dict[Future[_Ready | None], ImageRecord] = {}
        with ThreadPoolExecutor(self.options.download_workers, thread_name_prefix="altscout-dl") as pool:
            while todo or in_flight or ready:
                while todo and len(in_flight) + len(ready) < capacity:
                    record = todo.popleft()
                    in_flight[pool.submit(self._download, record)] = record
                if len(ready) >= batch_size or (ready and not in_flight):
                    batch, ready = ready[:batch_size], ready[batch_size:]
                    yield from self._caption(batch, followers)
                    continue
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    record = in_flight.pop(future)
                    prepared = future.result()
                    if prepared is None:
                        yield record
                    elif (known := self._known_caption(prepared.sha256)) is not None:
                        record.set_caption(*known)
                        yield record
                    elif prepared.sha256 in followers:
                        followers[prepared.sha256].append(record)
                    else:
                        followers[prepared.sha256] = []
                        ready.append((record, prepared.model_input))

    def _caption(
        self, batch: list[tuple[ImageRecord, Any]], followers: dict[str, list[ImageRecord]]
    ) -> Iterator[ImageRecord]:
        """Caption one batch; records with the same bytes (followers) share the outcome."""
        try:
            raw = self.captioner.caption_batch([model_input for _, model_input in batch], self.options.generation)
            if len(raw) != len(batch):
                raise RuntimeError(f"captioner returned {len(raw)} captions for {len(batch)} images")
        except ModelLoadError:
            raise
        except Exception as exc:  # e.g. out of memory: these images fail, the run goes on
            log.exception("captioning failed for a batch of %d", len(batch))
            for record, _ in batch:
                for member in [record, *followers.pop(record.sha256 or "", [])]:
                    member.fail("caption_error", f"captioning failed: {type(exc).__name__}: {exc}"[:300])
                    yield member
            return
        for (record, _), raw_text in zip(batch, raw, strict=True):
            caption = clean_caption(raw_text)
            if caption and record.sha256:
                self._captions_by_hash[record.sha256] = (caption, raw_text)
                if self.cache is not None:
                    self.cache.put(record.sha256, caption, raw_text)
            for member in [record, *followers.pop(record.sha256 or "", [])]:
                if caption:
                    member.set_caption(caption, raw_text)
                else:
                    member.raw_caption = raw_text
                    member.fail("empty_caption", "the model produced no caption for this image")
                yield member


def _read_local(path: Path, max_bytes: int) -> bytes:
    """Read a local image file within the byte cap."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FetchError(f"file of {size:,} bytes exceeds the {max_bytes:,}-byte limit", code="too_large")
        return path.read_bytes()
    except OSError as exc:
        raise FetchError(f"cannot read file: {exc.strerror or exc}", code="read_error") from exc


def make_thumbnail(image: Image.Image, size: int) -> bytes:
    """A JPEG no larger than ``size`` px on its longer side."""
    thumb = image.copy()
    thumb.thumbnail((size, size), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def caption_image(
    source: str | bytes, options: AuditOptions, captioner: Captioner | None = None, name: str = "upload"
) -> ImageRecord:
    """Caption one image given as a URL (fetched through the guarded fetcher) or as bytes.

    Raises ModelLoadError if the model cannot be loaded; every other problem is in the record.
    """
    run = AuditRun(options, captioner)
    run.captioner.load()
    if isinstance(source, bytes):
        return run.caption_single(ImageRecord(source=name, found_in=["upload"], occurrences=1), source)
    url = source.strip()
    record = ImageRecord(source=url, found_in=["url"], occurrences=1)
    try:
        check_url(url)
    except ScrapeError as exc:
        record.fail(exc.code, exc.message)
        return record
    return run.caption_single(record)


def audit(urls: Iterable[str], options: AuditOptions, captioner: Captioner | None = None) -> Iterator[AuditEvent]:
    """Audit pages in order, yielding events; the last event carries the report.

    Raises ModelLoadError before any page is fetched if the model cannot be loaded.
    """
    started = time.monotonic()
    url_list = [u.strip() for u in urls if u and u.strip()]
    run = AuditRun(options, captioner)
    run.captioner.load()
    if options.lang not in (ENGLISH, AUTO):
        run.translator_for(options.lang).load()  # a fixed language fails fast, before any page
    report = AuditReport(model=run.model_info())
    for index, url in enumerate(url_list):
        yield PageStarted(index, len(url_list), url)
        folder = Path(url)
        is_folder = options.allow_local_folders and "://" not in url and folder.is_dir()
        events = run.audit_folder(index, folder) if is_folder else run.audit_page(index, url)
        for event in events:
            if isinstance(event, PageFinished):
                report.pages.append(event.page)
            yield event
    report.elapsed_s = time.monotonic() - started
    yield AuditFinished(report)


def run_audit(
    urls: Iterable[str],
    options: AuditOptions,
    captioner: Captioner | None = None,
    on_event: Callable[[AuditEvent], None] | None = None,
) -> AuditReport:
    """Run ``audit`` to the end and return its report."""
    for event in audit(urls, options, captioner):
        if on_event is not None:
            on_event(event)
        if isinstance(event, AuditFinished):
            return event.report
    raise RuntimeError("audit ended without a report")  # pragma: no cover
