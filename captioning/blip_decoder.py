"""Greedy decoding for BLIP's text decoder with static shapes: the loop ``generate`` runs, without its overhead.

``transformers``' ``generate`` grows its key/value cache by concatenation, rebuilds masks and
runs its logits processors in Python at every step, so the 20 steps of a caption are bound by
kernel launches on a GPU. :class:`StaticDecoder` runs the same computation with shapes that
never change:

- the cross-attention keys and values of the image are computed once per batch (every layer),
  not looked up again at every step;
- the self-attention cache is preallocated for the whole caption; a step writes its key and
  value at its position (``index_copy_``) and attends over the whole cache through a mask that
  the loop opens one position at a time;
- on CUDA the step is captured as a CUDA graph and replayed (one launch per step instead of
  hundreds); on a CPU it runs as it is. The graphs' buffers are one set, kept across batches
  (``shared_buffers``): a batch runs at a bucket of rows (a power of two up to 64, then a multiple
  of 64; the extra rows are ignored) on views of that set, so every batch size in a bucket
  replays one graph, and the image's keys and values (21.8 GB at 1,024 images in float16) exist
  once, not once per batch size.

It covers what AltScout asks of BLIP: greedy search, ``max_new_tokens``, ``min_new_tokens`` and
the model's suppressed tokens, no prompt. Anything else (beams, a prompt, BLIP-2) goes through
``generate``. The output is ``generate``'s: BOS, then the new tokens, padded after EOS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def supports(model: Any, num_beams: int, prompt: str | None) -> bool:
    """Whether this model and these settings can use :class:`StaticDecoder`."""
    decoder = getattr(model, "text_decoder", None)
    bert = getattr(decoder, "bert", None)
    return (
        num_beams == 1
        and not prompt
        and bert is not None
        and hasattr(decoder, "cls")
        and getattr(bert.embeddings, "position_embedding_type", "absolute") == "absolute"
        and all(hasattr(layer, "crossattention") for layer in bert.encoder.layer)
    )


class StaticDecoder:
    """Greedy captions for one BLIP model (see the module); one instance per loaded model."""

    def __init__(self, model: Any, graphs: bool = False, shared_buffers: bool | None = None) -> None:
        self.model = model
        self.graphs = graphs  # CUDA only: replay each bucket's step as a CUDA graph
        self.shared_buffers = graphs if shared_buffers is None else shared_buffers
        text = model.config.text_config
        self.bos, self.eos, self.pad = text.bos_token_id, text.sep_token_id, text.pad_token_id
        self.bert = model.text_decoder.bert
        self.head = model.text_decoder.cls
        self.heads = text.num_attention_heads
        self.head_size = text.hidden_size // text.num_attention_heads
        self._arena: _State | None = None  # the shared buffers, sized to the largest bucket so far
        self._captured: dict[int, _Graph] = {}  # by rows; captured on views of the arena

    def generate(
        self, pixel_values: Any, max_new_tokens: int, min_new_tokens: int | None = None, suppress: Sequence[int] = ()
    ) -> Any:
        """Token ids (batch, 1 + steps): BOS and the greedy caption, padded after EOS, as ``generate`` returns."""
        import torch

        image = self.model.vision_model(pixel_values=pixel_values)[0]
        batch, length = image.shape[0], 1 + max_new_tokens
        if self.shared_buffers:
            state = self._rows(bucket(batch), length, image)
        else:
            state = _State.allocate(self, batch, length, image)
        state.fill(self, image)
        step = self._step_for(state) if self.graphs and image.device.type == "cuda" else None
        tokens = torch.full((batch, 1), self.bos, dtype=torch.long, device=image.device)
        last = torch.full((state.batch,), self.bos, dtype=torch.long, device=image.device)  # rows past batch: ignored
        unfinished = torch.ones(batch, dtype=torch.bool, device=image.device)
        blocked = torch.tensor(list(suppress), dtype=torch.long, device=image.device)
        for position in range(max_new_tokens):
            state.open(position)
            logits = step(last, position) if step is not None else self.step(state, last)
            scores = logits[:batch].float()
            if min_new_tokens is not None and position < min_new_tokens:
                scores[:, self.eos] = -math.inf
            if len(blocked):
                scores[:, blocked] = -math.inf
            chosen = torch.where(unfinished, scores.argmax(-1), torch.full_like(unfinished, self.pad, dtype=torch.long))
            tokens = torch.cat([tokens, chosen[:, None]], dim=1)
            last[:batch] = chosen
            unfinished &= chosen != self.eos
            if not bool(unfinished.any()):  # generate stops when every caption has ended
                break
        return tokens

    def step(self, state: _State, token: Any) -> Any:
        """One decoding step for every row: the next token's logits (batch, vocabulary)."""
        import torch.nn.functional as functional

        embeddings = self.bert.embeddings
        hidden = embeddings.word_embeddings(token[:, None]) + embeddings.position_embeddings(state.position)[None]
        hidden = embeddings.dropout(embeddings.LayerNorm(hidden))
        scale = 1.0 / math.sqrt(self.head_size)
        for index, layer in enumerate(self.bert.encoder.layer):
            attention = layer.attention.self
            query = self._heads(attention.query(hidden))
            state.keys[index].index_copy_(2, state.position, self._heads(attention.key(hidden)))
            state.values[index].index_copy_(2, state.position, self._heads(attention.value(hidden)))
            context = functional.scaled_dot_product_attention(
                query, state.keys[index], state.values[index], attn_mask=state.mask, scale=scale
            )
            hidden = layer.attention.output(self._merge(context), hidden)
            cross = layer.crossattention.self
            context = functional.scaled_dot_product_attention(
                self._heads(cross.query(hidden)), state.image_keys[index], state.image_values[index], scale=scale
            )
            hidden = layer.crossattention.output(self._merge(context), hidden)
            hidden = layer.feed_forward_chunk(hidden)
        return self.head(hidden)[:, -1, :]

    def _heads(self, tensor: Any) -> Any:
        """(batch, length, width) -> (batch, heads, length, head size)."""
        return tensor.view(tensor.shape[0], tensor.shape[1], self.heads, self.head_size).transpose(1, 2)

    def _merge(self, tensor: Any) -> Any:
        """(batch, heads, length, head size) -> (batch, length, width)."""
        return tensor.transpose(1, 2).reshape(tensor.shape[0], tensor.shape[2], self.heads * self.head_size)

    def _rows(self, rows: int, length: int, image: Any) -> _State:
        """The first ``rows`` rows of the shared buffers (grown, and the graphs dropped, when too small)."""
        arena = self._arena
        fits = arena is not None and arena.fits(rows, length, image)
        if not fits:
            self._captured.clear()  # their addresses are in the buffers being replaced
            self._arena = arena = None  # freed before the larger set is made
            arena = self._arena = _State.allocate(self, rows, length, image)
        return arena.rows(rows)

    def _step_for(self, state: _State) -> Any:
        """This bucket's captured step (captured at first use, on the shared buffers' views)."""
        graph = self._captured.get(state.batch)
        if graph is None:
            graph = self._captured[state.batch] = _Graph(self, state)
        return graph


