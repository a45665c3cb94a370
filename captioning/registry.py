"""Captioners register here; the pipeline asks for one with a :class:`CaptionerSpec`.

A kind of captioner is a :class:`CaptionerKind`: the ``config.json`` model types it loads, the
model ids it takes without one (the test fake's ``fake``), and a factory. BLIP and BLIP-2
register themselves in :mod:`captioning.blip`; a new captioning backend is one ``register`` call
in its own module, imported by :mod:`captioning`. :func:`get_captioner` keeps one captioner per
spec in the process (weights load lazily, on first use).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from captioning.base import Captioner

DEFAULT_MODEL = "Salesforce/blip-image-captioning-base"
MODEL_ALIASES = {
    "base": DEFAULT_MODEL,
    "large": "Salesforce/blip-image-captioning-large",
    "blip2": "Salesforce/blip2-opt-2.7b",
}
DEFAULT_KIND = "blip"  # a hub id whose config.json is not at hand: the BLIP loader reads it and adapts


@dataclass(frozen=True)
class CaptionerSpec:
    """Which captioner, where and how: the part of the options a captioner is made from."""

    model: str = DEFAULT_MODEL
    device: str = "auto"
    dtype: str = "auto"
    backend: str = "auto"
    quantize: str = "none"
    attention: str = "auto"  # BLIP: auto/sdpa (scaled-dot-product attention) or eager
    decoder: str = "auto"  # BLIP: auto (static on CUDA), generate or static


@dataclass(frozen=True)
class CaptionerKind:
    """A kind of captioner: what it loads, and how to make one."""

    name: str
    model_types: frozenset[str]  # config.json "model_type" values it loads
    factory: Callable[[CaptionerSpec], Captioner]
    claims: Callable[[str], bool] | None = None  # model ids it takes whatever their config says


_KINDS: dict[str, CaptionerKind] = {}


def register(kind: CaptionerKind) -> None:
    """Add (or replace) a kind of captioner."""
    _KINDS[kind.name] = kind
    get_captioner.cache_clear()


def kinds() -> list[str]:
    """The registered kinds' names."""
    return list(_KINDS)


def resolve_model_id(model: str) -> str:
    """Expand an alias (``base``, ``large``, ``blip2``) to a hub id; leave ids and folders alone."""
    return MODEL_ALIASES.get(model.strip(), model.strip())


def model_type(model_id: str) -> str | None:
    """The ``model_type`` of a local model folder's config.json (None for a hub id or an unreadable file)."""
    config = Path(model_id) / "config.json"
    try:
        value = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value else None


def kind_for(model_id: str) -> CaptionerKind:
    """The kind that loads this model: one that claims its id, else by its config's model type, else BLIP."""
    for kind in _KINDS.values():
        if kind.claims is not None and kind.claims(model_id):
            return kind
    found = model_type(model_id)
    for kind in _KINDS.values():
        if found in kind.model_types:
            return kind
    if DEFAULT_KIND not in _KINDS:
        raise LookupError(f"no captioner is registered for {model_id!r} (import captioning first)")
    return _KINDS[DEFAULT_KIND]


@lru_cache(maxsize=4)
def get_captioner(spec: CaptionerSpec) -> Captioner:
    """The process-wide captioner for this spec (weights load lazily on first use)."""
    spec = replace(spec, model=resolve_model_id(spec.model))
    return kind_for(spec.model).factory(spec)
