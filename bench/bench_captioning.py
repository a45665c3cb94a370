"""Captioning stage alone, and the preprocessing that feeds it, in images per second.

    python bench/bench_captioning.py --batch-sizes 1 8 --tokens 20
    python bench/bench_captioning.py --device cuda --dtypes float16 --batch-sizes 64 128 256 512 \
        --images 1024 --preprocess-threads 1 8 16

Captioning: full-size BLIP-base with random weights; images are decoded and preprocessed
(``captioner.prepare``) before the clock starts, so only the model's work is timed (moving the
pixels to the device and normalising them included). Every method generates exactly
``--tokens`` new tokens (min_new_tokens = max_new_tokens), so timings compare work.

Preprocessing: what the pipeline's download threads do per image after the download (safe
decode with JPEG draft mode to the 768 px working copy, then the model-input resize), with
1..N threads, to show whether the CPU keeps the captioner fed.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.blip_random import save_random_blip_base  # noqa: E402
from captioning import BlipCaptioner, GenerationSettings  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--dtypes", nargs="+", default=["float32"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--images", type=int, default=16, help="images per measurement")
    parser.add_argument(
        "--preprocess-threads", type=int, nargs="*", default=[], help="also measure preprocessing with these threads"
    )
    parser.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "altscout-blip-base-random")
    args = parser.parse_args()

    folder = save_random_blip_base(args.model_dir)
    jpegs = sample_jpegs(min(args.images, 64))
    jpegs = [jpegs[i % len(jpegs)] for i in range(args.images)]
    settings = GenerationSettings(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
    import torch

    print(
        f"# torch {torch.__version__}, threads {torch.get_num_threads()}, cores {os.cpu_count()}, device {args.device}"
    )
    print("| device | dtype | batch | images | seconds | s/image | images/s |")
    print("|---|---|---|---|---|---|---|")
    on_gpu = args.device.startswith("cuda")
    captioner = BlipCaptioner(str(folder), device="cpu", dtype="float32")
    for dtype in args.dtypes:
        captioner = BlipCaptioner(str(folder), device=args.device, dtype=dtype)
        captioner.load()
        images = [captioner.prepare(prepare_image(data, min_width=1, min_height=1).image) for data in jpegs]
        captioner.caption_batch(images[: max(args.batch_sizes) if on_gpu else 2], settings)  # warm-up
        for batch in args.batch_sizes:
            if on_gpu:
                torch.cuda.synchronize()
            started = time.perf_counter()
            for start in range(0, len(images), batch):
                captioner.caption_batch(images[start : start + batch], settings)
            if on_gpu:
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - started
            print(
                f"| {captioner.device} | {dtype} | {batch} | {len(images)} | {elapsed:.2f} | "
                f"{elapsed / len(images):.3f} | {len(images) / elapsed:.2f} |",
                flush=True,
            )
    if args.preprocess_threads:
        captioner.load()  # the recipe is read from the processor; the device does not matter
        print("\n| preprocessing threads | images | images/s |")
        print("|---|---|---|")
        many = [jpegs[i % len(jpegs)] for i in range(max(256, len(jpegs)))]
        for threads in args.preprocess_threads:
            print(f"| {threads} | {len(many)} | {preprocess_rate(captioner, many, threads):.1f} |", flush=True)


if __name__ == "__main__":
    main()
