"""Captioning stage alone, and the preprocessing that feeds it, in images per second.

    python bench/bench_captioning.py --methods all --batch-sizes 1 8 16 --tokens 20 --images 16
    python bench/bench_captioning.py --cold-start            # time to the first caption, empty vs warm cache
    python bench/bench_captioning.py --init-range 0.05 --batch-sizes 8 --methods torch/float32 \
        openvino/float32 onnxruntime/float32               # identical captions where they depend on the image
    python bench/bench_captioning.py --device cuda --methods torch/float16 --batch-sizes 64 128 256 512 \
        --images 1024 --preprocess-threads 1 8 16

Captioning: full-size BLIP-base with random weights; images are decoded and preprocessed
(``captioner.prepare``) before the clock starts, so only the model's work is timed (moving the
pixels to the device and normalising them included). Every method generates exactly
``--tokens`` new tokens (min_new_tokens = max_new_tokens), so timings compare work. A method is
``BACKEND/DTYPE``: ``eager`` (PyTorch with transformers' eager attention and ``generate``),
``torch`` (PyTorch with SDPA attention, ``generate``), ``static`` (SDPA and the static decoder;
CUDA graphs on a GPU), ``compile`` (``torch.compile`` of the vision encoder), ``openvino``,
``onnxruntime`` or ``onnxruntime+int8`` (``+eager``: with the decoder's eager attention), in
``float32``, ``bfloat16`` or (CUDA) ``float16``.
Every method's captions are compared with the first method's, and the fraction of the CPU's
float32 peak is printed (FLOPs counted by ``torch.utils.flop_counter`` for one image); on CUDA
the peak memory of each batch size and the GPU busy % (NVML, ``bench/busy.py``). Batches are
sent as the local engine sends them, two in flight, so on a GPU the next batch's copy overlaps
the running one.

    python bench/bench_captioning.py --device cuda --init-range 0.05 --images 2048 \
        --methods eager/float16 torch/float16 static/float16 eager/bfloat16 torch/bfloat16 static/bfloat16 \
        --batch-sizes 256 512 1024      # issue 26: eager, SDPA, SDPA with graphs

Preprocessing: what the pipeline's download threads do per image after the download (safe
decode with JPEG draft mode to at least the model's input side, then the model-input resize), with
1..N threads, to show whether the CPU keeps the captioner fed.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.blip_random import save_random_blip_base  # noqa: E402
from bench.busy import GpuBusy  # noqa: E402
from captioning import BlipCaptioner, GenerationSettings  # noqa: E402
from pipeline.batching import CAPTION_WORKERS  # noqa: E402
from scraper.images import prepare_image  # noqa: E402


def sample_jpegs(n: int) -> list[bytes]:
    """Photo-like JPEGs of assorted sizes (400-1600 x 400-1200 px)."""
    from PIL import Image, ImageDraw, ImageFilter

    jpegs = []
    for i in range(n):
        width, height = 400 + (i * 97) % 1200, 400 + (i * 53) % 800
        image = Image.new("RGB", (width, height), ((i * 40) % 256, (i * 90) % 256, (i * 150) % 256))
        draw = ImageDraw.Draw(image)
        for k in range(8):
            draw.ellipse(
                (k * 20, k * 15, width - k * 20, height - k * 15), outline=(k * 30, 255 - k * 30, 100), width=9
            )
        buffer = io.BytesIO()
        image.filter(ImageFilter.GaussianBlur(2)).save(buffer, "JPEG", quality=90)
        jpegs.append(buffer.getvalue())
    return jpegs


def preprocess_rate(captioner: BlipCaptioner, jpegs: list[bytes], threads: int) -> float:
    """Images per second through decode, working copy and model-input resize."""

    def one(data: bytes) -> object:
        return captioner.prepare(prepare_image(data, min_width=1, min_height=1).image)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, jpegs[: max(threads, 4)]))  # warm-up
        started = time.perf_counter()
        list(pool.map(one, jpegs))
    return len(jpegs) / (time.perf_counter() - started)


ALL_METHODS = [
    "eager/float32",
    "torch/float32",
    "static/float32",
    "torch/bfloat16",
    "compile/float32",
    "openvino/float32",
    "onnxruntime/float32",
    "openvino/bfloat16",
    "onnxruntime+int8/float32",
]


def make_captioner(folder: Path, method: str, device: str) -> BlipCaptioner:
    """A loaded captioner for ``BACKEND/DTYPE``."""
    import torch

    backend, dtype = method.split("/")
    attention = "auto"
    if backend.endswith("+eager"):  # e.g. openvino+eager: the runtime's encoder, eager attention in the decoder
        backend, attention = backend.removesuffix("+eager"), "eager"
    if backend in ("eager", "static"):
        attention, decoder = ("eager", "generate") if backend == "eager" else ("sdpa", "static")
        captioner = BlipCaptioner(str(folder), device, dtype, backend="torch", attention=attention, decoder=decoder)
        captioner.load()
        return captioner
    if backend == "compile":
        captioner = BlipCaptioner(str(folder), device=device, dtype=dtype, backend="torch", decoder="generate")
        captioner.load()
        captioner._model.vision_model = torch.compile(captioner._model.vision_model)
        return captioner
    quantize = "int8" if backend.endswith("+int8") else "none"
    captioner = BlipCaptioner(
        str(folder),
        device=device,
        dtype=dtype,
        backend=backend.removesuffix("+int8"),
        quantize=quantize,
        attention=attention,
        decoder="generate",  # the static decoder is the method "static"
    )
    captioner.load()
    return captioner


def flops_per_image(folder: Path, tokens: int) -> float:
    """FLOPs of one image's ``generate`` (matrix products, as ``torch.utils.flop_counter`` counts them)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import BlipForConditionalGeneration

    model = BlipForConditionalGeneration.from_pretrained(folder).eval()
    side = model.config.vision_config.image_size
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.generate(
            pixel_values=torch.zeros(1, 3, side, side), max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False
        )
    return float(counter.get_total_flops())


