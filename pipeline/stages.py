"""The stages every engine composes, with the state they share in one run (:class:`AuditRun`).

Page stage: :meth:`AuditRun.discover` (fetch or render a page, find its images; see
:mod:`pipeline.page_stage`) and :meth:`AuditRun.folder_page`. Image stage: :meth:`AuditRun.download_image`
(fetch or reuse the browser's bytes, decode, prepare for the model), run in worker threads. Model
stage: :meth:`AuditRun.caption_images` (one batch; :meth:`AuditRun.submit_captions` starts one in
the background, so an engine's bookkeeping overlaps the model's work). Page audit: checks and
:meth:`AuditRun.translate_page`.
Typed errors become records here, at the boundary. :mod:`pipeline.single_image` captions one
image; the engines that compose these stages are chosen and run in :mod:`pipeline.run`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from auditing.suggest import kept_words
from captioning import Captioner, ModelLoadError, clean_caption, get_captioner
from captioning.cache import CaptionCache
from captioning.translate import AUTO, ENGLISH, Translator, get_translator, page_language
from library import scan_folder
from ocr.reader import DETECT_MAX_SIDE, TextReader, get_text_reader
from options import AuditOptions, OptionsError
from pipeline.batching import CAPTION_WORKERS
from pipeline.frontier import HostLimiter
from pipeline.page_stage import DiscoveredPage, PageBytes, PageChecks, decided_by_rendered_size, discover_page
from records import ELEMENT, SCREENSHOT, ImageRecord, PageReport
from scraper.browser import BrowserUnavailableError
from scraper.errors import FetchError, ScrapeError
from scraper.images import DRAFT_SIDE, ImageSkipped, decode_data_uri, make_thumbnail, prepare_image, read_local_image
from scraper.net import Fetcher
from scraper.render import Renderer, get_renderer
from scraper.responses import ResponseStore
from scraper.robots import RobotsCache
from state.history import PreviousPage

log = logging.getLogger("altscout")

IMAGE_ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/*;q=0.8,*/*;q=0.1"


@dataclass(frozen=True)
class Prepared:
    """A decoded image reduced to what captioning needs: its hash and the model's input."""

    sha256: str
    model_input: Any


class StageWorkers(Protocol):
    """The page and image stages run elsewhere (:class:`pipeline.processes.StageProcesses`)."""

    count: int

    def discover(self, url: str, checks: PageChecks | None, previous: PreviousPage | None) -> DiscoveredPage: ...

    group: int  # the most images a download thread hands over in one message

    def download_images(self, group: list[tuple[ImageRecord, PageBytes]]) -> list[Prepared | None]: ...

    def close(self) -> None: ...


