"""The local engine's flow rules, as pure functions: when to send images to the captioner, and
when to open another page."""

from __future__ import annotations

CAPTION_WORKERS = 2  # batches in flight: one on the model, the next one staged behind it


def batch_to_send(ready: int, batch_size: int, in_flight: int, drained: bool) -> int:
    """How many of the ``ready`` images to send now (0: wait for more, or for the captioner).

    A full batch may wait behind a running one; an idle captioner takes what is ready from a
    quarter batch (or the rest once nothing else is coming, ``drained``). So the model never idles
    while images wait, and batches grow to full when the model is the slower side.
    """
    if in_flight >= CAPTION_WORKERS or ready == 0:
        return 0
    if ready >= batch_size:
        return batch_size
    if in_flight == 0 and (drained or ready >= max(1, batch_size // 4)):
        return ready
    return 0


def may_open_page(
    fetching: int, open_pages: int, stashed_pages: int, waiting_images: int, page_workers: int, image_room: int
) -> bool:
    """Whether to start another page now.

    ``fetching``: pages in the page stage; ``open_pages``: pages whose images are not all final
    (``stashed_pages`` of them hold a browser's responses in memory); ``waiting_images``: images not
    yet sent to the captioner (queued, downloading, prepared); ``image_room``: how many may wait
    (two batches and a download per thread).

    At most ``2 x page_workers`` pages are fetched at once, and that many pages may always be
    open. Beyond that a page opens only while images are short of filling the captioner's batches:
    a GPU's batch of 1,024 needs some 70 pages of 15 images waiting, not 8. Pages holding a
    browser's responses stay within ``2 x page_workers``, and open pages within ``image_room``
    (pages waiting on one slow image shared by all of them cannot pile up without end).
    """
    window = 2 * page_workers
    if fetching >= window:
        return False
    if fetching + open_pages < window:
        return True
    return waiting_images < image_room and open_pages < image_room and fetching + stashed_pages < window


def download_group(queued: int, most: int) -> int:
    """How many queued images a download thread takes as one task: as many as wait, up to ``most``
    (1 in threads; more where each task is one message to a worker process, whose cost the group
    then shares).

    Grouping does not wait for a long queue: when the crawling process is the bound, the queue
    stays short (a page's new images are sent as soon as they arrive), and one image a message
    would cost it most where it can least afford it. A group's images are read one after another
    by one worker: later, but the images per second are the workers' and the GPU's, not one
    image's latency.
    """
    return max(1, min(most, queued))
