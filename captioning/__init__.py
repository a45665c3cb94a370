"""Image captioning: the Captioner protocol, the BLIP implementation, caption cleaning."""

from captioning.base import Captioner, GenerationSettings, ModelLoadError
from captioning.blip import BlipCaptioner, get_captioner, resolve_model_id
from captioning.clean import clean_caption

__all__ = [
    "BlipCaptioner",
    "Captioner",
    "GenerationSettings",
    "ModelLoadError",
    "clean_caption",
    "get_captioner",
    "resolve_model_id",
]
