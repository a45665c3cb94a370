"""CPU backends: the exported encoder gives PyTorch's captions, its cache is never trusted blindly,
and choices come from measurements (tiny random BLIP, real exporter, real OpenVINO and ONNX Runtime)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import make_image
from PIL import Image

import captioning.accel as accel
import captioning.export as export
from captioning import BlipCaptioner, GenerationSettings, ModelLoadError
from captioning.accel import CpuPlan, choose, probe_pixels, relative_error
from captioning.export import GRAPH, MANIFEST, ExportCache
from captioning.runtimes import open_runtime, runtime_installed
from options import AuditOptions, OptionsError

RUNTIMES = [name for name in ("openvino", "onnxruntime") if runtime_installed(name)]
SETTINGS = GenerationSettings(max_new_tokens=8)


def pictures(n: int) -> list[Image.Image]:
    return [Image.open(io.BytesIO(make_image(160 + 7 * seed, 120, seed=seed))).convert("RGB") for seed in range(n)]


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder of this test alone."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("ALTSCOUT_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def torch_captions(tiny_blip_dir: Path) -> dict[str, list[str]]:
    """The PyTorch float32 captions every backend must reproduce."""
    reference = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", backend="torch")
    images = pictures(12)
    prompted = GenerationSettings(max_new_tokens=6, min_new_tokens=6, prompt="a picture of")
    return {
        "plain": reference.caption_batch(images, SETTINGS),
        "prompted": reference.caption_batch(images, prompted),
        "fixed": reference.caption_batch(images, GenerationSettings(max_new_tokens=10, min_new_tokens=10)),
    }


def test_ci_has_both_runtimes() -> None:
    assert RUNTIMES == ["openvino", "onnxruntime"], "requirements.txt installs OpenVINO and ONNX Runtime"


@pytest.mark.parametrize("backend", RUNTIMES)
def test_exported_encoder_gives_pytorch_captions(
    backend: str, tiny_blip_dir: Path, torch_captions: dict[str, list[str]], cache_dir: Path
) -> None:
    captioner = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", backend=backend)
    images = pictures(12)
    assert captioner.caption_batch(images, SETTINGS) == torch_captions["plain"]
    assert len(set(torch_captions["plain"])) > 3, "the tiny model's captions depend on the image"
    prompted = GenerationSettings(max_new_tokens=6, min_new_tokens=6, prompt="a picture of")
    assert captioner.caption_batch(images, prompted) == torch_captions["prompted"]
    in_threes = [c for i in range(0, 12, 3) for c in captioner.caption_batch(images[i : i + 3], SETTINGS)]
    assert in_threes == torch_captions["plain"]
    assert captioner.describe()["backend"] == backend
    assert captioner.plan is not None and captioner.plan.dtype == "float32"
    assert (cache_dir / "export").is_dir()


@pytest.mark.parametrize("backend", RUNTIMES)
def test_encoder_outputs_agree_to_1e4(backend: str, tiny_blip_dir: Path, cache_dir: Path) -> None:
    import torch
    from transformers import BlipForConditionalGeneration

    model = BlipForConditionalGeneration.from_pretrained(tiny_blip_dir).eval()
    graph = ExportCache().vision_graph(model, str(tiny_blip_dir))
    runtime = open_runtime(backend, graph, "float32", 2)
    pixels = np.concatenate([probe_pixels(32, 5), np.zeros((1, 3, 32, 32), np.float32)])
    with torch.inference_mode():
        expected = model.vision_model(pixel_values=torch.from_numpy(pixels))[0].numpy()
    for batch in (pixels[:1], pixels):  # the graph's batch dimension is dynamic
        assert relative_error(runtime(batch), expected[: len(batch)]) < 1e-4


def test_auto_picks_a_measured_plan_and_keeps_it(
    tiny_blip_dir: Path, torch_captions: dict[str, list[str]], cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", backend="auto")
    assert first.caption_batch(pictures(12), SETTINGS) == torch_captions["plain"]
    assert first.plan is not None
    assert set(first.plan.seconds_per_image) == {"torch/float32", *(f"{name}/float32" for name in RUNTIMES)}
    assert [path.suffix for path in (cache_dir / "calibration").iterdir()] == [".json"]

    def no_measuring(*_: object) -> dict[str, float]:
        raise AssertionError("a stored calibration is reused, not measured again")

    def no_export(*_: object) -> None:
        raise AssertionError("a valid export is reused")

    opened: list[str] = []
    real_open = accel.open_runtime

    def counting_open(name: str, *args: object) -> object:
        opened.append(name)
        return real_open(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(accel, "calibrate", no_measuring)
    monkeypatch.setattr(export, "export_vision_encoder", no_export)
    monkeypatch.setattr(accel, "open_runtime", counting_open)
    second = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", backend="auto")
    second.load()
    assert second.plan is not None and second.plan.backend == first.plan.backend
    assert second.plan.seconds_per_image == first.plan.seconds_per_image
    assert opened == ([] if first.plan.backend == "torch" else [first.plan.backend]), "only the chosen runtime opens"


def test_damaged_calibration_is_measured_again(tiny_blip_dir: Path, cache_dir: Path) -> None:
    BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", backend="auto").load()
    (stored,) = (cache_dir / "calibration").iterdir()
    stored.write_text("{not json", encoding="utf-8")
    again = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", backend="auto")
    again.load()
    assert again.plan is not None and again.plan.seconds_per_image
    assert json.loads(stored.read_text(encoding="utf-8"))["seconds_per_image"] == again.plan.seconds_per_image


def count_exports(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every export (and still export)."""
    calls: list[Path] = []
    real = export.export_vision_encoder

    def counting(model: object, target: Path) -> None:
        calls.append(target)
        real(model, target)

    monkeypatch.setattr(export, "export_vision_encoder", counting)
    return calls


