"""BLIP and BLIP-2 captioning with Hugging Face transformers: loaded once, batched, under inference_mode.

The model class is picked from the folder's (or hub repo's) ``config.json``, so the pipeline
does not care which family is used.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from PIL import Image

from captioning.accel import CpuPlan, cpu_threads, plan_for_cpu
from captioning.base import (
    GenerationSettings,
    ModelLoadError,
    bytes_per_image,
    check_hub,
    device_batch_size,
    model_load_failure,
    resolve_device,
    resolve_dtype,
)
from captioning.blip_attention import use_sdpa
from captioning.blip_decoder import StaticDecoder
from captioning.blip_decoder import supports as static_supports
from captioning.model_thread import on_model_thread
from captioning.pixels import PixelRecipe, StagedPixels
from captioning.registry import DEFAULT_MODEL, CaptionerKind, CaptionerSpec, register, resolve_model_id
from captioning.runtimes import BackendError

FAMILIES = ("blip", "blip-2")
FALLBACK_SIDE = 768  # images waiting for the processor's own path are bounded to this
DEFAULT_BATCH_SIZE = {"cpu": 8, "cuda": 64}  # CUDA: replaced by a size fitted to the GPU once loaded
# bfloat16 on a CPU (AMX): 16 images a batch are 19% faster per image than 8 (docs/PERFORMANCE.md: OpenVINO
# 0.184 against 0.227 s/image); float32 gains nothing past 8 (0.618 against 0.608), so it keeps 8.
CPU_BF16_BATCH_SIZE = 16

log = logging.getLogger("altscout")


class BlipCaptioner:
    """A BLIP ``*ForConditionalGeneration`` model and its processor on one device."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str = "auto",
        dtype: str = "auto",
        backend: str = "auto",
        quantize: str = "none",
        attention: str = "auto",
        decoder: str = "auto",
    ) -> None:
        self.model_id = resolve_model_id(model)
        self._attention_request = attention  # auto/sdpa: SDPA for BLIP (captioning/blip_attention.py); eager
        self._decoder_request = decoder  # auto: static on CUDA, generate on a CPU (captioning/blip_decoder.py)
        self.attention: str | None = None  # resolved at load
        self._static: StaticDecoder | None = None
        self._device_request = device
        self._dtype_request = dtype
        self._backend_request = backend
        self._quantize_request = quantize
        self.device: str | None = None
        self.dtype: str | None = None
        self.plan: CpuPlan | None = None  # on a CPU: the backend, dtype and threads chosen at load
        self._model: Any = None
        self._processor: Any = None
        self._pixels: PixelRecipe | None = None  # None: the processor runs at batch time
        self._pixels_ready = False  # the recipe was read without the model (_load_pixels)
        self.family: str | None = None
        self._fitted_batch_size: int | None = None  # CUDA: sized to the GPU's free memory at load
        self._largest_batch: int | None = None  # lowered after an out-of-memory error
        self._copy_stream: Any = None  # CUDA: the side stream batches are copied on (_stage)
        self._lock = threading.Lock()

    @property
    def default_batch_size(self) -> int:
        """A batch size that suits the device (on CUDA, fitted to free memory once loaded; on a CPU, to the dtype)."""
        if self._fitted_batch_size is not None:
            return self._fitted_batch_size
        device = self.device or resolve_device(self._device_request)
        if device == "cpu" and self.dtype == "bfloat16":
            return CPU_BF16_BATCH_SIZE
        return DEFAULT_BATCH_SIZE["cuda" if device.startswith("cuda") else "cpu"]

    def load(self) -> None:
        """Load processor and model once (on the model thread); raise ModelLoadError with one clear sentence."""
        if self._model is None:  # the download threads call this for every image
            on_model_thread(self._load)

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import torch
            import transformers
            from transformers import AutoConfig, BlipForConditionalGeneration, BlipProcessor

            device = resolve_device(self._device_request)
            transformers.utils.logging.disable_progress_bar()
            kwargs: dict[str, Any] = {}
            with self._loading():
                config = self._config(AutoConfig)
                dtype = self._load_dtype(device, config.model_type)
                kwargs["dtype"] = getattr(torch, dtype)
                if config.model_type == "blip-2":
                    from transformers import Blip2ForConditionalGeneration, Blip2Processor

                    model_class, processor_class = Blip2ForConditionalGeneration, Blip2Processor
                    if device.startswith("cuda") and _has_accelerate():
                        kwargs["device_map"] = "auto"
                else:
                    model_class, processor_class = BlipForConditionalGeneration, BlipProcessor
                processor = processor_class.from_pretrained(self.model_id)
                model = model_class.from_pretrained(self.model_id, **kwargs)
            model = (model if "device_map" in kwargs else model.to(device)).eval()
            self.attention = self._attention(model, config.model_type)
            if device == "cpu":
                model, self.plan = self._plan_cpu(model, config.model_type)
                dtype = self.plan.dtype
            if device.startswith("cuda"):
                free_bytes, _ = torch.cuda.mem_get_info(model.device)
                image_bytes = bytes_per_image(config, torch.finfo(getattr(torch, dtype)).bits // 8)
                self._fitted_batch_size = device_batch_size(free_bytes, image_bytes)
            self._processor = processor
            self._pixels = PixelRecipe.from_processor(processor.image_processor)
            self.family = config.model_type
            self.device, self.dtype = device, dtype
            self._static = self._decoder(model, config.model_type, device)
            if device.startswith("cuda"):
                self._copy_stream = torch.cuda.Stream(device=model.device)
            self._model = model  # last: a set model means everything above is ready

    def _attention(self, model: Any, family: str) -> str:
        """SDPA attention unless eager is asked for (BLIP only; before the CPU plan, so its calibration
        measures PyTorch with the attention it will run)."""
        if family == "blip" and self._attention_request in ("auto", "sdpa") and any(use_sdpa(model).values()):
            return "sdpa"
        return "eager"

    def _decoder(self, model: Any, family: str, device: str) -> StaticDecoder | None:
        """The static decoder where asked for, or by default on CUDA (with CUDA graphs there)."""
        cuda = device.startswith("cuda")
        wanted = self._decoder_request == "static" or (self._decoder_request == "auto" and cuda)
        return StaticDecoder(model, graphs=cuda) if wanted and family == "blip" else None

    def _load_dtype(self, device: str, family: str) -> str:
        """The dtype weights load in: float32 for BLIP on a CPU (the plan converts), else as resolved."""
        if device != "cpu":
            if self._backend_request not in ("auto", "torch") or self._quantize_request != "none":
                log.warning("--backend and --quantize apply to CPUs; %s runs with PyTorch", device)
            return resolve_dtype(self._dtype_request, device)
        if family == "blip":
            return "float32"
        return "float32" if self._dtype_request == "auto" else self._dtype_request

    def _plan_cpu(self, model: Any, family: str) -> tuple[Any, CpuPlan]:
        """Backend, dtype and threads for a CPU (measured once per machine and model, then cached)."""
        if family != "blip":
            log.warning(
                "%s is a %s model: the CPU backends export BLIP only; it keeps the PyTorch path", self.model_id, family
            )
            dtype = str(model.dtype).removeprefix("torch.")
            return model, CpuPlan("torch", dtype, cpu_threads(), reason=f"{family} keeps the PyTorch path")
        try:
            return plan_for_cpu(
                model, self.model_id, self._backend_request, self._dtype_request, self._quantize_request
            )
        except BackendError as exc:
            raise ModelLoadError(f"The captioning model '{self.model_id}' could not be prepared: {exc}.") from exc

    @contextmanager
    def _loading(self) -> Iterator[None]:
        """Quiet transformers while loading; any failure becomes one sentence naming the model and the fix."""
        import huggingface_hub
        import transformers

        previous = transformers.utils.logging.get_verbosity()
        transformers.utils.logging.set_verbosity_error()
        hub_previous = huggingface_hub.utils.logging.get_verbosity()
        huggingface_hub.utils.logging.set_verbosity_error()  # its retry warnings become our one sentence
        try:
            check_hub("captioning", self.model_id, "./models/blip", "--model ")
            yield
        except ModelLoadError:
            raise
        except Exception as exc:  # hub, file-system and format errors all become one sentence
            raise model_load_failure("captioning", self.model_id, exc, "./models/blip", "--model ") from exc
        finally:
            transformers.utils.logging.set_verbosity(previous)
            huggingface_hub.utils.logging.set_verbosity(hub_previous)

    def _config(self, auto_config: Any) -> Any:
        """The model's config; ModelLoadError for a model that is not BLIP or BLIP-2."""
        config = auto_config.from_pretrained(self.model_id)
        if config.model_type not in FAMILIES:
            raise ModelLoadError(
                f"The model '{self.model_id}' is a '{config.model_type}' model, not a BLIP or BLIP-2 "
                "captioning model; pass --model base, large, blip2 or a folder of one of those."
            )
        return config

    def _load_pixels(self) -> None:
        """Only the processor's pixel recipe (image workers of the Ray engine never load the model)."""
        if self._model is not None or self._pixels_ready:
            return
        with self._lock:
            if self._model is not None or self._pixels_ready:
                return
            from transformers import AutoConfig, AutoProcessor

            with self._loading():
                self._config(AutoConfig)
                processor = AutoProcessor.from_pretrained(self.model_id)
            self._pixels = PixelRecipe.from_processor(processor.image_processor)
            self._pixels_ready = True

    def use_pixel_recipe(self, recipe: PixelRecipe) -> None:
        """Prepare with a recipe read elsewhere (the Ray driver's): this process never loads the processor."""
        with self._lock:
            if self._model is None:
                self._pixels, self._pixels_ready = recipe, True

    def pixel_recipe(self) -> PixelRecipe | None:
        """What ``prepare`` does, as a picklable recipe (worker processes prepare with it); None
        when the processor cannot be copied and runs at batch time."""
        self._load_pixels()
        return self._pixels

    def prepare(self, image: Image.Image) -> Image.Image | np.ndarray:
        """The model's input for one image: resized uint8 pixels (thread-safe, for download workers).

        Needs only the processor (loaded on its own when the model is not). When the processor
        cannot be copied, the image itself, bounded to 768 px, is returned and the processor runs
        at batch time.
        """
        self._load_pixels()
        if self._pixels is not None:
            return self._pixels.to_array(image)
        if max(image.size) <= FALLBACK_SIDE:
            return image
        bounded = image.copy()
        bounded.thumbnail((FALLBACK_SIDE, FALLBACK_SIDE), Image.Resampling.BICUBIC, reducing_gap=2.0)
        return bounded

    def caption_batch(self, images: Sequence[Image.Image | np.ndarray], settings: GenerationSettings) -> list[str]:
        """Caption a batch of images or ``prepare`` outputs; the prompt is not repeated in the text.

        A batch that runs out of memory is halved and retried, and later batches stay at
        the size that fitted; only a single image that does not fit raises.
        """
        import torch

        self.load()
        largest = self._largest_batch
        if largest is not None and len(images) > largest:
            return [
                caption
                for start in range(0, len(images), largest)
                for caption in self.caption_batch(images[start : start + largest], settings)
            ]
        try:
            staged = self._stage(images)  # on a GPU, copied on a side stream while the model is busy
            # The one model thread: jobs running side by side share the model, a batch at a time.
            return on_model_thread(self._caption_once, images, settings, staged)
        except torch.OutOfMemoryError:
            if len(images) <= 1:
                raise
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            half = len(images) // 2
            self._largest_batch = half
            log.warning("out of memory at batch %d; continuing with batches of %d", len(images), half)
            return self.caption_batch(images[:half], settings) + self.caption_batch(images[half:], settings)

    def _stage(self, images: Sequence[Image.Image | np.ndarray]) -> StagedPixels | None:
        """On CUDA, the batch's pixels on their way to the GPU (caller's thread); None elsewhere."""
        import torch

        if self._pixels is None or self._copy_stream is None or not images:
            return None  # a CPU batch is made on the model thread (one OpenMP team: see model_thread)
        dtype = getattr(torch, self.dtype or "float32")
        return self._pixels.stage_on_gpu(self._pixels.arrays(images), self._model.device, dtype, self._copy_stream)

    def _caption_once(
        self,
        images: Sequence[Image.Image | np.ndarray],
        settings: GenerationSettings,
        staged: StagedPixels | None = None,
    ) -> list[str]:
        """One ``generate`` call for the whole batch (its pixels already ``staged`` on a GPU)."""
        import torch

        if not images:
            return []
        dtype = getattr(torch, self.dtype or "float32")
        device = self._model.device
        if self._pixels is not None:
            if staged is not None:
                pixel_values = staged.ready()
            else:
                pixel_values = self._pixels.to_tensor(self._pixels.arrays(images), device, dtype)
            inputs = {"pixel_values": pixel_values}
            if settings.prompt:
                inputs |= self._prompt_tensors(settings.prompt, len(images), device)
        else:
            texts = [settings.prompt] * len(images) if settings.prompt else None
            encoded = self._processor(images=list(images), text=texts, return_tensors="pt")
            inputs = {
                key: value.to(device, dtype=dtype) if key == "pixel_values" else value.to(device)
                for key, value in encoded.items()
                if key in ("pixel_values", "input_ids", "attention_mask")
            }
        generate_kwargs: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens,
            "num_beams": settings.num_beams,
            "do_sample": False,
        }
        if settings.min_new_tokens is not None:
            generate_kwargs["min_new_tokens"] = settings.min_new_tokens
        # BLIP's generate() hands over to its text decoder, whose own generation config would
        # drop the folder's suppressed tokens: pass them on explicitly.
        suppressed = getattr(self._model.generation_config, "suppress_tokens", None)
        if suppressed:
            generate_kwargs["suppress_tokens"] = list(suppressed)
        with torch.inference_mode():
            if self._static is not None and static_supports(self._model, settings.num_beams, settings.prompt):
                sequences = self._static.generate(
                    inputs["pixel_values"], settings.max_new_tokens, settings.min_new_tokens, suppressed or ()
                )
            else:
                sequences = self._model.generate(**inputs, **generate_kwargs)
        prompt_length = self._prompt_length(inputs)
        return [
            text.strip()
            for text in self._processor.batch_decode(sequences[:, prompt_length:], skip_special_tokens=True)
        ]

    def _prompt_tensors(self, prompt: str, count: int, device: Any) -> dict[str, Any]:
        """``input_ids`` and ``attention_mask`` for ``count`` copies of the prompt."""
        # BLIP-2's processor puts its image-token prefix before the prompt only when it is
        # given images; a 1 px stand-in per row costs next to nothing and keeps that logic theirs.
        blanks = [Image.new("RGB", (1, 1))] * count if self.family == "blip-2" else None
        encoded = self._processor(images=blanks, text=[prompt] * count, return_tensors="pt")
        return {name: encoded[name].to(device) for name in ("input_ids", "attention_mask") if name in encoded}

    def _prompt_length(self, inputs: dict[str, Any]) -> int:
        """Where the new tokens start in ``generate``'s output."""
        if self.family == "blip-2":
            # Decoder-only LM: the output repeats the input (query image tokens, BOS, prompt).
            if "input_ids" in inputs:
                return int(inputs["input_ids"].shape[1])
            return int(self._model.config.num_query_tokens) + 1
        # BLIP: BOS plus the prompt tokens; the prompt's final [SEP] is dropped.
        return int(inputs["input_ids"].shape[1]) - 1 if "input_ids" in inputs else 1

    def describe(self) -> dict[str, Any]:
        """Model id, family, device, dtype and backend (resolved once loaded)."""
        backend = self.plan.label if self.plan else ("torch" if self.device else None)
        return {
            "id": self.model_id,
            "device": self.device,
            "dtype": self.dtype,
            "family": self.family,
            "backend": backend,
            "attention": self.attention,
            "decoder": "static" if self._static is not None else ("generate" if self.device else None),
        }


def _has_accelerate() -> bool:
    try:
        import accelerate  # noqa: F401
    except ImportError:
        return False
    return True


def blip_captioner(spec: CaptionerSpec) -> BlipCaptioner:
    """A BLIP or BLIP-2 captioner for a spec (its family is read from config.json when it loads)."""
    return BlipCaptioner(spec.model, spec.device, spec.dtype, spec.backend, spec.quantize, spec.attention, spec.decoder)


register(CaptionerKind("blip", frozenset({"blip"}), blip_captioner))
register(CaptionerKind("blip-2", frozenset({"blip-2"}), blip_captioner))
