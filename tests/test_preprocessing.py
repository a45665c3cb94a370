"""Preprocessing in the download threads, GPU batch sizing, and out-of-memory halving."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import FakeCaptioner, FixtureServer, make_image
from PIL import Image
from transformers.models.blip import BlipImageProcessorPil

from captioning import BlipCaptioner, GenerationSettings
from captioning.base import bytes_per_image, device_batch_size
from captioning.pixels import PixelRecipe
from options import AuditOptions
from pipeline import run_audit


def photos() -> list[Image.Image]:
    """Assorted sizes and aspect ratios, larger and smaller than the model's input."""
    sizes = [(200, 150), (384, 384), (1000, 300), (90, 700), (768, 512)]
    return [Image.open(io.BytesIO(make_image(w, h, seed=seed))).convert("RGB") for seed, (w, h) in enumerate(sizes)]


def test_recipe_matches_the_processor_exactly() -> None:
    processor = BlipImageProcessorPil()  # BLIP-base: 384 px, bicubic, CLIP mean and std
    recipe = PixelRecipe.from_processor(processor)
    assert recipe is not None and (recipe.height, recipe.width) == (384, 384)
    images = photos()
    expected = processor(images=images, return_tensors="pt")["pixel_values"]
    arrays = [recipe.to_array(image) for image in images]
    assert all(array.dtype == np.uint8 and array.shape == (384, 384, 3) for array in arrays)
    got = recipe.to_tensor(arrays, "cpu", torch.float32)
    assert got.shape == expected.shape == (5, 3, 384, 384)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0)
    assert recipe.to_tensor(arrays[:1], "cpu", torch.bfloat16).dtype == torch.bfloat16


def test_recipe_refuses_what_it_cannot_copy() -> None:
    assert PixelRecipe.from_processor(BlipImageProcessorPil(do_center_crop=True, crop_size=300)) is None
    assert PixelRecipe.from_processor(BlipImageProcessorPil(size={"shortest_edge": 300})) is None
    assert PixelRecipe.from_processor(BlipImageProcessorPil(do_normalize=False)) is None
    assert PixelRecipe.from_processor(SimpleNamespace()) is None
    assert PixelRecipe.from_processor(BlipImageProcessorPil(resample="bicubic")) is None


@pytest.fixture()
def tiny(tiny_blip_dir: Path) -> BlipCaptioner:
    captioner = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32")
    captioner.load()
    return captioner


def test_prepared_inputs_give_the_processors_captions(tiny: BlipCaptioner) -> None:
    images = photos()
    settings = GenerationSettings(max_new_tokens=6, min_new_tokens=6)
    prompted = GenerationSettings(max_new_tokens=4, min_new_tokens=4, prompt="a picture of")
    prepared = [tiny.prepare(image) for image in images]
    assert all(isinstance(item, np.ndarray) and item.shape == (32, 32, 3) for item in prepared)
    fast = tiny.caption_batch(prepared, settings), tiny.caption_batch(prepared, prompted)
    tiny._pixels = None  # the processor's own path, as for a processor the recipe cannot copy
    assert tiny.prepare(images[0]) is images[0]
    assert tiny.prepare(Image.new("RGB", (2000, 1000))).size == (768, 384)  # bounded while it waits
    assert (tiny.caption_batch(images, settings), tiny.caption_batch(images, prompted)) == fast
    assert len(set(fast[0])) > 1


def test_blip2_prompt_with_prepared_inputs(tiny_blip2_dir: Path) -> None:
    captioner = BlipCaptioner(str(tiny_blip2_dir), device="cpu", dtype="float32")
    captioner.load()
    images = photos()[:3]
    settings = GenerationSettings(max_new_tokens=4, min_new_tokens=4, prompt="a dog")
    fast = captioner.caption_batch([captioner.prepare(image) for image in images], settings)
    captioner._pixels = None
    assert captioner.caption_batch(images, settings) == fast


def test_out_of_memory_halves_the_batch_and_remembers(tiny: BlipCaptioner, monkeypatch: pytest.MonkeyPatch) -> None:
    images = [tiny.prepare(image) for image in photos()] * 2  # ten images
    settings = GenerationSettings(max_new_tokens=5, min_new_tokens=5)
    expected = tiny.caption_batch(images, settings)
    real_generate = tiny._model.generate
    sizes: list[int] = []

    def small_memory(**kwargs):  # type: ignore[no-untyped-def]
        sizes.append(int(kwargs["pixel_values"].shape[0]))
        if sizes[-1] > 3:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_generate(**kwargs)

    monkeypatch.setattr(tiny._model, "generate", small_memory)
    assert tiny.caption_batch(images, settings) == expected
    assert sizes[:3] == [10, 5, 2] and tiny._largest_batch == 2
    sizes.clear()
    assert tiny.caption_batch(images[:4], settings) == expected[:4]
    assert sizes == [2, 2]  # the size that fitted is kept
    monkeypatch.setattr(tiny._model, "generate", lambda **kwargs: (_ for _ in ()).throw(torch.OutOfMemoryError()))
    with pytest.raises(torch.OutOfMemoryError):
        tiny.caption_batch(images[:1], settings)


def test_gpu_batch_is_sized_to_free_memory() -> None:
    from transformers import Blip2Config, BlipConfig

    per_image = bytes_per_image(BlipConfig(), dtype_bytes=2)  # BLIP-base, fp16
    assert 24 * 1024**2 < per_image < 100e6  # above the 23.8 MiB an H100 measured
    assert bytes_per_image(BlipConfig(), dtype_bytes=4) == 2 * per_image
    assert 0 < bytes_per_image(Blip2Config(), dtype_bytes=2) < 1e9  # BLIP-2's configs have the same fields
    gib = 1024**3
    assert device_batch_size(75 * gib, per_image) == 1024  # H100, 80 GB: measured 23.7 GiB at 1,024
    assert device_batch_size(135 * gib, per_image) == 1024  # H200, capped
    assert device_batch_size(20 * gib, per_image) == 256
    assert device_batch_size(1 * gib, per_image) == 16  # floor; out-of-memory halving takes over
    size = device_batch_size(75 * gib, per_image)
    assert size & (size - 1) == 0


def test_pipeline_preprocesses_in_download_threads(server: FixtureServer) -> None:
    for i in range(6):
        server.add(f"/pp/{i}.png", make_image(300, 200, seed=i), content_type="image/png")
    server.add("/pp/page.html", "".join(f"<img src='{i}.png' alt='x'>" for i in range(6)))
    captioner = FakeCaptioner()
    report = run_audit([server.url("/pp/page.html")], AuditOptions(render="never", allow_private=True), captioner)
    assert report.summary()["captioned"] == 6
    assert captioner.prepared_in and all(name.startswith("altscout-dl") for name in captioner.prepared_in)
