"""Scaled-dot-product attention (SDPA) for BLIP's vision encoder and text decoder.

transformers 5.x runs BLIP with eager attention only (its BLIP modules do not use the attention
interface): every head of every layer writes and reads its full score matrix (577 x 577 in the
vision encoder). :func:`use_sdpa` rebinds the ``forward`` of each attention module *of one model*
to ``torch.nn.functional.scaled_dot_product_attention``, which picks FlashAttention or the
memory-efficient kernel on a GPU and a fused kernel on a CPU. Nothing global is patched: other
models in the process keep eager attention.

The patch is version-guarded: it applies only to the module layouts it was written against
(checked by attribute, not by version number alone) and reports what it changed; anything it
does not recognise keeps eager attention. The replacement returns no attention probabilities,
which AltScout never asks for.
"""

from __future__ import annotations

import logging
import math
import types
from typing import Any

log = logging.getLogger("altscout")

VISION_ATTRIBUTES = ("qkv", "projection", "num_heads", "embed_dim", "scale", "dropout")
TEXT_ATTRIBUTES = ("query", "key", "value", "attention_head_size", "all_head_size", "layer_idx", "dropout")


def use_sdpa(model: Any) -> dict[str, int]:
    """Give one BLIP model SDPA attention in place; returns how many modules of each kind changed."""
    from transformers.models.blip import modeling_blip, modeling_blip_text

    changed = {"vision": 0, "text": 0}
    for module in model.modules():
        if type(module) is modeling_blip.BlipAttention and _has(module, VISION_ATTRIBUTES):
            module.forward = types.MethodType(_vision_forward, module)
            changed["vision"] += 1
        elif type(module) is modeling_blip_text.BlipTextSelfAttention and _has(module, TEXT_ATTRIBUTES):
            module.forward = types.MethodType(_text_forward, module)
            changed["text"] += 1
    if not any(changed.values()):
        log.warning("BLIP's attention modules have a layout AltScout does not know; keeping eager attention")
    return changed


def uses_sdpa(model: Any) -> bool:
    """Whether :func:`use_sdpa` changed this model."""
    return any(getattr(getattr(m, "forward", None), "__func__", None) in _FORWARDS for m in model.modules())


def _has(module: Any, names: tuple[str, ...]) -> bool:
    return all(hasattr(module, name) for name in names)


def _vision_forward(self: Any, hidden_states: Any, **_: Any) -> tuple[Any, None]:
    """BlipAttention.forward with one fused kernel (no mask; the same scale)."""
    import torch.nn.functional as functional

    batch, length, width = hidden_states.shape
    qkv = self.qkv(hidden_states).reshape(batch, length, 3, self.num_heads, width // self.num_heads)
    query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    dropout = self.dropout.p if self.training else 0.0
    context = functional.scaled_dot_product_attention(query, key, value, dropout_p=dropout, scale=self.scale)
    return self.projection(context.transpose(1, 2).reshape(batch, length, self.embed_dim)), None


def _text_forward(
    self: Any,
    hidden_states: Any,
    attention_mask: Any = None,
    encoder_hidden_states: Any = None,
    encoder_attention_mask: Any = None,
    cache: Any = None,
    past_key_values: Any = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    """BlipTextSelfAttention.forward (self- and cross-attention, with transformers' cache) on SDPA."""
    import torch.nn.functional as functional
    from transformers.cache_utils import EncoderDecoderCache

    cache = cache if cache is not None else past_key_values
    shape = (*hidden_states.shape[:-1], -1, self.attention_head_size)
    query = self.query(hidden_states).view(shape).transpose(1, 2)
    cross = encoder_hidden_states is not None
    mask = encoder_attention_mask if cross else attention_mask
    layers, updated = cache, False
    if cache is not None and isinstance(cache, EncoderDecoderCache):
        updated = bool(cache.is_updated.get(self.layer_idx))
        layers = cache.cross_attention_cache if cross else cache.self_attention_cache
    if cross and cache is not None and updated:  # the image's keys and values, computed at the first step
        key, value = layers.layers[self.layer_idx].keys, layers.layers[self.layer_idx].values
    else:
        source = encoder_hidden_states if cross else hidden_states
        kv_shape = (*source.shape[:-1], -1, self.attention_head_size)
        key = self.key(source).view(kv_shape).transpose(1, 2)
        value = self.value(source).view(kv_shape).transpose(1, 2)
        if cache is not None:
            key, value = layers.update(key, value, self.layer_idx, kwargs=kwargs)
            if cross and isinstance(cache, EncoderDecoderCache):
                cache.is_updated[self.layer_idx] = True
    if mask is not None:
        mask = mask.to(device=query.device, dtype=query.dtype)
    dropout = self.dropout.p if self.training else 0.0
    context = functional.scaled_dot_product_attention(
        query, key, value, attn_mask=mask, dropout_p=dropout, scale=1.0 / math.sqrt(self.attention_head_size)
    )
    return context.transpose(1, 2).reshape(*hidden_states.shape[:-1], self.all_head_size), None


_FORWARDS = (_vision_forward, _text_forward)
