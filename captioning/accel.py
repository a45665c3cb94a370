"""Choosing how BLIP runs on a CPU: which backend runs the vision encoder, in which dtype, on how many threads.

Choices are measured, not guessed from instruction-set flags: a short calibration times BLIP's
real ``generate`` (2 images, 4 tokens) with each candidate on this machine, and the result is
cached beside the exported graphs (keyed by the CPU, the thread count, the model files and the
library versions). The exact path (float32) is the fastest float32 candidate; bfloat16 is chosen
by ``--dtype auto`` only when it is measured clearly faster than that. Every runtime's encoder
output is compared with PyTorch's on a probe batch before it is used (1e-4 relative for float32).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from captioning.blip_attention import uses_sdpa
from captioning.export import ExportCache, cache_root, library_versions, model_fingerprint
from captioning.runtimes import (
    RUNTIMES,
    BackendError,
    VisionRuntime,
    open_runtime,
    runtime_installed,
    runtime_version,
    runtime_vision_model,
)

log = logging.getLogger("altscout")

CALIBRATION_FORMAT = 2  # 2: PyTorch candidates run with the model's attention (SDPA by default)
EXACT_TOLERANCE = 1e-4  # float32 runtimes: max |runtime - torch| / max |torch| on the probe batch
BF16_TOLERANCE = 5e-2  # bfloat16 is an approximation; this only catches a broken graph
BF16_MARGIN = 1.15  # --dtype auto picks bfloat16 only when it is at least this much faster
BACKEND_MARGIN = 1.05  # a runtime replaces PyTorch only when it is at least this much faster
PROBE_IMAGES = 2
PROBE_TOKENS = 4
SUPPORTED_DTYPES = {
    "torch": ("float32", "bfloat16", "float16"),
    "openvino": ("float32", "bfloat16"),
    "onnxruntime": ("float32",),
}


@dataclass(frozen=True)
class CpuPlan:
    """How the captioner runs on this CPU, and the measurements behind it."""

    backend: str  # torch | openvino | onnxruntime
    dtype: str  # the decoder's dtype (and the encoder's, except int8)
    threads: int
    quantize: str = "none"
    seconds_per_image: dict[str, float] = field(default_factory=dict)  # "backend/dtype" -> calibration time
    reason: str = ""

    @property
    def label(self) -> str:
        """``openvino``, ``torch`` or ``onnxruntime+int8``: the report's backend field."""
        return self.backend + ("+int8" if self.quantize == "int8" else "")


def cpu_threads() -> int:
    """The threads the model uses: PyTorch's intra-op setting (physical cores), within the container's CPU quota.

    PyTorch counts the host's cores; in a container limited to fewer (``docker --cpus 2`` on a
    16-core host) that oversubscribes the CPU, which measured 15-22% slower end to end (8 or 16
    threads on 2 cores, docs/PERFORMANCE.md). ``OMP_NUM_THREADS``, when set, is left alone.
    """
    import torch

    threads = max(1, torch.get_num_threads())
    quota = cpu_quota()
    if quota is not None and quota < threads and "OMP_NUM_THREADS" not in os.environ:
        log.info("the CPU quota allows %d cores: using %d threads instead of %d", quota, quota, threads)
        torch.set_num_threads(quota)
        threads = quota
    return threads


def cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Whole cores the cgroup's CPU quota allows (rounded up), or None without a quota (v2 or v1)."""
    try:
        quota, _, period = (root / "cpu.max").read_text(encoding="ascii").strip().partition(" ")
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text(encoding="ascii"))
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    return max(1, math.ceil(quota_us / period_us)) if quota_us > 0 and period_us > 0 else None


def candidates(backend: str, dtype: str) -> list[tuple[str, str]]:
    """The (backend, dtype) pairs worth measuring for these requests."""
    backends = ["torch", *[name for name in RUNTIMES if runtime_installed(name)]] if backend == "auto" else [backend]
    dtypes = ["float32", "bfloat16"] if dtype == "auto" else [dtype]
    return [(b, d) for d in dtypes for b in backends if d in SUPPORTED_DTYPES[b]]