def bucket(batch: int) -> int:
    """The rows a batch runs at on shared buffers: the next power of two up to 64, then of 64."""
    if batch <= 64:
        return 1 << max(0, batch - 1).bit_length()
    return -(-batch // 64) * 64


class _State:
    """One batch's static buffers: the image's keys and values, the self-attention cache and its mask."""

    def __init__(self, image_keys: list[Any], image_values: list[Any], keys: list[Any], values: list[Any],
                 mask: Any, position: Any) -> None:  # fmt: skip
        self.image_keys, self.image_values, self.keys, self.values = image_keys, image_values, keys, values
        self.mask, self.position = mask, position
        self.batch, self.length = keys[0].shape[0], keys[0].shape[2]

    @classmethod
    def allocate(cls, decoder: StaticDecoder, batch: int, length: int, image: Any) -> _State:
        """Zeroed buffers for ``batch`` rows of ``length`` tokens attending to images like ``image``."""
        import torch

        def zeros(steps: int) -> Any:
            shape = (batch, decoder.heads, steps, decoder.head_size)
            return torch.zeros(shape, dtype=image.dtype, device=image.device)

        layers = range(len(decoder.bert.encoder.layer))
        image_length = image.shape[1]
        mask = torch.full((1, 1, 1, length), -math.inf, dtype=image.dtype, device=image.device)
        position = torch.zeros(1, dtype=torch.long, device=image.device)
        return cls(
            [zeros(image_length) for _ in layers], [zeros(image_length) for _ in layers],
            [zeros(length) for _ in layers], [zeros(length) for _ in layers], mask, position,
        )  # fmt: skip

    def fits(self, rows: int, length: int, image: Any) -> bool:
        """Whether these buffers hold ``rows`` rows of this length, image length, dtype and device."""
        key = self.image_keys[0]
        return (
            self.batch >= rows
            and self.length == length
            and key.shape[2] == image.shape[1]
            and key.dtype == image.dtype
            and key.device == image.device
        )

    def rows(self, rows: int) -> _State:
        """The first ``rows`` rows, as views: the same addresses every time (what a graph replays)."""
        views = [
            [tensor[:rows] for tensor in group]
            for group in (self.image_keys, self.image_values, self.keys, self.values)
        ]
        return _State(*views, self.mask, self.position)

    def fill(self, decoder: StaticDecoder, image: Any) -> None:
        """A new batch: the image's keys and values written into the first rows (once per batch, not
        once per step), the cache cleared (masked positions must hold finite numbers) and the mask closed."""
        count = image.shape[0]
        for index, layer in enumerate(decoder.bert.encoder.layer):
            cross = layer.crossattention.self
            self.image_keys[index][:count].copy_(decoder._heads(cross.key(image)))
            self.image_values[index][:count].copy_(decoder._heads(cross.value(image)))
            self.keys[index].zero_()
            self.values[index].zero_()
        self.mask.fill_(-math.inf)

    def open(self, position: int) -> None:
        """The step at ``position``: it writes there and attends to everything up to it."""
        self.position.fill_(position)
        self.mask[..., position] = 0


class _Graph:
    """A CUDA graph of :meth:`StaticDecoder.step` for one bucket, captured on the shared buffers' views."""

    def __init__(self, decoder: StaticDecoder, state: _State) -> None:
        import torch

        self.token = torch.full((state.batch,), decoder.bos, dtype=torch.long, device=state.mask.device)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):  # warm-up outside the graph, as CUDA graphs require
                decoder.step(state, self.token)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        # thread_local: the caption worker staging the next batch (its copy, its allocations) may run
        # CUDA calls during the capture; only this thread's calls must be capture-safe.
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
            self.logits = decoder.step(state, self.token)
        for cache in (*state.keys, *state.values):
            cache.zero_()  # the warm-up and the capture wrote position 0

    def __call__(self, token: Any, position: int) -> Any:
        self.token.copy_(token)
        self.graph.replay()
        return self.logits