def load_with(tiny_blip_dir: Path, backend: str = "onnxruntime") -> BlipCaptioner:
    captioner = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", backend=backend)
    captioner.load()
    return captioner


@pytest.mark.parametrize("damage", ["truncate_weights", "flip_graph_byte", "drop_manifest", "other_versions"])
def test_corrupt_or_stale_entry_is_rebuilt(
    damage: str, tiny_blip_dir: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    exports = count_exports(monkeypatch)
    load_with(tiny_blip_dir)
    (entry,) = [path for path in (cache_dir / "export").iterdir() if not path.name.startswith(".")]
    assert len(exports) == 1 and (entry / MANIFEST).is_file()
    load_with(tiny_blip_dir)
    assert len(exports) == 1, "a sound entry is reused"
    if damage == "truncate_weights":
        data = next(path for path in entry.iterdir() if path.name.startswith(GRAPH) and path.name != GRAPH)
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif damage == "flip_graph_byte":
        raw = bytearray((entry / GRAPH).read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        (entry / GRAPH).write_bytes(bytes(raw))
    elif damage == "drop_manifest":
        (entry / MANIFEST).unlink()
    else:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
        manifest["versions"]["torch"] = "0.0.1"
        (entry / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="altscout"):
        rebuilt = load_with(tiny_blip_dir)
    assert len(exports) == 2, "the damaged entry was rebuilt"
    assert "rebuilding" in caplog.text
    assert rebuilt.describe()["backend"] == "onnxruntime"
    assert export.verify_entry(entry, ExportCache().key_material(str(tiny_blip_dir), "none")) is None


def test_changed_model_files_get_a_new_entry_and_the_old_one_goes(
    tiny_blip_dir: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_blip_dir, model)
    exports = count_exports(monkeypatch)
    load_with(model)
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    (model / "config.json").write_text(json.dumps(config, indent=3), encoding="utf-8")  # same model, new file
    load_with(model)
    assert len(exports) == 2
    entries = [path for path in (cache_dir / "export").iterdir() if not path.name.startswith(".")]
    assert len(entries) == 1, "the superseded export of the same model is removed"
    manifest = json.loads((entries[0] / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["model_id"] == str(model)
    load_with(tiny_blip_dir)  # another model's entry lives beside it
    assert len([path for path in (cache_dir / "export").iterdir() if not path.name.startswith(".")]) == 2


def test_a_graph_that_disagrees_with_pytorch_is_rebuilt_then_refused(
    tiny_blip_dir: Path,
    torch_captions: dict[str, list[str]],
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exports = count_exports(monkeypatch)
    real_open = accel.open_runtime

    def off_by_a_little(*args: object) -> object:
        runtime = real_open(*args)  # type: ignore[arg-type]
        return lambda pixels: runtime(pixels) * 1.001

    monkeypatch.setattr(accel, "open_runtime", off_by_a_little)
    with caplog.at_level(logging.WARNING, logger="altscout"):
        captioner = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", backend="onnxruntime")
        captions = captioner.caption_batch(pictures(12), SETTINGS)
    assert len(exports) == 2, "rebuilt once"
    assert "disagrees with PyTorch" in caplog.text
    assert captioner.describe()["backend"] == "torch"
    assert captions == torch_captions["plain"]


def test_exporter_failure_keeps_pytorch_with_a_log_line(
    tiny_blip_dir: Path,
    torch_captions: dict[str, list[str]],
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def cannot(*_: object) -> None:
        raise RuntimeError("unsupported operator aten::something")

    monkeypatch.setattr(export, "export_vision_encoder", cannot)
    with caplog.at_level(logging.WARNING, logger="altscout"):
        captioner = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", backend="auto")
        assert captioner.caption_batch(pictures(12), SETTINGS) == torch_captions["plain"]
    assert "could not be exported" in caplog.text and "keeps the PyTorch path" in caplog.text
    assert captioner.describe()["backend"] == "torch"
    assert not [path for path in (cache_dir / "export").iterdir() if not path.name.startswith(".")]


def test_blip2_keeps_pytorch_with_a_log_line(
    tiny_blip2_dir: Path, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="altscout"):
        captioner = BlipCaptioner(str(tiny_blip2_dir), device="cpu", dtype="auto", backend="openvino")
        captions = captioner.caption_batch(pictures(2), GenerationSettings(max_new_tokens=4))
    assert len(captions) == 2
    assert "keeps the PyTorch path" in caplog.text
    assert captioner.describe()["backend"] == "torch" and captioner.dtype == "float32"
    assert not (cache_dir / "export").exists()


def test_missing_runtime_asked_for_is_one_sentence(
    tiny_blip_dir: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accel, "runtime_installed", lambda name: False)
    with pytest.raises(ModelLoadError) as caught:
        BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", backend="openvino").load()
    message = str(caught.value)
    assert str(tiny_blip_dir) in message and "pip install openvino" in message and "\n" not in message


def test_int8_is_opt_in_and_runs(tiny_blip_dir: Path, cache_dir: Path) -> None:
    captioner = BlipCaptioner(str(tiny_blip_dir), device="cpu", dtype="float32", quantize="int8")
    captions = captioner.caption_batch(pictures(4), GenerationSettings(max_new_tokens=6, min_new_tokens=6))
    assert len(captions) == 4 and all(captions)
    assert captioner.describe()["backend"] == "onnxruntime+int8"
    assert AuditOptions().quantize == "none" and AuditOptions().backend == "auto"
    with pytest.raises(OptionsError, match="ONNX Runtime"):
        AuditOptions(backend="openvino", quantize="int8")
    with pytest.raises(OptionsError, match="backend must be one of"):
        AuditOptions(backend="tensorrt")


def plan(measured: dict[str, float]) -> CpuPlan:
    return choose(measured, threads=2)


def test_choice_rules_from_measurements() -> None:
    # The exact path is the fastest float32 candidate; a runtime must be clearly faster than PyTorch.
    assert plan({"torch/float32": 1.0, "openvino/float32": 0.6, "onnxruntime/float32": 0.7}).backend == "openvino"
    assert plan({"torch/float32": 1.0, "openvino/float32": 0.97}).backend == "torch"
    # bfloat16 only where it is measured clearly faster than the exact path (AMX) ...
    amx = plan({"torch/float32": 0.8, "openvino/float32": 0.5, "torch/bfloat16": 0.23, "openvino/bfloat16": 0.2})
    assert (amx.backend, amx.dtype) == ("openvino", "bfloat16")
    # ... never where it is slower (AVX-512 BF16 without AMX: 1.29 against 1.08 s/image) or about the same.
    no_amx = plan({"torch/float32": 1.08, "openvino/float32": 0.7, "torch/bfloat16": 1.29, "openvino/bfloat16": 0.9})
    assert (no_amx.backend, no_amx.dtype) == ("openvino", "float32")
    assert plan({"torch/float32": 1.0, "torch/bfloat16": 0.9}).dtype == "float32"
    assert "fastest exact path" in no_amx.reason


def test_cli_flags_reach_the_options() -> None:
    from cli import build_parser, options_from_args

    args = build_parser().parse_args(["https://example.com/", "--backend", "onnxruntime", "--quantize", "int8"])
    options = options_from_args(args)
    assert (options.backend, options.quantize) == ("onnxruntime", "int8")
    assert (options.captioner_spec.backend, options.captioner_spec.quantize) == ("onnxruntime", "int8")


def test_threads_stay_within_the_container_quota(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from captioning.accel import cpu_quota, cpu_threads

    (tmp_path / "cpu.max").write_text("150000 100000\n", encoding="ascii")
    assert cpu_quota(tmp_path) == 2
    (tmp_path / "cpu.max").write_text("max 100000\n", encoding="ascii")
    assert cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000", encoding="ascii")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000", encoding="ascii")
    assert cpu_quota(tmp_path) == 1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1", encoding="ascii")
    assert cpu_quota(tmp_path) is None

    import torch

    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(accel, "cpu_quota", lambda: 1)
    try:
        torch.set_num_threads(2)
        assert cpu_threads() == 1 and torch.get_num_threads() == 1
        torch.set_num_threads(2)
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert cpu_threads() == 2, "an explicit OMP_NUM_THREADS is respected"
    finally:
        torch.set_num_threads(before)


def test_processes_measure_one_at_a_time(tmp_path: Path, cache_dir: Path) -> None:
    """While one process holds the measuring lock, another waits for it (Ray actors, server workers)."""
    import subprocess
    import sys
    import time

    holder = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); from captioning.accel import measuring_lock\n"
        "with measuring_lock():\n    print('held', flush=True); time.sleep(1.5)\n"
    )
    root = str(Path(__file__).resolve().parent.parent)
    first = subprocess.Popen([sys.executable, "-c", holder, root], stdout=subprocess.PIPE, text=True)
    assert first.stdout is not None and first.stdout.readline().strip() == "held"
    started = time.monotonic()
    with accel.measuring_lock():
        waited = time.monotonic() - started
    first.wait(timeout=30)
    assert waited > 0.8, "the second measurer waited for the first"
