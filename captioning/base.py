"""What the pipeline needs from a captioner, and how device and dtype are chosen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image


class ModelLoadError(Exception):
    """A model (captioner, translator, OCR) could not be loaded; the message is one sentence for a person."""


def download_command(model_id: str, folder: str) -> str:
    """The download command the installed huggingface_hub provides (``hf`` since 0.34; ``huggingface-cli``
    before), looked up at run time."""
    import shutil
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(part) for part in version("huggingface_hub").split(".")[:2])
        modern = (major, minor) >= (0, 34)
    except (PackageNotFoundError, ValueError):
        modern = True
    tool = "hf" if modern or shutil.which("hf") or not shutil.which("huggingface-cli") else "huggingface-cli"
    return f"{tool} download {model_id} --local-dir {folder}"


def _is_folder(model_id: str) -> bool:
    text = model_id.strip()
    return Path(text).exists() or text.startswith((".", "/", "~")) or "\\" in text or text.count("/") > 1


def model_load_failure(kind: str, model_id: str, exc: BaseException, folder: str, flag: str) -> ModelLoadError:
    """One sentence naming the model and the fix; the library's own error goes to the log only.

    ``kind`` is what the model does ("captioning"), ``folder`` where to download it, ``flag`` the
    option that points AltScout at that folder (``--model``).
    """
    import logging

    logging.getLogger("altscout").warning("loading the %s model %r failed: %r", kind, model_id, exc)
    if _is_folder(model_id):
        path = Path(model_id).expanduser()
        if not path.exists():
            why = "there is no such folder"
        elif not (path / "config.json").is_file():
            why = "the folder has no config.json, so it holds no saved model"
        else:
            why = f"its files could not be read as a {kind} model ({type(exc).__name__})"
        return ModelLoadError(
            f"The {kind} model folder '{model_id}' could not be loaded: {why}; pass {flag}FOLDER naming the "
            "folder a model was saved to, or a hub id."
        )
    return ModelLoadError(
        f"The {kind} model '{model_id}' could not be loaded from the Hugging Face hub or its local cache; download "
        f"it where the hub is reachable ({download_command(model_id, folder)}) and pass {flag}{folder}."
    )


def check_hub(kind: str, model_id: str, folder: str, flag: str) -> None:
    """Before loading a hub model that is not in the local cache, ask the hub once (no retries): an
    unreachable hub or an unknown id is one sentence at once, not half a minute of retries."""
    import os

    if _is_folder(model_id) or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return
    import huggingface_hub

    if isinstance(huggingface_hub.try_to_load_from_cache(model_id, "config.json"), str):
        return
    try:
        huggingface_hub.HfApi().model_info(model_id, timeout=10)
    except huggingface_hub.errors.RepositoryNotFoundError as exc:
        raise ModelLoadError(
            f"There is no {kind} model '{model_id}' on the Hugging Face hub; check the id given to {flag.strip()}."
        ) from exc
    except Exception as exc:  # no network, DNS, proxy, timeout: the hub is out of reach from here
        raise model_load_failure(kind, model_id, exc, folder, flag) from exc


@dataclass(frozen=True)
class GenerationSettings:
    """How captions are generated; part of every cache key and every report."""

    max_new_tokens: int = 30
    num_beams: int = 1
    prompt: str | None = None
    min_new_tokens: int | None = None  # set equal to max_new_tokens to force a fixed length


class Captioner(Protocol):
    """Anything that turns a batch of RGB images into raw caption strings."""

    default_batch_size: int

    def load(self) -> None:
        """Load weights if not loaded yet (idempotent, thread-safe)."""

    def prepare(self, image: Image.Image) -> Any:
        """Per-image preprocessing, run in the download threads after ``load`` (thread-safe)."""

    def caption_batch(self, images: Sequence[Any], settings: GenerationSettings) -> list[str]:
        """One raw caption per item, in order; items are PIL images or ``prepare`` outputs."""

    def describe(self) -> dict[str, Any]:
        """Model id, device and dtype for the report."""


def resolve_device(device: str) -> str:
    """Map ``auto`` to ``cuda`` when a GPU is usable, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda was asked for, but no CUDA GPU is available; use --device cpu.")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """The dtype before any measurement: fp16 on CUDA, fp32 on a CPU (``captioning/accel.py`` may then
    choose bf16 where it is measured faster on the machine at hand)."""
    if dtype != "auto":
        return dtype
    return "float16" if device.startswith("cuda") else "float32"


def bytes_per_image(config: Any, dtype_bytes: int) -> int:
    """A generous estimate of one image's GPU working memory in a BLIP or BLIP-2 ``generate``.

    Counts the vision encoder's eager attention scores (and their softmax) and MLP activations,
    and the text decoder's cross-attention cache over the image tokens. Measured on an H100 for
    BLIP-base in float16 at 20 tokens: 23.8 MiB per image at batches of 256 to 2,048, against
    42 MiB counted here, so the count is its own margin (docs/PERFORMANCE.md).
    """
    vision, text = config.vision_config, config.text_config
    tokens = (vision.image_size // vision.patch_size) ** 2 + 1
    attention = 2 * vision.num_attention_heads * tokens * tokens
    activations = tokens * (vision.intermediate_size + 4 * vision.hidden_size)
    cross_cache = 2 * text.num_hidden_layers * tokens * text.hidden_size
    return dtype_bytes * (attention + activations + cross_cache)


def device_batch_size(free_bytes: int, image_bytes: int, smallest: int = 16, largest: int = 1024) -> int:
    """The largest power of two whose images fit in 80% of the free GPU memory, within bounds.

    On an H100 BLIP-base captions 415 images/s at 256, 689 at 512 and 825 at 1,024 (and 2,048):
    the 20 decoding steps cost about the same at any batch, so the batch is as large as fits.
    """
    fits = max(1, int(free_bytes * 0.8) // max(1, image_bytes))
    return max(smallest, min(largest, 1 << (fits.bit_length() - 1)))
