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
- on CUDA the step is captured once per batch size as a CUDA graph and replayed (one launch per
  step instead of hundreds); on a CPU it runs as it is.

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

    def __init__(self, model: Any, graphs: bool = False) -> None:
        self.model = model
        self.graphs = graphs  # CUDA only: replay each batch size's step as a CUDA graph
        text = model.config.text_config
        self.bos, self.eos, self.pad = text.bos_token_id, text.sep_token_id, text.pad_token_id
        self.bert = model.text_decoder.bert
        self.head = model.text_decoder.cls
        self.heads = text.num_attention_heads
        self.head_size = text.hidden_size // text.num_attention_heads
        self._captured: dict[tuple[int, int, int], _Graph] = {}

    def generate(
        self, pixel_values: Any, max_new_tokens: int, min_new_tokens: int | None = None, suppress: Sequence[int] = ()
    ) -> Any:
        """Token ids (batch, 1 + steps): BOS and the greedy caption, padded after EOS, as ``generate`` returns."""
        import torch

        image = self.model.vision_model(pixel_values=pixel_values)[0]
        batch, length = image.shape[0], 1 + max_new_tokens
        state = _State.allocate(self, image, length)
        step = self._step_for(state) if self.graphs and image.device.type == "cuda" else None
        tokens = torch.full((batch, 1), self.bos, dtype=torch.long, device=image.device)
        unfinished = torch.ones(batch, dtype=torch.bool, device=image.device)
        blocked = torch.tensor(list(suppress), dtype=torch.long, device=image.device)
        for position in range(max_new_tokens):
            state.open(position)
            scores = (step(tokens[:, -1], position) if step is not None else self.step(state, tokens[:, -1])).float()
            if min_new_tokens is not None and position < min_new_tokens:
                scores[:, self.eos] = -math.inf
            if len(blocked):
                scores[:, blocked] = -math.inf
            chosen = torch.where(unfinished, scores.argmax(-1), torch.full_like(unfinished, self.pad, dtype=torch.long))
            tokens = torch.cat([tokens, chosen[:, None]], dim=1)
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

    def _step_for(self, state: _State) -> Any:
        """This batch shape's captured step (captured at first use)."""
        key = (state.batch, state.length, state.image_keys[0].shape[2])
        graph = self._captured.get(key)
        if graph is None:
            graph = self._captured[key] = _Graph(self, state)
        else:
            graph.adopt(state)
        return graph


class _State:
    """One batch's static buffers: the image's keys and values, the self-attention cache and its mask."""

    def __init__(self, image_keys: list[Any], image_values: list[Any], keys: list[Any], values: list[Any],
                 mask: Any, position: Any) -> None:  # fmt: skip
        self.image_keys, self.image_values, self.keys, self.values = image_keys, image_values, keys, values
        self.mask, self.position = mask, position
        self.batch, self.length = keys[0].shape[0], keys[0].shape[2]

    @classmethod
    def allocate(cls, decoder: StaticDecoder, image: Any, length: int) -> _State:
        import torch

        image_keys, image_values, keys, values = [], [], [], []
        batch = image.shape[0]
        for layer in decoder.bert.encoder.layer:
            cross = layer.crossattention.self
            image_keys.append(decoder._heads(cross.key(image)))  # once per batch, not once per step
            image_values.append(decoder._heads(cross.value(image)))
            shape = (batch, decoder.heads, length, decoder.head_size)
            keys.append(torch.zeros(shape, dtype=image.dtype, device=image.device))
            values.append(torch.zeros(shape, dtype=image.dtype, device=image.device))
        mask = torch.full((1, 1, 1, length), -math.inf, dtype=image.dtype, device=image.device)
        position = torch.zeros(1, dtype=torch.long, device=image.device)
        return cls(image_keys, image_values, keys, values, mask, position)

    def open(self, position: int) -> None:
        """The step at ``position``: it writes there and attends to everything up to it."""
        self.position.fill_(position)
        self.mask[..., position] = 0


class _Graph:
    """A CUDA graph of :meth:`StaticDecoder.step` for one batch shape; buffers are copied into its own."""

    def __init__(self, decoder: StaticDecoder, state: _State) -> None:
        import torch

        self.state = state
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

    def adopt(self, state: _State) -> None:
        """Run the graph on a new batch of the same shape: copy its buffers into the captured ones."""
        for mine, theirs in zip(
            (*self.state.image_keys, *self.state.image_values, *self.state.keys, *self.state.values, self.state.mask),
            (*state.image_keys, *state.image_values, *state.keys, *state.values, state.mask),
            strict=True,
        ):
            mine.copy_(theirs)
        state.image_keys, state.image_values = self.state.image_keys, self.state.image_values
        state.keys, state.values, state.mask, state.position = (
            self.state.keys, self.state.values, self.state.mask, self.state.position
        )

    def __call__(self, token: Any, position: int) -> Any:
        self.token.copy_(token)
        self.graph.replay()
        return self.logits