def plan_for_cpu(model: Any, model_id: str, backend: str, dtype: str, quantize: str) -> tuple[Any, CpuPlan]:
    """Decide and apply the CPU plan for a float32 BLIP ``model``; returns the model to use and the plan.

    ``model`` is changed in place: its ``vision_model`` may be replaced by a runtime, and its
    weights may be converted to bfloat16. BackendError when a backend that was asked for is missing.
    """
    threads = cpu_threads()
    if backend in RUNTIMES and not runtime_installed(backend):
        raise BackendError(f"--backend {backend} was asked for but {backend} is not installed; pip install {backend}")
    if quantize == "int8":
        return _int8_plan(model, model_id, threads)
    pairs = candidates(backend, dtype)
    attention = "sdpa" if uses_sdpa(model) else "eager"  # the PyTorch candidates' attention: part of the key
    if not pairs:
        raise BackendError(f"the {backend} backend cannot run {dtype} on a CPU")
    if pairs == [("torch", pairs[0][1])]:
        return _to_dtype(model, pairs[0][1]), CpuPlan("torch", pairs[0][1], threads, reason="asked for")
    cache = ExportCache()
    with measuring_lock():  # Ray actors or server processes on one machine measure one at a time
        return _measured_plan(model, model_id, cache, pairs, dtype, (threads, attention))


def _measured_plan(
    model: Any, model_id: str, cache: ExportCache, pairs: list[tuple[str, str]], dtype: str, how: tuple[int, str]
) -> tuple[Any, CpuPlan]:
    """The stored plan if it still opens, else open every candidate, calibrate, store and choose.

    ``how`` is (threads, the PyTorch path's attention): both change what a calibration measured."""
    threads = how[0]
    measured = _cached_calibration(model_id, pairs, how)
    if measured is not None:  # measured before on this CPU: open only the chosen runtime (and check it)
        plan = choose(measured, threads)
        chosen = [] if plan.backend == "torch" else [(plan.backend, plan.dtype)]
        runtimes = _open_runtimes(model, model_id, cache, chosen, threads)
        if plan.backend == "torch" or (plan.backend, plan.dtype) in runtimes:
            return _apply(model, plan, runtimes), plan
        log.warning("the stored CPU plan (%s/%s) no longer works here; measuring again", plan.backend, plan.dtype)
    runtimes = _open_runtimes(model, model_id, cache, pairs, threads)
    usable = [pair for pair in pairs if pair[0] == "torch" or pair in runtimes]
    if not usable:
        log.warning("no CPU backend could run %s; using PyTorch", model_id)
        fallback = "float32" if dtype == "auto" else dtype
        return _to_dtype(model, fallback), CpuPlan("torch", fallback, threads, reason="no backend could run the model")
    if len(usable) == 1:  # nothing to choose between: no calibration
        plan = CpuPlan(usable[0][0], usable[0][1], threads, reason="the only candidate")
        return _apply(model, plan, runtimes), plan
    measured = calibrate(model, runtimes, usable)
    _store_calibration(model_id, pairs, how, measured)
    plan = choose(measured, threads)
    return _apply(model, plan, runtimes), plan


