"""One image captioned on its own (the app's single-image tab): a URL or uploaded bytes, no page."""

from __future__ import annotations

from captioning import Captioner
from options import AuditOptions
from pipeline.stages import AuditRun
from records import ImageRecord
from scraper.errors import ScrapeError
from scraper.net import check_url


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
