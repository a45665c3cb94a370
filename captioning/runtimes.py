"""CPU inference runtimes for BLIP's vision encoder: OpenVINO and ONNX Runtime, behind one call.

A runtime runs the exported encoder graph (``captioning/export.py``) on a float32 NumPy batch
of normalised pixels and returns the image embeddings. ``RuntimeVisionModel`` stands in for
``model.vision_model``, so BLIP's own ``generate`` (prompt, suppressed tokens, stopping, the text
decoder and its cache) runs unchanged: only the encoder's arithmetic moves.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger("altscout")

BACKENDS = ("auto", "torch", "openvino", "onnxruntime")
RUNTIMES = ("openvino", "onnxruntime")  # the backends that run an exported graph
QUANTIZE = ("none", "int8")
ATTENTIONS = ("auto", "sdpa", "eager")  # BLIP's attention (captioning/blip_attention.py)
DECODERS = ("auto", "static", "generate")  # BLIP's decoding loop (captioning/blip_decoder.py)
OPENVINO_PRECISION = {"float32": "f32", "bfloat16": "bf16"}


class BackendError(Exception):
    """A runtime could not open or run an exported graph (the caller falls back to PyTorch)."""


class VisionRuntime(Protocol):
    """An exported vision encoder, ready to run."""

    name: str
    dtype: str

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        """Image embeddings (N, tokens, hidden) for normalised float32 pixels (N, 3, H, W)."""


def runtime_installed(name: str) -> bool:
    """Whether the runtime's Python package can be imported here."""
    return importlib.util.find_spec(name) is not None


def runtime_version(name: str) -> str | None:
    """The installed version of a runtime package, or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


class OpenVinoVision:
    """An ONNX graph compiled by OpenVINO for the CPU, at an exact (f32) or bf16 inference precision."""

    name = "openvino"

    def __init__(self, onnx_path: Path, dtype: str, threads: int) -> None:
        import openvino as ov

        if dtype not in OPENVINO_PRECISION:
            raise BackendError(f"OpenVINO runs the encoder in float32 or bfloat16, not {dtype}")
        self.dtype = dtype
        config: dict[str, Any] = {
            # OpenVINO defaults to bf16 on CPUs with AMX; the exact path must ask for f32.
            "INFERENCE_PRECISION_HINT": OPENVINO_PRECISION[dtype],
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
        }
        # No CACHE_DIR: OpenVINO 2026.4 crashes when one process compiles the same graph in f32 and
        # bf16 with a blob cache; compiling from the ONNX file takes about a second anyway.
        try:
            self._compiled = ov.Core().compile_model(str(onnx_path), "CPU", config)
            self._request = self._compiled.create_infer_request()
        except Exception as exc:  # OpenVINO raises plain RuntimeErrors for unreadable or unsupported graphs
            raise BackendError(f"OpenVINO could not compile {onnx_path.name}: {exc}") from exc
        self._lock = threading.Lock()

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        with self._lock:
            return np.array(self._request.infer({0: pixel_values})[0], copy=True)


class OnnxRuntimeVision:
    """An ONNX graph in an ONNX Runtime CPU session (float32, or a dynamically quantised int8 graph)."""

    name = "onnxruntime"

    def __init__(self, onnx_path: Path, dtype: str, threads: int) -> None:
        import onnxruntime as ort

        if dtype not in ("float32", "int8"):
            raise BackendError(f"ONNX Runtime runs the encoder in float32 or int8, not {dtype}")
        self.dtype = dtype
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types for damaged files
            raise BackendError(f"ONNX Runtime could not open {onnx_path.name}: {exc}") from exc
        self._input = self._session.get_inputs()[0].name

    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: pixel_values})[0]


def open_runtime(name: str, onnx_path: Path, dtype: str, threads: int) -> VisionRuntime:
    """Open ``onnx_path`` with the named runtime; BackendError when it cannot."""
    if not runtime_installed(name):
        raise BackendError(f"{name} is not installed")
    if name == "openvino":
        return OpenVinoVision(onnx_path, dtype, threads)
    if name == "onnxruntime":
        return OnnxRuntimeVision(onnx_path, dtype, threads)
    raise BackendError(f"unknown runtime {name}")


def runtime_vision_model(runtime: Callable[[np.ndarray], np.ndarray], torch_dtype: Any) -> Any:
    """A ``torch.nn.Module`` that answers like BLIP's ``vision_model`` with the runtime's embeddings."""
    import torch
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    class RuntimeVisionModel(torch.nn.Module):
        """``model.vision_model`` replaced: pixels to NumPy, the runtime, embeddings back to torch."""

        def __init__(self) -> None:
            super().__init__()
            self.runtime = runtime

        def forward(self, pixel_values: torch.Tensor, **_: Any) -> BaseModelOutputWithPooling:
            pixels = pixel_values.detach().to(torch.float32).contiguous().numpy()
            embeds = torch.from_numpy(self.runtime(pixels)).to(torch_dtype)
            return BaseModelOutputWithPooling(last_hidden_state=embeds)

    return RuntimeVisionModel()
