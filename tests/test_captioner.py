"""BLIP captioning on the tiny random model, loaded through the real from_pretrained path."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import make_image
from PIL import Image

from captioning import (
    BlipCaptioner,
    CaptionerSpec,
    GenerationSettings,
    ModelLoadError,
    clean_caption,
    get_captioner,
    resolve_model_id,
)
from captioning.base import resolve_dtype


def pictures(n: int) -> list[Image.Image]:
    return [Image.open(io.BytesIO(make_image(200, 150, seed=seed))).convert("RGB") for seed in range(n)]


@pytest.fixture(scope="module")
def tiny(tiny_blip_dir: Path) -> BlipCaptioner:
    captioner = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32")
    captioner.load()
    return captioner


def test_loads_once_and_describes_itself(tiny: BlipCaptioner, tiny_blip_dir: Path) -> None:
    model = tiny._model
    tiny.load()
    assert tiny._model is model
    described = tiny.describe()
    assert described.pop("backend") in ("torch", "openvino", "onnxruntime")  # measured on this CPU
    assert described == {
        "id": str(tiny_blip_dir), "device": "cpu", "dtype": "float32", "family": "blip", "attention": "sdpa",
        "decoder": "generate",
    }  # fmt: skip
    spec = CaptionerSpec(str(tiny_blip_dir), "cpu", "float32")
    assert get_captioner(spec) is get_captioner(CaptionerSpec(str(tiny_blip_dir), "cpu", "float32"))


def test_model_work_runs_on_one_thread(tiny_blip_dir: Path) -> None:
    """Loading and every caption run on the process's model thread, whichever thread asks (PyTorch's
    thread teams of two calling threads compete for the cores)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from captioning.model_thread import model_thread_id, on_model_thread

    captioner = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", backend="torch")
    with ThreadPoolExecutor(1) as loader:
        loader.submit(captioner.load).result()
    seen: list[int] = []
    generate = captioner._model.generate

    def recording(*args: object, **kwargs: object) -> object:
        seen.append(threading.get_ident())
        return generate(*args, **kwargs)

    captioner._model.generate = recording
    settings = GenerationSettings(max_new_tokens=3)
    with ThreadPoolExecutor(2) as callers:
        list(callers.map(lambda image: captioner.caption_batch([image], settings), pictures(4)))
    captioner.caption_batch(pictures(1), settings)
    assert len(seen) == 5 and set(seen) == {model_thread_id()} != {threading.get_ident()}
    with pytest.raises(ZeroDivisionError):  # a failure reaches the caller
        on_model_thread(lambda: 1 // 0)
    assert on_model_thread(on_model_thread, threading.get_ident) == model_thread_id()  # no deadlock inside


def test_cpu_batch_size_follows_the_dtype(tiny_blip_dir: Path, tiny: BlipCaptioner) -> None:
    bf16 = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="bfloat16", backend="torch")
    assert bf16.default_batch_size == 8  # not loaded: the dtype is not known yet
    bf16.load()
    assert (bf16.default_batch_size, tiny.default_batch_size) == (16, 8)


def test_batching_does_not_change_captions(tiny: BlipCaptioner) -> None:
    images = pictures(8)
    settings = GenerationSettings(max_new_tokens=8)
    one_by_one = [tiny.caption_batch([image], settings)[0] for image in images]
    in_fours = tiny.caption_batch(images[:4], settings) + tiny.caption_batch(images[4:], settings)
    assert in_fours == one_by_one
    assert len(set(one_by_one)) > 1, "the tiny model should give image-dependent captions"


def test_fixed_length_and_prompt_not_repeated(tiny: BlipCaptioner, monkeypatch: pytest.MonkeyPatch) -> None:
    shapes: list[tuple[int, int]] = []
    real_generate = tiny._model.generate

    def spy(**kwargs):  # type: ignore[no-untyped-def]
        out = real_generate(**kwargs)
        shapes.append((kwargs["input_ids"].shape[1] if "input_ids" in kwargs else 0, out.shape[1]))
        return out

    monkeypatch.setattr(tiny._model, "generate", spy)
    tiny.caption_batch(pictures(2), GenerationSettings(max_new_tokens=6, min_new_tokens=6))
    assert shapes[-1] == (0, 1 + 6)  # BOS plus exactly six new tokens
    prompt = "a picture of"
    prompted = tiny.caption_batch(pictures(2), GenerationSettings(max_new_tokens=4, min_new_tokens=4, prompt=prompt))
    prompt_ids = tiny._processor.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert shapes[-1] == (len(prompt_ids) + 2, 1 + len(prompt_ids) + 4)
    for caption in prompted:
        assert len(tiny._processor.tokenizer(caption, add_special_tokens=False)["input_ids"]) <= 4


def test_unknown_model_gives_one_clear_sentence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for model in (str(tmp_path / "nothing-here"), "no-such-org/no-such-model"):
        with pytest.raises(ModelLoadError) as caught:
            BlipCaptioner(model, device="cpu").load()
        message = str(caught.value)
        assert model in message and "--model" in message and "\n" not in message
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError):
        BlipCaptioner(str(tmp_path / "broken"), device="cpu").load()


def test_aliases_and_dtype_choice() -> None:
    assert resolve_model_id("base") == "Salesforce/blip-image-captioning-base"
    assert resolve_model_id("large") == "Salesforce/blip-image-captioning-large"
    assert resolve_model_id("./models/x") == "./models/x"
    assert resolve_dtype("auto", "cuda") == "float16"
    assert resolve_dtype("auto", "cpu") == "float32"  # bfloat16 only by measurement (captioning/accel.py)
    assert resolve_dtype("float32", "cuda") == "float32"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("arafed man sitting on a bench", "man sitting on a bench"),
        ("there is a araffe woman in the the kitchen", "there is a woman in the kitchen"),
        ("an arafed elephant", "an elephant"),
        ("a man in a uniform", "a man in a uniform"),
        ("a dog  , running", "a dog, running"),
        ("two dogs dogs dogs playing", "two dogs playing"),
    ],
)
def test_clean_caption(raw: str, clean: str) -> None:
    assert clean_caption(raw) == clean


def test_prepare_without_the_model_reads_only_the_processor(tiny_blip_dir: Path, tmp_path: Path) -> None:
    """The Ray engine's image actors: prepare() loads the processor alone; a non-BLIP model is one sentence."""
    captioner = BlipCaptioner(str(tiny_blip_dir), device="cpu")
    pixels = captioner.prepare(Image.new("RGB", (64, 48), (200, 30, 30)))
    assert captioner._model is None and getattr(pixels, "shape", None) is not None
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelLoadError, match="is a 'bert' model, not a BLIP"):
        BlipCaptioner(str(tmp_path / "bert"), device="cpu").prepare(Image.new("RGB", (64, 48)))


def test_captioners_register_themselves_and_are_found_by_model(tiny_blip_dir: Path, tiny_blip2_dir: Path) -> None:
    from conftest import FakeCaptioner

    from captioning.registry import kind_for, kinds

    assert {"blip", "blip-2", "fake"} <= set(kinds())
    assert kind_for(str(tiny_blip_dir)).name == "blip" and kind_for(str(tiny_blip2_dir)).name == "blip-2"
    assert kind_for("Salesforce/blip-image-captioning-large").name == "blip"  # a hub id: BLIP reads its config
    fake = get_captioner(CaptionerSpec("fake"))
    assert isinstance(fake, FakeCaptioner) and get_captioner(CaptionerSpec("fake")) is fake