@contextlib.contextmanager
def measuring_lock() -> Iterator[None]:
    """An exclusive lock on the cache folder (``fcntl``; a no-op where there is none)."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent calibrations are only slower, never wrong
        yield
        return
    try:
        cache_root().mkdir(parents=True, exist_ok=True)
        handle = (cache_root() / ".lock").open("a")
    except OSError as exc:  # a read-only cache: the export fails next and PyTorch is used
        log.warning("cannot lock the cache folder %s: %s", cache_root(), exc)
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _apply(model: Any, plan: CpuPlan, runtimes: dict[tuple[str, str], VisionRuntime]) -> Any:
    """The model converted to the plan's dtype, its encoder replaced by the plan's runtime."""
    runtime = runtimes.get((plan.backend, plan.dtype))
    if runtime is not None:  # first: PyTorch's encoder weights are dropped, not converted
        model.vision_model = runtime_vision_model(runtime, _torch_dtype(plan.dtype))
    model = _to_dtype(model, plan.dtype)
    log.info("captioning on the CPU with %s in %s (%s)", plan.backend, plan.dtype, plan.reason)
    return model


def choose(measured: dict[str, float], threads: int) -> CpuPlan:
    """The plan from calibration times: the fastest exact path, bfloat16 only when clearly faster."""

    def best(dtype: str) -> tuple[str, float] | None:
        times = {key.split("/")[0]: value for key, value in measured.items() if key.endswith("/" + dtype)}
        if not times:
            return None
        fastest = min(times, key=times.__getitem__)
        if "torch" in times and times["torch"] <= times[fastest] * BACKEND_MARGIN:
            fastest = "torch"  # a runtime must be clearly faster to replace PyTorch
        return fastest, times[fastest]

    exact, approx = best("float32"), best("bfloat16")
    if exact is None or (approx is not None and approx[1] * BF16_MARGIN <= exact[1]):
        if approx is None:
            raise BackendError("nothing was measured")
        why = f"{approx[1]:.3f} s/image measured" + (f" against {exact[1]:.3f} s in float32" if exact else "")
        return CpuPlan(approx[0], "bfloat16", threads, seconds_per_image=measured, reason=why)
    why = f"{exact[1]:.3f} s/image measured, the fastest exact path"
    if approx is not None:
        why += f"; bfloat16 {approx[1]:.3f} s was not {BF16_MARGIN:.2f}x faster"
    return CpuPlan(exact[0], "float32", threads, seconds_per_image=measured, reason=why)


def calibrate(
    model: Any, runtimes: dict[tuple[str, str], VisionRuntime], pairs: list[tuple[str, str]]
) -> dict[str, float]:
    """Seconds per image of BLIP's ``generate`` for each (backend, dtype) on a fixed probe batch."""
    import torch

    pixels = probe_pixels(model.config.vision_config.image_size, PROBE_IMAGES)
    variants: dict[str, Any] = {"float32": model}
    measured: dict[str, float] = {}
    for backend, dtype in pairs:
        if dtype not in variants:
            variants[dtype] = copy.deepcopy(model).to(_torch_dtype(dtype))
        variant = variants[dtype]
        own_vision = variant.vision_model
        if backend != "torch":
            variant.vision_model = runtime_vision_model(runtimes[(backend, dtype)], _torch_dtype(dtype))
        try:
            measured[f"{backend}/{dtype}"] = _time_generate(variant, torch.from_numpy(pixels).to(_torch_dtype(dtype)))
        finally:
            variant.vision_model = own_vision
    log.info("CPU calibration (s/image): %s", ", ".join(f"{k} {v:.3f}" for k, v in measured.items()))
    return measured


def _time_generate(model: Any, pixels: Any, repeats: int = 2) -> float:
    """The best of ``repeats`` timed ``generate`` calls after one warm-up, per image."""
    import torch

    settings = {"max_new_tokens": PROBE_TOKENS, "min_new_tokens": PROBE_TOKENS, "num_beams": 1, "do_sample": False}
    best = float("inf")
    with torch.inference_mode():
        model.generate(pixel_values=pixels[:1], **settings)
        for _ in range(repeats):
            started = time.perf_counter()
            model.generate(pixel_values=pixels, **settings)
            best = min(best, time.perf_counter() - started)
    return best / len(pixels)


def probe_pixels(side: int, count: int) -> np.ndarray:
    """A fixed batch of normalised pixels (the same on every machine)."""
    return np.random.default_rng(20261122).uniform(-2.0, 2.0, size=(count, 3, side, side)).astype(np.float32)


def relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    """max |got - expected| / max |expected|."""
    return float(np.abs(got - expected).max() / max(float(np.abs(expected).max()), 1e-12))


