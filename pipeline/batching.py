"""When the local engine sends images to the captioner: the batching rule, as a pure function."""

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
