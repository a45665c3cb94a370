"""The BLIP image processor's work, split so the heavy part runs in download threads.

``PixelRecipe.to_array`` (Pillow resize to the model's input size, uint8) runs in worker
threads next to decoding; ``PixelRecipe.to_tensor`` stacks a batch, moves the uint8 pixels to
the model's device (4x fewer bytes than float32) and rescales and normalises there. The result
matches the processor's own PIL backend, which resizes the same uint8 image with Pillow. On a
GPU, ``PixelRecipe.stage_on_gpu`` does the same on a side stream from the caller's thread, so a
batch's copy overlaps the previous batch's compute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class PixelRecipe:
    """Resize to ``height`` x ``width`` with ``resample``, then ``(x * scale - mean) / std``."""

    height: int
    width: int
    resample: int
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_processor(cls, image_processor: Any) -> PixelRecipe | None:
        """The recipe of a BLIP image processor, or None when it does something this cannot copy."""
        size = getattr(image_processor, "size", None)
        height, width = _get(size, "height"), _get(size, "width")
        mean, std = getattr(image_processor, "image_mean", None), getattr(image_processor, "image_std", None)
        if (
            not getattr(image_processor, "do_resize", False)
            or not getattr(image_processor, "do_normalize", False)
            or getattr(image_processor, "do_center_crop", False)
            or getattr(image_processor, "do_pad", False)
            or not isinstance(height, int)
            or not isinstance(width, int)
            or mean is None
            or std is None
            or len(mean) != 3
            or len(std) != 3
        ):
            return None
        do_rescale = getattr(image_processor, "do_rescale", True)
        scale = float(getattr(image_processor, "rescale_factor", 1 / 255)) if do_rescale else 1.0
        resample = getattr(image_processor, "resample", None)
        try:
            resample = Image.Resampling(int(resample if resample is not None else Image.Resampling.BILINEAR))
        except (TypeError, ValueError):  # e.g. a torchvision InterpolationMode: leave it to the processor
            return None
        return cls(
            height=height,
            width=width,
            resample=int(resample),
            scale=scale,
            mean=(float(mean[0]), float(mean[1]), float(mean[2])),
            std=(float(std[0]), float(std[1]), float(std[2])),
        )

    def to_array(self, image: Image.Image) -> np.ndarray:
        """One RGB image resized to the model's input size: uint8, height x width x 3."""
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        if rgb.size != (self.width, self.height):
            rgb = rgb.resize((self.width, self.height), resample=Image.Resampling(self.resample))
        return np.asarray(rgb, dtype=np.uint8)

    def arrays(self, images: Sequence[Image.Image | np.ndarray]) -> list[np.ndarray]:
        """``to_array`` of each image not yet prepared (a batch may mix both)."""
        return [item if isinstance(item, np.ndarray) else self.to_array(item) for item in images]

    def to_tensor(self, arrays: Sequence[np.ndarray], device: Any, dtype: Any) -> Any:
        """A batch of ``to_array`` outputs as normalised ``pixel_values`` (N, 3, H, W) on ``device``."""
        import torch

        batch = torch.from_numpy(np.stack(arrays))
        on_gpu = torch.device(device).type == "cuda"
        if on_gpu:
            batch = batch.pin_memory()
        return self._normalise(batch.to(device, non_blocking=on_gpu), dtype)

    def stage_on_gpu(self, arrays: Sequence[np.ndarray], device: Any, dtype: Any, stream: Any) -> StagedPixels:
        """``to_tensor`` on a CUDA side ``stream``, from any thread, without waiting for the copy.

        The batch is stacked straight into pinned memory by NumPy (no PyTorch CPU kernel runs
        here, so no second OpenMP team: see ``model_thread``), copied and normalised on
        ``stream``; :meth:`StagedPixels.ready` makes the model's stream wait for it. So the next
        batch's copy overlaps the running batch's compute.
        """
        import torch

        host = torch.empty((len(arrays), self.height, self.width, 3), dtype=torch.uint8, pin_memory=True)
        np.stack(arrays, out=host.numpy())
        with torch.cuda.stream(stream):
            pixels = self._normalise(host.to(device, non_blocking=True), dtype)
            copied = stream.record_event()
        return StagedPixels(pixels, copied)

    def _normalise(self, batch: Any, dtype: Any) -> Any:
        """uint8 (N, H, W, 3) on the device to normalised (N, 3, H, W) ``dtype``."""
        import torch

        batch = batch.permute(0, 3, 1, 2).to(torch.float32)
        mean = torch.tensor(self.mean, device=batch.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=batch.device).view(1, 3, 1, 1)
        return ((batch * self.scale - mean) / std).to(dtype).contiguous()


@dataclass(frozen=True)
class StagedPixels:
    """A batch's ``pixel_values`` being copied on a side stream, and the event that ends the copy."""

    pixels: Any
    copied: Any

    def ready(self) -> Any:
        """The pixels, once the current stream has been told to wait for their copy (model thread)."""
        import torch

        current = torch.cuda.current_stream(self.pixels.device)
        current.wait_event(self.copied)
        self.pixels.record_stream(current)  # the allocator keeps them until the model's stream is done
        return self.pixels


def _get(size: Any, key: str) -> Any:
    """A field of a transformers ``SizeDict`` or a plain dict."""
    if isinstance(size, dict):
        return size.get(key)
    return getattr(size, key, None)
