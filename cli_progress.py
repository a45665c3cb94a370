"""The CLI's progress: two bars on a terminal, plain lines in a log file or a CI job."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from pipeline import AuditEvent, ImageFinished, PageFinished, PageStarted


def progress_for(enabled: bool, stream: TextIO | None = None) -> Any:
    """Bars when the stream is a terminal, lines otherwise; nothing when not enabled."""
    stream = stream or sys.stderr
    if not enabled:
        return Quiet()
    return Progress(stream) if stream.isatty() else ProgressLines(stream)


class Quiet:
    """No progress at all (--quiet)."""

    def __call__(self, event: AuditEvent) -> None:
        return

    def close(self) -> None:
        return


class ProgressLines:
    """A line per finished page, without terminal escape codes: what a log file or CI shows."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = 0

    def __call__(self, event: AuditEvent) -> None:
        if isinstance(event, PageStarted):
            self.total = event.total
        elif isinstance(event, PageFinished):
            page = event.page
            images = len(page.images)
            outcome = f"{images} image(s)" if page.status == "ok" else f"failed: {page.error_code}"
            print(f"altscout: page {event.index + 1}/{max(self.total, event.index + 1)}: {page.url}: {outcome}",
                  file=self.stream, flush=True)  # fmt: skip

    def close(self) -> None:
        return


class Progress:
    """Two tqdm bars on a terminal: pages and the current page's images."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._pages: Any = None
        self._images: Any = None

    def __call__(self, event: AuditEvent) -> None:
        from tqdm import tqdm

        if isinstance(event, PageStarted):
            if self._pages is None:
                self._pages = tqdm(total=event.total, desc="pages", unit="page", position=0, file=self.stream)
            elif self._pages.total != event.total:  # a crawl keeps discovering pages
                self._pages.total = event.total
                self._pages.refresh()
            if self._images is None:
                self._images = tqdm(total=0, desc="images", unit="img", position=1, file=self.stream)
            self._images.reset(total=0)
            self._images.set_postfix_str(event.url[-40:])
        elif isinstance(event, ImageFinished) and self._images is not None:
            if self._images.total != event.total:
                self._images.reset(total=event.total)
                self._images.update(event.done)
            else:
                self._images.update(1)
        elif isinstance(event, PageFinished) and self._pages is not None:
            self._pages.update(1)

    def close(self) -> None:
        """Close the bars."""
        for bar in (self._images, self._pages):
            if bar is not None:
                bar.close()