def cpu_peak() -> dict[str, float | str]:
    """The CPU's float32 peak on paper, and what a large float32 matrix product reaches here."""
    import torch

    name, mhz, flags = "unknown CPU", 0.0, ""
    for line in Path("/proc/cpuinfo").read_text(errors="ignore").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and name == "unknown CPU":
            name = value.strip()
        elif key.strip() == "cpu MHz" and not mhz:
            mhz = float(value)
        elif key.strip() == "flags" and not flags:
            flags = value
    lanes = 16 if "avx512f" in flags.split() else 8 if "avx2" in flags.split() else 4
    fma_units = 2  # Xeon Scalable (Gold/Platinum) and Zen 3/4 cores issue two vector FMAs per cycle
    cores = torch.get_num_threads()
    paper = cores * fma_units * lanes * 2 * mhz / 1000.0  # GFLOP/s: 2 FLOPs per fused multiply-add
    a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
    torch.mm(a, b)
    started = time.perf_counter()
    for _ in range(3):
        torch.mm(a, b)
    gemm = 3 * 2 * 4096**3 / (time.perf_counter() - started) / 1e9
    return {
        "cpu": name,
        "cores": cores,
        "mhz": mhz,
        "lanes": lanes,
        "fma_units": fma_units,
        "paper_gflops": paper,
        "gemm_gflops": gemm,
    }


def caption_as_the_engine_does(
    captioner: Any, images: list[Any], batch: int, settings: GenerationSettings
) -> list[str]:
    """Caption ``images`` in batches of ``batch`` with two in flight, as the local engine sends them
    (``pipeline.batching.CAPTION_WORKERS``): on a GPU the next batch is copied while one runs."""
    starts = range(0, len(images), batch)
    with ThreadPoolExecutor(CAPTION_WORKERS) as pool:
        batches = pool.map(lambda start: captioner.caption_batch(images[start : start + batch], settings), starts)
        return [caption for captions in batches for caption in captions]


