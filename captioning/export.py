"""The exported vision encoder, built once per model and kept on disk, never trusted blindly.

An entry is a folder named by a key over the model's files (name, size, modification time) and
the versions of the libraries that shaped the graph. It holds ``vision.onnx`` (plus its external
weights) and ``manifest.json``, written last, with every file's SHA-256. An entry is used only
when its manifest matches the key and every checksum; anything else (a crash mid-build, a
truncated or edited file, another model or library version under the same folder) is deleted and
rebuilt. The caller also compares the runtime's output with PyTorch's before using it
(``captioning/accel.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from captioning.runtimes import BackendError, runtime_installed, runtime_version
from library import sha256_file

log = logging.getLogger("altscout")

EXPORT_FORMAT = 1  # bump when the exported graph's inputs, outputs or build steps change
GRAPH = "vision.onnx"
MANIFEST = "manifest.json"
MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".bin", ".txt", ".model")


def cache_root() -> Path:
    """Where exports live: ``$ALTSCOUT_CACHE_DIR``, else ``$XDG_CACHE_HOME/altscout`` or ``~/.cache/altscout``."""
    configured = os.environ.get("ALTSCOUT_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "altscout"


def model_folder(model_id: str) -> Path:
    """The folder the model's files were read from (a local folder, or the hub cache's snapshot)."""
    from transformers.utils import cached_file

    resolved = cached_file(model_id, "config.json")
    if resolved is None:
        raise BackendError(f"no config.json for {model_id}")
    return Path(resolved).parent


def model_fingerprint(model_id: str) -> list[list[Any]]:
    """Name, size and modification time of every model file: what makes an export stale."""
    return folder_files(model_folder(model_id))


def folder_files(folder: Path) -> list[list[Any]]:
    """Name, size and modification time of the model files in ``folder`` (hub symlinks followed)."""
    entries = []
    for path in sorted(folder.iterdir()):
        if path.suffix in MODEL_FILE_SUFFIXES and path.is_file():
            stat = path.stat()  # follows the hub cache's symlinks to the blobs
            entries.append([path.name, stat.st_size, stat.st_mtime_ns])
    return entries


def library_versions() -> dict[str, str | None]:
    """The libraries whose versions shape the exported graph."""
    return {
        "format": str(EXPORT_FORMAT),
        "torch": runtime_version("torch"),
        "transformers": runtime_version("transformers"),
        "onnx": runtime_version("onnx"),
        "onnxscript": runtime_version("onnxscript"),
        "onnxruntime": runtime_version("onnxruntime"),  # quantize_dynamic builds the int8 graph
    }


class ExportCache:
    """Exported vision encoders under ``root/export/<key>/``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or cache_root()) / "export"

    def key_material(self, model_id: str, quantize: str) -> dict[str, Any]:
        """Everything an entry depends on."""
        return {"model": model_fingerprint(model_id), "versions": library_versions(), "quantize": quantize}

    def vision_graph(self, model: Any, model_id: str, quantize: str = "none") -> Path:
        """The encoder's ONNX file for ``model`` (a float32 BLIP), built now if missing or not valid."""
        material = self.key_material(model_id, quantize)
        folder = self.root / hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]
        problem = verify_entry(folder, material)
        if problem is None:
            return folder / GRAPH
        if folder.exists():
            log.warning("the exported encoder in %s is not usable (%s); rebuilding it", folder, problem)
            shutil.rmtree(folder, ignore_errors=True)
        built = self._build(model, folder, {**material, "model_id": model_id}, quantize)
        self._drop_superseded(built, model_id, quantize)
        return built / GRAPH

    def _drop_superseded(self, kept: Path, model_id: str, quantize: str) -> None:
        """Delete older entries of the same model and quantisation (other files or library versions).

        The cache then holds one export per model instead of one per upgrade.
        """
        for folder in self.root.iterdir():
            if folder == kept or folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # not ours to judge (maybe still being written by its builder)
            same = isinstance(manifest, dict) and manifest.get("model_id") == model_id
            if same and manifest.get("quantize") == quantize:
                log.info("removing the superseded export %s", folder)
                shutil.rmtree(folder, ignore_errors=True)

    def discard(self, graph: Path) -> None:
        """Delete an entry whose graph turned out wrong (the next load rebuilds it)."""
        shutil.rmtree(graph.parent, ignore_errors=True)

    def _build(self, model: Any, folder: Path, material: dict[str, Any], quantize: str) -> Path:
        """Export into a scratch folder, write the manifest last, then move it into place."""
        self.root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=self.root))
        started = time.perf_counter()
        try:
            export_vision_encoder(model, scratch / GRAPH)
            if quantize == "int8":
                quantize_int8(scratch / GRAPH)
            files = {path.name: sha256_file(path) for path in sorted(scratch.iterdir()) if path.is_file()}
            manifest = {**material, "files": files, "built_s": round(time.perf_counter() - started, 2)}
            (scratch / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
            try:
                scratch.rename(folder)
            except OSError:  # another process finished the same entry first: use theirs if it is sound
                if verify_entry(folder, material) is not None:
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        log.info("exported the vision encoder to %s in %.1f s", folder, time.perf_counter() - started)
        return folder


def verify_entry(folder: Path, material: dict[str, Any]) -> str | None:
    """None when the entry can be used, else why not."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no manifest"
    except (OSError, ValueError) as exc:
        return f"unreadable manifest: {exc}"
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return "malformed manifest"
    for name in ("model", "versions", "quantize"):
        if json.dumps(manifest.get(name), sort_keys=True) != json.dumps(material[name], sort_keys=True):
            return f"built for another {name}"
    if GRAPH not in manifest["files"]:
        return "no graph in the manifest"
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file() or sha256_file(path) != expected:
            return f"{name} is missing or changed"
    return None


def export_vision_encoder(model: Any, target: Path) -> None:
    """``torch.onnx.export`` (the dynamo exporter) of ``model.vision_model``: pixels in, embeddings out."""
    import torch

    if not (runtime_installed("onnxscript") and runtime_installed("onnx")):
        raise BackendError("exporting needs the onnx and onnxscript packages")

    class VisionEncoder(torch.nn.Module):
        def __init__(self, vision: torch.nn.Module) -> None:
            super().__init__()
            self.vision = vision

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.vision(pixel_values=pixel_values)[0]

    vision = model.vision_model
    config = vision.config
    example = torch.zeros(2, 3, config.image_size, config.image_size, dtype=torch.float32)
    batch = torch.export.Dim("batch", min=1, max=4096)
    quiet = io.StringIO()
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(quiet), _quiet_torch_onnx():
            torch.onnx.export(
                VisionEncoder(vision).eval(),
                (example,),
                str(target),
                input_names=["pixel_values"],
                output_names=["image_embeds"],
                dynamic_shapes={"pixel_values": {0: batch}},
                dynamo=True,
                external_data=True,
                verbose=False,
            )
    if not target.is_file():
        raise BackendError("the exporter wrote no graph")


def quantize_int8(graph: Path) -> None:
    """Replace the float32 graph by ONNX Runtime's dynamic int8 quantisation of its weights (opt-in)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = graph.with_name("vision-int8.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its "consider pre-processing" advice goes to the root logger
    try:
        quantize_dynamic(str(graph), str(quantized), weight_type=QuantType.QInt8, use_external_data_format=False)
    finally:
        root.setLevel(level)
    for path in list(graph.parent.iterdir()):
        if path != quantized:
            path.unlink()
    quantized.rename(graph)


@contextlib.contextmanager
def _quiet_torch_onnx() -> Any:
    """Silence the exporter's progress and torchvision notices (they go to logging at WARNING)."""
    names = ("torch.onnx", "torch._dynamo", "torch.export", "onnxscript", "onnx_ir")
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
