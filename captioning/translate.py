"""Translate English captions with Helsinki-NLP MarianMT models: loaded once, batched."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from captioning.base import ModelLoadError, check_hub, model_load_failure, resolve_device
from captioning.model_thread import on_model_thread

# Language code -> MarianMT model translating from English. Portuguese has no plain
# opus-mt-en-pt model; the tc-big one is also a Marian model.
MARIAN_MODELS = {
    "es": "Helsinki-NLP/opus-mt-en-es",
    "fr": "Helsinki-NLP/opus-mt-en-fr",
    "de": "Helsinki-NLP/opus-mt-en-de",
    "it": "Helsinki-NLP/opus-mt-en-it",
    "pt": "Helsinki-NLP/opus-mt-tc-big-en-pt",
    "nl": "Helsinki-NLP/opus-mt-en-nl",
    "sv": "Helsinki-NLP/opus-mt-en-sv",
    "da": "Helsinki-NLP/opus-mt-en-da",
    "fi": "Helsinki-NLP/opus-mt-en-fi",
    "ru": "Helsinki-NLP/opus-mt-en-ru",
    "uk": "Helsinki-NLP/opus-mt-en-uk",
    "ro": "Helsinki-NLP/opus-mt-en-ro",
    "cs": "Helsinki-NLP/opus-mt-en-cs",
    "ar": "Helsinki-NLP/opus-mt-en-ar",
    "zh": "Helsinki-NLP/opus-mt-en-zh",
    "hi": "Helsinki-NLP/opus-mt-en-hi",
}
ENGLISH = "en"
AUTO = "auto"


class UnsupportedLanguageError(ValueError):
    """A language code with no translation model; the message lists the supported ones."""


def supported_languages() -> list[str]:
    """Codes ``--lang`` accepts besides ``en`` and ``auto``."""
    return sorted(MARIAN_MODELS)


def normalise_lang(code: str | None) -> str | None:
    """``fr-FR`` / ``FR_ca`` -> ``fr``; empty -> None."""
    if not code or not code.strip():
        return None
    return code.strip().replace("_", "-").split("-", 1)[0].lower()


def translation_model_for(code: str) -> str:
    """The MarianMT model id for a language code; raise UnsupportedLanguageError otherwise."""
    lang = normalise_lang(code)
    if lang in MARIAN_MODELS:
        return MARIAN_MODELS[lang]
    raise UnsupportedLanguageError(
        f"no translation model for language {code!r}; supported: en, auto, {', '.join(supported_languages())}"
    )


def page_language(requested: str, page_lang: str | None) -> str:
    """The language captions of a page are translated into (``en`` means no translation).

    ``auto`` follows ``<html lang>``, falling back to English when it is absent or unsupported.
    """
    if requested != AUTO:
        return normalise_lang(requested) or ENGLISH
    lang = normalise_lang(page_lang)
    return lang if lang in MARIAN_MODELS else ENGLISH


class Translator:
    """One MarianMT model and tokenizer on one device."""

    def __init__(self, model_id: str, device: str = "auto", batch_size: int = 16, lang: str | None = None) -> None:
        self.model_id = model_id
        self.flag = f"--translation-model {lang or 'LANG'}="  # how a load failure tells to point at a folder
        self._device_request = device
        self.batch_size = batch_size
        self.device: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load once (on the model thread); raise ModelLoadError with one sentence naming the model and the fix."""
        if self._model is None:
            on_model_thread(self._load)

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import transformers
            from transformers import MarianMTModel, MarianTokenizer

            device = resolve_device(self._device_request)
            previous = transformers.utils.logging.get_verbosity()
            transformers.utils.logging.set_verbosity_error()
            try:
                check_hub("translation", self.model_id, "./models/marian", self.flag)
                tokenizer = MarianTokenizer.from_pretrained(self.model_id)
                model = MarianMTModel.from_pretrained(self.model_id)
            except ModelLoadError:
                raise
            except Exception as exc:  # hub, file-system and format errors all become one sentence
                raise model_load_failure("translation", self.model_id, exc, "./models/marian", self.flag) from exc
            finally:
                transformers.utils.logging.set_verbosity(previous)
            self._tokenizer, self._model = tokenizer, model.to(device).eval()
            self.device = device

    def translate(self, texts: Sequence[str], max_new_tokens: int = 128) -> list[str]:
        """Translate in batches, keeping order; empty strings stay empty."""
        self.load()
        return on_model_thread(self._translate, texts, max_new_tokens)

    def _translate(self, texts: Sequence[str], max_new_tokens: int) -> list[str]:
        import torch

        results = list(texts)
        todo = [i for i, text in enumerate(texts) if text.strip()]
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            batch = self._tokenizer([texts[i] for i in chunk], return_tensors="pt", padding=True, truncation=True)
            batch = {key: value.to(self.device) for key, value in batch.items()}
            with torch.inference_mode():
                output = self._model.generate(**batch, max_new_tokens=max_new_tokens, num_beams=1, do_sample=False)
            for i, text in zip(chunk, self._tokenizer.batch_decode(output, skip_special_tokens=True), strict=True):
                results[i] = text.strip()
        return results


@lru_cache(maxsize=8)
def get_translator(model_id: str, device: str = "auto", lang: str | None = None) -> Translator:
    """The process-wide translator for a model into ``lang`` (weights load lazily on first use)."""
    return Translator(model_id, device, lang=lang)