def measure_methods(args: argparse.Namespace, folder: Path, jpegs: list[bytes]) -> None:
    """The table: every method at every batch size, captions checked against PyTorch float32."""
    import torch

    settings = GenerationSettings(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
    on_gpu = args.device.startswith("cuda")
    peak = None if on_gpu else cpu_peak()
    flops = flops_per_image(folder, args.tokens)
    if peak:
        print(
            f"# {peak['cpu']}, {peak['cores']} threads at {peak['mhz']:.0f} MHz: float32 peak on paper "
            f"{peak['paper_gflops']:.0f} GFLOP/s ({peak['cores']} cores x {peak['fma_units']} FMA units x "
            f"{peak['lanes']} lanes x 2 x {peak['mhz'] / 1000:.2f} GHz); a 4096^2 float32 matrix product reaches "
            f"{peak['gemm_gflops']:.0f} GFLOP/s; {flops / 1e9:.1f} GFLOP per image ({args.tokens} tokens)"
        )
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}, cores {os.cpu_count()}")
    print(
        "| method | load s | batch | images | seconds | s/image | images/s | % of fp32 peak | peak GiB "
        "| GPU busy | same captions |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    reference: list[str] | None = None
    for method in args.methods:
        started = time.perf_counter()
        captioner = make_captioner(folder, method, args.device)
        prepared: dict[bytes, Any] = {}  # the set cycles through 64 distinct JPEGs: prepare each once
        for data in jpegs:
            if data not in prepared:
                prepared[data] = captioner.prepare(prepare_image(data, min_width=1, min_height=1).image)
        images = [prepared[data] for data in jpegs]
        load_s = time.perf_counter() - started
        captions: list[str] = []
        for batch in args.batch_sizes:
            captioner.caption_batch(images[:batch], settings)  # warm-up at this size (torch.compile recompiles)
            if on_gpu:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            with GpuBusy() as busy:
                made = caption_as_the_engine_does(captioner, images, batch, settings)
                if on_gpu:
                    torch.cuda.synchronize()
            elapsed = time.perf_counter() - started
            captions = captions or made
            if reference is None:  # the first method's captions are the reference
                reference = made
            same = f"{sum(a == b for a, b in zip(made, reference, strict=True))}/{len(made)}" if reference else ""
            share = f"{100 * flops / (elapsed / len(images)) / 1e9 / peak['paper_gflops']:.0f}%" if peak else ""
            memory = f"{torch.cuda.max_memory_allocated() / 2**30:.1f}" if on_gpu else ""
            print(
                f"| {method} | {load_s:.1f} | {batch} | {len(images)} | {elapsed:.2f} | {elapsed / len(images):.3f} | "
                f"{len(images) / elapsed:.2f} | {share} | {memory} | {busy.label()} | {same} |",
                flush=True,
            )
        print(f"# {method}: {len(set(captions))} distinct captions of {len(captions)}; {captioner.describe()}")
        del captioner, images, prepared
        gc.collect()  # the next method gets the GPU's memory back (a static decoder holds its buffers)
        if on_gpu:
            torch.cuda.empty_cache()


def first_caption(folder: Path, backend: str, dtype: str, tokens: int) -> dict[str, object]:
    """In a fresh process (``--child-first``): load the captioner and caption one image."""
    from PIL import Image

    captioner = BlipCaptioner(str(folder), "cpu", dtype, backend=backend)
    loading = time.perf_counter()
    captioner.load()
    loaded = time.perf_counter()
    image = captioner.prepare(Image.new("RGB", (500, 400), (90, 120, 200)))
    captioner.caption_batch([image], GenerationSettings(max_new_tokens=tokens, min_new_tokens=tokens))
    return {
        "load": loaded - loading,
        "plan": f"{captioner.describe()['backend']}/{captioner.dtype}",
    }


def cold_start(args: argparse.Namespace, folder: Path) -> None:
    """Time to the first caption in a fresh process: empty export cache, warm cache, PyTorch only."""
    import json
    import subprocess

    cache = Path(tempfile.mkdtemp(prefix="altscout-cold-"))
    runs = [
        ("auto, empty cache (export + calibration)", "auto", "auto"),
        ("auto, warm cache", "auto", "auto"),
        ("--backend torch --dtype float32 (no export)", "torch", "float32"),
    ]
    print("| run | process start to first caption (s) | of which load (s) | plan |")
    print("|---|---|---|---|")
    for name, backend, dtype in runs:
        command = [sys.executable, __file__, "--child-first", backend, dtype, "--model-dir", str(folder)]
        command += ["--tokens", str(args.tokens)]
        env = {**os.environ, "ALTSCOUT_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - started  # the process's whole life: imports, load, one caption, exit
        if result.returncode != 0:
            raise SystemExit(result.stderr[-2000:])
        measured = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"| {name} | {wall:.1f} | {measured['load']:.1f} | {measured['plan']} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--methods", nargs="+", default=["all"], help="BACKEND/DTYPE ... or all")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--images", type=int, default=16, help="images per measurement")
    parser.add_argument("--cold-start", action="store_true", help="time to the first caption, empty vs warm cache")
    parser.add_argument("--child-first", nargs=2, metavar=("BACKEND", "DTYPE"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--preprocess-threads", type=int, nargs="*", default=[], help="also measure preprocessing with these threads"
    )
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument(
        "--init-range",
        type=float,
        default=None,
        help="random weights with this initializer range (0.05: captions that depend on the image)",
    )
    args = parser.parse_args()
    if args.model_dir is None:
        suffix = f"-init{args.init_range}" if args.init_range is not None else ""
        args.model_dir = Path(tempfile.gettempdir()) / f"altscout-blip-base-random{suffix}"
    if args.methods == ["all"]:
        args.methods = ALL_METHODS

    folder = save_random_blip_base(args.model_dir, initializer_range=args.init_range)
    if args.child_first:
        print(__import__("json").dumps(first_caption(folder, *args.child_first, args.tokens)))
        return
    if args.cold_start:
        cold_start(args, folder)
        return
    jpegs = sample_jpegs(min(args.images, 64))
    jpegs = [jpegs[i % len(jpegs)] for i in range(args.images)]
    measure_methods(args, folder, jpegs)
    if args.preprocess_threads:
        captioner = BlipCaptioner(str(folder), device="cpu", dtype="float32", backend="torch")
        captioner.load()  # the recipe is read from the processor; the device does not matter
        print("\n| preprocessing threads | images | images/s |")
        print("|---|---|---|")
        many = [jpegs[i % len(jpegs)] for i in range(max(256, len(jpegs)))]
        for threads in args.preprocess_threads:
            print(f"| {threads} | {len(many)} | {preprocess_rate(captioner, many, threads):.1f} |", flush=True)


if __name__ == "__main__":
    main()
