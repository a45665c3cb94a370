"""Captioning stage alone: images per second of BLIP-base (random weights) at fixed length.

    python bench/bench_captioning.py --batch-sizes 1 8 --tokens 20

Images are decoded and held in memory; nothing touches the network. Every method generates
exactly ``--tokens`` new tokens (min_new_tokens = max_new_tokens), so timings compare work.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.blip_random import save_random_blip_base  # noqa: E402
from captioning import BlipCaptioner, GenerationSettings  # noqa: E402


def sample_images(n: int) -> list:
    """Photo-like RGB images of assorted sizes."""
    from PIL import Image, ImageDraw, ImageFilter

    images = []
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
        images.append(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    return images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--dtypes", nargs="+", default=["float32"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--images", type=int, default=16, help="images per measurement")
    parser.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "altscout-blip-base-random")
    args = parser.parse_args()

    folder = save_random_blip_base(args.model_dir)
    images = sample_images(args.images)
    settings = GenerationSettings(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
    import torch

    print(
        f"# torch {torch.__version__}, threads {torch.get_num_threads()}, cores {os.cpu_count()}, device {args.device}"
    )
    print("| device | dtype | batch | images | seconds | s/image | images/s |")
    print("|---|---|---|---|---|---|---|")
    for dtype in args.dtypes:
        captioner = BlipCaptioner(str(folder), device=args.device, dtype=dtype)
        captioner.load()
        captioner.caption_batch(images[:2], settings)  # warm-up
        for batch in args.batch_sizes:
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            started = time.perf_counter()
            for start in range(0, len(images), batch):
                captioner.caption_batch(images[start : start + batch], settings)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - started
            print(
                f"| {captioner.device} | {dtype} | {batch} | {len(images)} | {elapsed:.2f} | "
                f"{elapsed / len(images):.3f} | {len(images) / elapsed:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
