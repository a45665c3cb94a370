"""One image captioned on its own (the app's single-image tab): a URL or uploaded bytes, no page."""

from __future__ import annotations

from captioning import Captioner
from options import AuditOptions
from options.preflight import plain_http
from pipeline.stages import IMAGE_ACCEPT, AuditRun
from records import ImageRecord
from scraper.errors import NoTLSError, ScrapeError
from scraper.net import FetchResult, check_url


def _fetch(run: AuditRun, url: str) -> FetchResult:
    opts = run.options
    return run.fetcher.fetch(url, max_bytes=opts.image_max_bytes, deadline_s=opts.image_deadline_s, accept=IMAGE_ACCEPT)


def caption_image(
    source: str | bytes,
    options: AuditOptions,
    captioner: Captioner | None = None,
    name: str = "upload",
    typed: bool = False,
) -> ImageRecord:
    """Caption one image given as a URL (fetched through the guarded fetcher) or as bytes; ``typed``: a
    URL typed without a scheme, read at https:// and, where nothing speaks TLS, at http:// (as pages are).

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
        if not typed:
            return run.caption_single(record)
        try:
            answer = _fetch(run, url)
        except NoTLSError:
            record.source = url = plain_http(url)
            check_url(url)
            answer = _fetch(run, url)
    except ScrapeError as exc:
        record.fail(exc.code, exc.message)
        return record
    return run.caption_single(record, answer.content)
