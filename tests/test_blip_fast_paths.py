"""Issue 26 on the CPU: SDPA attention and the static decoder give eager ``generate``'s captions.

The tiny random BLIP (fixtures) stands for the architecture; the CUDA graph of the decoding step
is checked against the same step without a graph where a GPU is present (never in CI).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest
import torch

from captioning import BlipCaptioner, GenerationSettings
from captioning.blip_attention import use_sdpa, uses_sdpa
from captioning.blip_decoder import StaticDecoder, supports
from options import AuditOptions, OptionsError


@pytest.fixture(scope="module")
def eager_model(tiny_blip_dir: Path):
    from transformers import BlipForConditionalGeneration

    return BlipForConditionalGeneration.from_pretrained(tiny_blip_dir).eval()


@pytest.fixture(scope="module")
def pixels(eager_model) -> torch.Tensor:
    side = eager_model.config.vision_config.image_size
    return torch.randn(12, 3, side, side, generator=torch.Generator().manual_seed(7))


def greedy(model, pixels: torch.Tensor, **settings: object) -> torch.Tensor:
    with torch.inference_mode():
        return model.generate(pixel_values=pixels, num_beams=1, do_sample=False, **settings)


def test_sdpa_matches_eager_attention(eager_model, pixels: torch.Tensor) -> None:
    fast = copy.deepcopy(eager_model)
    changed = use_sdpa(fast)
    layers = eager_model.config.text_config.num_hidden_layers
    assert changed == {"vision": eager_model.config.vision_config.num_hidden_layers, "text": 2 * layers}
    assert uses_sdpa(fast) and not uses_sdpa(eager_model)  # one model changed, nothing global
    with torch.inference_mode():
        expected = eager_model.vision_model(pixel_values=pixels)[0]
        got = fast.vision_model(pixel_values=pixels)[0]
        assert (got - expected).abs().max() <= 1e-5 * expected.abs().max()
        ids = torch.tensor([[eager_model.config.text_config.bos_token_id, 5, 9, 11]] * len(pixels))
        eager_logits = eager_model.text_decoder(input_ids=ids, encoder_hidden_states=expected).logits
        fast_logits = fast.text_decoder(input_ids=ids, encoder_hidden_states=got).logits
        assert (fast_logits - eager_logits).abs().max() <= 1e-4 * eager_logits.abs().max()
    assert torch.equal(greedy(fast, pixels, max_new_tokens=12), greedy(eager_model, pixels, max_new_tokens=12))


def test_an_unknown_layout_keeps_eager_attention(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="altscout"):
        assert use_sdpa(torch.nn.Sequential(torch.nn.Linear(2, 2))) == {"vision": 0, "text": 0}
    assert "keeping eager attention" in caplog.text


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_the_static_decoder_gives_generates_tokens(eager_model, pixels: torch.Tensor, attention: str) -> None:
    model = copy.deepcopy(eager_model)
    if attention == "sdpa":
        use_sdpa(model)
    decoder = StaticDecoder(model)
    suppress = [7, 8]
    with torch.inference_mode():
        for settings in ({"max_new_tokens": 12}, {"max_new_tokens": 9, "min_new_tokens": 9}, {"max_new_tokens": 1}):
            expected = greedy(eager_model, pixels, **settings)
            got = decoder.generate(pixels, settings["max_new_tokens"], settings.get("min_new_tokens"))
            assert torch.equal(got, expected), settings
        expected = greedy(eager_model, pixels, max_new_tokens=10, suppress_tokens=suppress)
        assert torch.equal(decoder.generate(pixels, 10, None, suppress), expected)
    ended = [row for row in expected.tolist() if model.config.text_config.sep_token_id in row[1:-1]]
    assert ended, "the fixture batch should have a caption that ends early (padded after EOS)"


def test_shared_buffers_give_generates_tokens_at_every_batch_size(eager_model, pixels: torch.Tensor) -> None:
    """The buffers a CUDA graph replays, kept across batches: a batch runs at its bucket's rows on views
    of one set (the extra rows ignored), which grows when a larger bucket comes, with the same tokens."""
    from captioning.blip_decoder import bucket

    assert [bucket(n) for n in (1, 3, 5, 8, 33, 64, 65, 200, 1024)] == [1, 4, 8, 8, 64, 64, 128, 256, 1024]
    decoder = StaticDecoder(eager_model, shared_buffers=True)
    with torch.inference_mode():
        first = None
        for rows in (len(pixels), 3, len(pixels) - 1, 1, len(pixels)):
            expected = greedy(eager_model, pixels[:rows], max_new_tokens=10)
            assert torch.equal(decoder.generate(pixels[:rows], 10), expected), rows
            arena = decoder._arena
            first = first or arena.image_keys[0].data_ptr()
            assert arena.batch == bucket(len(pixels)) and arena.image_keys[0].data_ptr() == first  # one set
        decoder.generate(pixels[:3], 6)  # another caption length: a new set
        assert decoder._arena.length == 7


def test_the_image_keys_and_values_are_computed_once_per_batch(eager_model, pixels: torch.Tensor) -> None:
    decoder = StaticDecoder(eager_model)
    calls = {"cross_key": 0, "self_key": 0}

    def counting(name: str):
        return lambda *_: calls.update({name: calls[name] + 1})

    hooks = []
    for layer in eager_model.text_decoder.bert.encoder.layer:
        hooks.append(layer.crossattention.self.key.register_forward_hook(counting("cross_key")))
        hooks.append(layer.attention.self.key.register_forward_hook(counting("self_key")))
    try:
        with torch.inference_mode():
            tokens = decoder.generate(pixels, 8, 8)
    finally:
        for hook in hooks:
            hook.remove()
    layers = len(eager_model.text_decoder.bert.encoder.layer)
    assert tokens.shape == (len(pixels), 9)
    assert calls == {"cross_key": layers, "self_key": 8 * layers}  # the image once; one token a step


def test_what_the_static_decoder_covers(eager_model) -> None:
    assert supports(eager_model, 1, None)
    assert not supports(eager_model, 3, None) and not supports(eager_model, 1, "a photo of")
    assert not supports(torch.nn.Linear(2, 2), 1, None)


def test_the_captioner_with_sdpa_and_static_decoding_writes_eager_captions(tiny_blip_dir: Path) -> None:
    from PIL import Image

    images = [Image.new("RGB", (64 + 9 * i, 48), (30 * i % 256, 120, 200 - 15 * i)) for i in range(8)]
    settings = GenerationSettings(max_new_tokens=10)
    eager = BlipCaptioner(str(tiny_blip_dir), "cpu", "float32", backend="torch", attention="eager", decoder="generate")
    fast = BlipCaptioner(str(tiny_blip_dir), "cpu", "float32", backend="torch", attention="auto", decoder="static")
    expected = eager.caption_batch([eager.prepare(image) for image in images], settings)
    got = fast.caption_batch([fast.prepare(image) for image in images], settings)
    assert got == expected
    assert eager.describe()["attention"] == "eager" and eager.describe()["decoder"] == "generate"
    assert fast.describe()["attention"] == "sdpa" and fast.describe()["decoder"] == "static"
    prompted = fast.caption_batch([fast.prepare(images[0])], GenerationSettings(max_new_tokens=6, prompt="a"))
    assert prompted == eager.caption_batch([eager.prepare(images[0])], GenerationSettings(max_new_tokens=6, prompt="a"))


def test_attention_and_decoder_options_are_checked() -> None:
    assert AuditOptions().captioner_spec.attention == "auto" and AuditOptions().captioner_spec.decoder == "auto"
    with pytest.raises(OptionsError, match="attention must be one of auto, sdpa, eager"):
        AuditOptions(attention="flash")
    with pytest.raises(OptionsError, match="decoder must be one of auto, static, generate"):
        AuditOptions(decoder="graphs")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU (CI has none)")
def test_the_cuda_graph_step_gives_the_same_tokens(tiny_blip_dir: Path) -> None:
    from transformers import BlipForConditionalGeneration

    model = BlipForConditionalGeneration.from_pretrained(tiny_blip_dir).eval().to("cuda")
    use_sdpa(model)
    side = model.config.vision_config.image_size
    pixels = torch.randn(8, 3, side, side, generator=torch.Generator().manual_seed(7)).to("cuda")
    plain, graphed = StaticDecoder(model), StaticDecoder(model, graphs=True)
    with torch.inference_mode():
        expected = plain.generate(pixels, 10, 10)
        assert torch.equal(graphed.generate(pixels, 10, 10), expected)
        assert torch.equal(graphed.generate(pixels, 10, 10), expected)  # replayed with a new batch's buffers
        for rows in (5, 3, 8, 1):  # buckets 8, 4, 8, 1: graphs share one set of buffers
            assert torch.equal(graphed.generate(pixels[:rows], 10, 10), plain.generate(pixels[:rows], 10, 10)), rows
        assert sorted(graphed._captured) == [1, 4, 8]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the side-stream copy needs a CUDA GPU (CI has none)")
def test_pixels_staged_from_another_thread_match_the_inline_copy() -> None:
    import threading

    import numpy as np
    from transformers.models.blip import BlipImageProcessorPil

    from captioning.pixels import PixelRecipe

    recipe = PixelRecipe.from_processor(BlipImageProcessorPil())
    assert recipe is not None
    rng = np.random.default_rng(3)
    arrays = [rng.integers(0, 256, (384, 384, 3), dtype=np.uint8) for _ in range(16)]
    expected = recipe.to_tensor(arrays, "cuda", torch.float16)
    stream, staged = torch.cuda.Stream(), []
    worker = threading.Thread(target=lambda: staged.append(recipe.stage_on_gpu(arrays, "cuda", torch.float16, stream)))
    worker.start()
    worker.join()
    assert torch.equal(staged[0].ready(), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the side-stream copy needs a CUDA GPU (CI has none)")
def test_batches_staged_side_by_side_on_a_gpu_give_the_sequential_captions(tiny_blip_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    images = [Image.new("RGB", (64 + 9 * i, 48), (30 * i % 256, 120, 200 - 15 * i)) for i in range(16)]
    settings = GenerationSettings(max_new_tokens=10)
    captioner = BlipCaptioner(str(tiny_blip_dir), "cuda", "float32", backend="torch")
    inputs = [captioner.prepare(image) for image in images]
    expected = [caption for start in (0, 8) for caption in captioner.caption_batch(inputs[start : start + 8], settings)]
    with ThreadPoolExecutor(2) as pool:  # as the engine sends them: the second staged while the first runs
        halves = list(pool.map(lambda start: captioner.caption_batch(inputs[start : start + 8], settings), (0, 8)))
    assert halves[0] + halves[1] == expected
    assert captioner.describe()["decoder"] == "static"