def _open_runtimes(
    model: Any, model_id: str, cache: ExportCache, pairs: list[tuple[str, str]], threads: int
) -> dict[tuple[str, str], VisionRuntime]:
    """Open every runtime candidate on the exported graph, checked against PyTorch on the probe batch."""
    wanted = [pair for pair in pairs if pair[0] != "torch"]
    if not wanted:
        return {}
    import torch

    pixels = probe_pixels(model.config.vision_config.image_size, 1)
    with torch.inference_mode():
        expected = model.vision_model(pixel_values=torch.from_numpy(pixels))[0].numpy()
    for attempt in (1, 2):  # a graph that disagrees with PyTorch is discarded and rebuilt once
        try:
            graph = cache.vision_graph(model, model_id)
        except Exception as exc:  # the exporter raises many types for models it cannot handle
            log.warning("the vision encoder of %s could not be exported (%s); it keeps the PyTorch path", model_id, exc)
            return {}
        opened: dict[tuple[str, str], VisionRuntime] = {}
        disagreeing = []
        for backend, dtype in wanted:
            try:
                runtime = open_runtime(backend, graph, dtype, threads)
                error = relative_error(runtime(pixels), expected)
            except (BackendError, RuntimeError, ValueError) as exc:
                log.warning("%s cannot run %s in %s: %s", backend, model_id, dtype, exc)
                continue
            tolerance = EXACT_TOLERANCE if dtype == "float32" else BF16_TOLERANCE
            if error > tolerance:
                disagreeing.append(f"{backend}/{dtype} {error:.2e}")
                continue
            opened[(backend, dtype)] = runtime
        if not disagreeing:
            return opened
        log.warning(
            "the exported encoder disagrees with PyTorch (%s)%s",
            ", ".join(disagreeing),
            "; rebuilding it" if attempt == 1 else "",
        )
        if attempt == 1:
            cache.discard(graph)
    return opened


def _int8_plan(model: Any, model_id: str, threads: int) -> tuple[Any, CpuPlan]:
    """``--quantize int8``: ONNX Runtime on a dynamically quantised encoder, the decoder in float32."""
    if not runtime_installed("onnxruntime"):
        raise BackendError("--quantize int8 needs ONNX Runtime (pip install onnxruntime)")
    graph = ExportCache().vision_graph(model, model_id, quantize="int8")
    runtime = open_runtime("onnxruntime", graph, "int8", threads)
    model.vision_model = runtime_vision_model(runtime, _torch_dtype("float32"))
    log.info("captioning on the CPU with an int8 encoder (ONNX Runtime): opt-in, caption quality not measured")
    return model, CpuPlan("onnxruntime", "float32", threads, quantize="int8", reason="--quantize int8")


def _to_dtype(model: Any, dtype: str) -> Any:
    """The model in ``dtype`` (a float32 model converted in place; rounding as ``from_pretrained`` does)."""
    return model if dtype == "float32" else model.to(_torch_dtype(dtype))


def _torch_dtype(dtype: str) -> Any:
    import torch

    return getattr(torch, dtype)


# --- the calibration cache --------------------------------------------------------------


@lru_cache(maxsize=1)
def cpu_identity() -> str:
    """The CPU as far as speed goes: model name, instruction-set flags and usable cores."""
    name, flags = "unknown", ""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="ignore").splitlines():
            if line.startswith("model name") and name == "unknown":
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1].strip()
    except OSError:
        import platform

        name = platform.processor() or platform.machine()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name} | {hashlib.sha256(flags.encode()).hexdigest()[:12]} | {usable} cores"


def _calibration_path(model_id: str, pairs: list[tuple[str, str]], how: tuple[int, str]) -> Path:
    material = {
        "format": CALIBRATION_FORMAT,
        "cpu": cpu_identity(),
        "threads": how[0],
        "attention": how[1],
        "pairs": pairs,
        "model": model_fingerprint(model_id),
        "versions": library_versions() | {"openvino": runtime_version("openvino")},
    }
    key = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]
    return cache_root() / "calibration" / f"{key}.json"


def _cached_calibration(model_id: str, pairs: list[tuple[str, str]], how: tuple[int, str]) -> dict[str, float] | None:
    """A stored calibration for these candidates on this CPU, or None (a damaged file is ignored)."""
    path = _calibration_path(model_id, pairs, how)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        measured = {str(key): float(value) for key, value in stored["seconds_per_image"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not measured or not set(measured) <= {f"{b}/{d}" for b, d in pairs}:
        return None
    return measured


def _store_calibration(
    model_id: str, pairs: list[tuple[str, str]], how: tuple[int, str], measured: dict[str, float]
) -> None:
    """Write the calibration atomically (a reader sees the old file or the new one)."""
    path = _calibration_path(model_id, pairs, how)
    threads = how[0]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(
            json.dumps({"cpu": cpu_identity(), "threads": threads, "seconds_per_image": measured}, indent=1),
            encoding="utf-8",
        )
        scratch.replace(path)
    except OSError as exc:
        log.warning("could not store the CPU calibration in %s: %s", path, exc)
