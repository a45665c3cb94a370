"""Image captioning: the Captioner protocol, the registry of captioners, BLIP and BLIP-2, caption cleaning.

Importing this package registers the captioners (:mod:`captioning.blip`); ask for one with
``get_captioner(CaptionerSpec(...))``.
"""

from captioning.base import Captioner, GenerationSettings, ModelLoadError
from captioning.blip import BlipCaptioner
from captioning.clean import clean_caption
from captioning.registry import CaptionerKind, CaptionerSpec, get_captioner, register, resolve_model_id

__all__ = [
    "BlipCaptioner",
    "Captioner",
    "CaptionerKind",
    "CaptionerSpec",
    "GenerationSettings",
    "ModelLoadError",
    "clean_caption",
    "get_captioner",
    "register",
    "resolve_model_id",
]