class AuditRun:
    """State shared by the pages of one run: fetcher, robots cache, captioner, caption memo."""

    def __init__(self, options: AuditOptions, captioner: Captioner | None = None) -> None:
        self.options = options
        self.captioner: Captioner = captioner or get_captioner(options.captioner_spec)
        self.fetcher = Fetcher(options.fetch_policy)
        self.robots = RobotsCache(self.fetcher, deadline_s=min(10.0, options.page_deadline_s))
        self.host_limit = HostLimiter(options.per_host_limit)
        self.responses: ResponseStore | None = None  # set by open_responses: subresources once per audit
        self.renderer: Renderer | None = None  # set by start_renderer
        self.browser_unavailable: BrowserUnavailableError | None = None
        self.text_reader: TextReader | None = None  # set by start_ocr
        self.ocr_unavailable: str | None = None  # why --ocr auto reads no text (a page warning)
        self.ocr_seconds = [0.0, 0.0, 0]  # detector, recognizer, images read (for the report and benchmarks)
        self._ocr_lock = threading.Lock()
        self.captions_by_hash: dict[str, tuple[str, str]] = {}
        self.model_captions = 0  # images the model captioned in this run (not reused from memory, cache or state)
        self._captioning: ThreadPoolExecutor | None = None  # made by the first submit_captions
        self.stage_processes: StageWorkers | None = None  # set by the local engine (pipeline.processes)
        self.cache = (
            CaptionCache(options.cache_dir, self.captioner_id(), options.generation) if options.cache_dir else None
        )

    def captioner_id(self) -> str:
        """The captioner's model id (for cache keys)."""
        return str(self.captioner.describe().get("id") or self.options.model)

    def known_caption(self, sha256: str) -> tuple[str, str] | None:
        """A caption already made in this run, or stored in the on-disk cache."""
        known = self.captions_by_hash.get(sha256)
        if known is None and self.cache is not None:
            known = self.cache.get(sha256)
            if known is not None:
                self.captions_by_hash[sha256] = known
        return known

    @property
    def download_threads(self) -> int:
        """Threads that download, decode and prepare images: ``download_workers``, and with the model
        on a GPU at least one per CPU core, since decoding is then what bounds the audit's speed;
        with worker processes, one more than there are workers (each thread waits on one)."""
        threads = self.options.download_workers
        if str(self.captioner.describe().get("device") or "").startswith("cuda"):
            threads = max(threads, os.cpu_count() or 1)
        return max(threads, self.stage_processes.count + 1) if self.stage_processes is not None else threads

    def image_group_stage(self) -> Callable[[list[tuple[ImageRecord, PageBytes]]], list[Prepared | None]]:
        """What a download thread runs for a group of images (one outcome each, in order): the worker
        processes' stage, one message for the group, or the stage here, image by image."""
        if self.stage_processes is not None:
            return self.stage_processes.download_images
        return lambda group: [self.download_image(record, source) for record, source in group]

    @property
    def images_per_task(self) -> int:
        """The most images a download thread takes as one task: a worker process's group, else one."""
        return self.stage_processes.images_per_task if self.stage_processes is not None else 1

    def page_stage(self) -> Callable[[str, PageChecks | None, PreviousPage | None], DiscoveredPage]:
        """What a page thread runs for a page: the worker processes' stage, or the stage here."""
        return self.stage_processes.discover if self.stage_processes is not None else self.discover

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
            "ocr": self.ocr_info(),
            "translation_model": (
                self.options.translation_model_id(self.options.lang)
                if self.options.lang not in (ENGLISH, AUTO)
                else None
            ),
        }

    # --- pages -------------------------------------------------------------------------

    def start_renderer(self) -> None:
        """Start the browser for ``--render auto|always``; ``always`` without one raises."""
        if self.options.render == "never":
            return
        renderer = get_renderer(self.options.browser_path)
        try:
            renderer.start()
        except BrowserUnavailableError as exc:
            if self.options.render == "always":
                raise
            log.info("rendering off: %s", exc.message)
            self.browser_unavailable = exc
            return
        self.renderer = renderer

    def start_ocr(self) -> None:
        """Load the OCR engine for ``--ocr auto``; without it pages are audited with a warning."""
        if self.options.ocr == "off":
            return
        reader = get_text_reader()
        try:
            reader.load()
        except ModelLoadError as exc:
            log.info("text in images not read: %s", exc)
            self.ocr_unavailable = str(exc)
            return
        self.text_reader = reader

    def read_text(self, record: ImageRecord, image: Image.Image) -> None:
        """OCR (download thread): the image's text and its coverage into the record; never fails the image."""
        if self.text_reader is None:
            return
        try:
            reading = self.text_reader.read(image)
        except Exception:  # an OCR failure leaves the image without text fields, never fails it
            log.exception("OCR failed on %s", record.url)
            return
        with self._ocr_lock:
            self.ocr_seconds[0] += reading.detect_s
            self.ocr_seconds[1] += reading.recognise_s
            self.ocr_seconds[2] += 1
        text = reading.text
        record.image_text, record.text_coverage = (text, reading.coverage) if text else (None, None)

    def ocr_info(self) -> dict[str, object]:
        """The report's ``model.ocr`` block."""
        if self.text_reader is None:
            return {"enabled": False, "reason": "off" if self.options.ocr == "off" else self.ocr_unavailable}
        detect, recognise, images = self.ocr_seconds
        return {
            "enabled": True,
            **self.text_reader.describe(),
            "images_read": images,
            "detect_s": round(detect, 3),
            "recognise_s": round(recognise, 3),
        }

    def open_responses(self, folder: Path | None, run: str) -> ResponseStore:
        """The run's response store (``folder`` None: a temporary one); every process of a run passes the same."""
        opts = self.options
        self.responses = ResponseStore(
            self.fetcher,
            folder,
            memory_bytes=opts.response_memory_bytes,
            disk_bytes=opts.response_disk_bytes,
            run=run,
            revalidate=not opts.refresh,
            wire_gate=self.host_limit,
        )
        self.robots.responses = self.responses
        return self.responses

    def close(self) -> None:
        """Free what the run holds outside the process's models (worker processes, the response store)."""
        if self.stage_processes is not None:  # first: a worker may be writing into the store's folder
            self.stage_processes.close()
        if self.responses is not None:
            self.responses.close()
        if self._captioning is not None:  # a batch still running ends on its own; queued ones are dropped
            self._captioning.shutdown(wait=False, cancel_futures=True)

    def page_bytes(self) -> PageBytes:
        """Where a page's images are read from when no browser loaded them."""
        return PageBytes(self.fetcher, None, self.responses)

    def discover(
        self, url: str, checks: PageChecks | None = None, previous: PreviousPage | None = None
    ) -> DiscoveredPage:
        """The page stage for one URL; page problems become a failed PageReport, never an exception."""
        try:
            discovered = discover_page(
                url, self.options, self.fetcher, self.robots, self.renderer, self.browser_unavailable, checks,
                self.responses, None if self.options.refresh else previous,
            )  # fmt: skip
            if self.ocr_unavailable and discovered.page.status == "ok" and discovered.page.images:
                discovered.page.warnings.append(f"text in images not read: {self.ocr_unavailable}")
            return discovered
        except ScrapeError as exc:
            page = PageReport(url=url, status="failed", error=exc.message, error_code=exc.code)
        except Exception as exc:  # one bad page never aborts a run
            log.exception("unexpected error on page %s", url)
            page = PageReport(url=url, status="failed", error=f"internal error: {type(exc).__name__}")
            page.error_code = "internal_error"
        return DiscoveredPage(page, self.page_bytes())

    def crawl_delay(self, url: str) -> float | None:
        """The ``Crawl-delay`` of robots.txt for ``url``'s host (None when ignored, absent or unreadable)."""
        if self.options.ignore_robots:
            return None
        try:
            delay = self.robots.rules_for(url).crawl_delay()
        except ScrapeError:
            return None  # the page stage reports the host's problem
        return float(delay) if delay else None

    def is_folder(self, target: str) -> bool:
        """A local folder target (CLI only)."""
        return self.options.allow_local_folders and "://" not in target and Path(target).is_dir()

    def folder_page(self, folder: Path) -> DiscoveredPage:
        """A local folder (recursive) as one page whose records read local files."""
        page = PageReport(url=str(folder), final_url=str(folder.resolve()), kind="folder", title=folder.name)
        root = folder.resolve()
        page.images = [
            ImageRecord(
                source=path.relative_to(root).as_posix(), found_in=["file"], occurrences=1, local_path=str(path)
            )
            for path in scan_folder(folder, self.options.glob)
        ]
        return DiscoveredPage(page, self.page_bytes())

    # --- translation -------------------------------------------------------------------

    def translator_for(self, lang: str) -> Translator:
        """The cached translator for a language (weights load on first use)."""
        return get_translator(self.options.translation_model_id(lang), self.options.device, lang)

    def translate_page(self, page: PageReport) -> None:
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
        # The page's and the image's own words stay as written: a suggestion that is the image's text is
        # not translated; the subject before it ("Oxford Brogue: ...") and the quoted text of "... with a
        # sign reading 'Open'" are put back around the translated rest.
        suggestions = [r for r in records if r.suggested_alt and r.suggestion_basis != "image_text"]
        parts = [kept_words(record) for record in suggestions]
        translated = translator.translate([record.caption or "" for record in records] + [p[1] for p in parts])
        for record, text in zip(records, translated[: len(records)], strict=True):
            record.caption_translated, record.translation_lang = text, lang
            if record.suggestion_basis == "image_text":
                record.suggested_alt_translated = record.suggested_alt
        for record, (before, _, after), text in zip(suggestions, parts, translated[len(records) :], strict=True):
            record.suggested_alt_translated = f"{before}{text}{after}"

    # --- images ------------------------------------------------------------------------

    def download_image(self, record: ImageRecord, source: PageBytes) -> Prepared | None:
        """Fetch (or reuse the browser's bytes), decode and preprocess one image; on failure finish the record."""
        opts = self.options
        try:
            if record.screenshot is not None:  # a drawn element: the browser's picture of it
                data, record.screenshot = record.screenshot, None
            elif ELEMENT in record.found_in:
                raise FetchError("the element has no image URL and no screenshot of it was taken", code="no_source")
            elif record.local_path is not None:
                data = read_local_image(Path(record.local_path), opts.image_max_bytes)
            elif record.source.lower().startswith("data:"):
                data = decode_data_uri(record.source, opts.image_max_bytes)
            else:  # the response store holds the host's limit around what goes on the wire
                gate = self.host_limit(record.source) if source.responses is None else contextlib.nullcontext()
                with gate:
                    data = source.fetch(
                        record.source,
                        max_bytes=opts.image_max_bytes,
                        deadline_s=opts.image_deadline_s,
                        accept=IMAGE_ACCEPT,
                    ).content
        except ScrapeError as exc:
            record.fail(exc.code, exc.message)
            return None
        return self._prepare(record, data)

    def _prepare(self, record: ImageRecord, data: bytes) -> Prepared | None:
        """Decode bytes into the record and preprocess them for the model (in a worker thread).

        On failure the record is finished and None returned.
        """
        opts = self.options
        try:
            by_rendered_size = decided_by_rendered_size(record)  # already checked against the minimum
            prepared = prepare_image(
                data,
                min_width=0 if by_rendered_size else opts.min_width,
                min_height=0 if by_rendered_size else opts.min_height,
                draft_side=DETECT_MAX_SIDE if self.text_reader is not None else DRAFT_SIDE,
            )
            model_input = self.captioner.prepare(prepared.image)
            self.read_text(record, prepared.image)
        except ImageSkipped as exc:
            record.skip(exc.code, exc.message)
            for name, value in exc.known(data, opts.thumbnail_size).items():
                setattr(record, name, value)
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
        if SCREENSHOT in record.found_in:  # the browser's picture of the element: no file of the site
            record.bytes = None
            if ELEMENT not in record.found_in:  # an SVG image file, drawn by the browser
                record.format = "SVG"
        if opts.thumbnail_size:
            record.thumbnail = make_thumbnail(prepared.image, opts.thumbnail_size)
        return Prepared(prepared.sha256, model_input)

    def caption_single(self, record: ImageRecord, data: bytes | None = None) -> ImageRecord:
        """Fetch (unless ``data`` is given), decode and caption one image record."""
        prepared = self.download_image(record, PageBytes(self.fetcher)) if data is None else self._prepare(record, data)
        if prepared is not None:
            for _ in self.caption_images([(record, prepared.model_input)], {}):
                pass
        return record

    def submit_captions(self, batch: list[tuple[ImageRecord, Any]]) -> Future[list[str]]:
        """Start captioning ``batch`` in the background; hand the future to :meth:`caption_images`.

        Two caption workers: while one batch runs on the model, the next one is staged (on a GPU
        its pixels are copied to the device on a side stream), so the model never waits for it.
        """
        if self._captioning is None:
            self._captioning = ThreadPoolExecutor(CAPTION_WORKERS, thread_name_prefix="altscout-caption")
        inputs = [model_input for _, model_input in batch]
        return self._captioning.submit(self.captioner.caption_batch, inputs, self.options.generation)

    def caption_images(
        self,
        batch: list[tuple[ImageRecord, Any]],
        followers: dict[str, list[ImageRecord]],
        submitted: Future[list[str]] | None = None,
    ) -> Iterator[ImageRecord]:
        """Caption one batch (or collect the ``submitted`` one); records with the same bytes
        (followers) share the outcome."""
        self.model_captions += len(batch)
        try:
            if submitted is not None:
                raw = submitted.result()
            else:
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
                self.captions_by_hash[record.sha256] = (caption, raw_text)
                if self.cache is not None:
                    self.cache.put(record.sha256, caption, raw_text)
            for member in [record, *followers.pop(record.sha256 or "", [])]:
                if caption:
                    member.set_caption(caption, raw_text)
                else:
                    member.raw_caption = raw_text
                    member.fail("empty_caption", "the model produced no caption for this image")
                yield member
