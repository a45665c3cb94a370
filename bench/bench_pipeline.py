"""End to end: the naive loop versus AltScout's pipeline on the same local site, same model.

    python bench/bench_pipeline.py            # 48 images (about 4 minutes on 2 CPU cores)
    python bench/bench_pipeline.py --quick    # 6 images, under a minute
    python bench/bench_pipeline.py --memory   # peak memory at 48 and 480 images (small BLIP)
    python bench/bench_pipeline.py --ocr-overhead   # 48 images with --ocr off and auto, alternating, twice each

A loopback server serves a page of photos (scikit-image's sample photos when installed, else
synthetic ones) at 400-1600 px as JPEG/PNG/WebP, each image response delayed by 150 ms. Both
methods run the full-size BLIP-base architecture with random weights and exactly ``--tokens``
new tokens, each in its own process (model loading excluded from the timings, as in a server).
A row per run is appended to bench/results.md.
"""

from __future__ import annotations

import argparse
import http.server
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loopback  # noqa: E402
from bench.busy import time_batches  # noqa: E402

RESULTS = ROOT / "bench" / "results.md"
PHOTOS = [
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "motorcycle_left.png",
    "rocket.jpg",
    "retina.jpg",
    "hubble_deep_field.jpg",
    "ihc.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "color.png",
]
FORMATS = [("JPEG", "jpg", "image/jpeg"), ("PNG", "png", "image/png"), ("WEBP", "webp", "image/webp")]
DELAY_S = 0.150


def _sources() -> list:
    """Real photos from scikit-image's data folder if installed, else synthetic pictures."""
    from PIL import Image, ImageDraw, ImageFilter

    try:
        import importlib.util

        spec = importlib.util.find_spec("skimage")
        folder = Path(next(iter(spec.submodule_search_locations))) / "data" if spec else None
    except (ImportError, StopIteration):
        folder = None
    images = []
    if folder is not None:
        for name in PHOTOS:
            if (folder / name).exists():
                images.append(Image.open(folder / name).convert("RGB"))
    if images:
        return images
    for i in range(8):  # fallback: blurred shapes with noise, photo-like for the codecs
        image = Image.effect_noise((800, 600), 40 + i * 5).convert("RGB")
        draw = ImageDraw.Draw(image)
        for k in range(12):
            draw.ellipse((k * 30, k * 20, 800 - k * 25, 600 - k * 15), fill=((k * 37 + i * 50) % 256, 90, 160))
        images.append(image.filter(ImageFilter.GaussianBlur(1.5)))
    return images


def build_site(count: int) -> dict[str, tuple[bytes, str]]:
    """Routes of the benchmark site: one page and ``count`` images of varied size and format."""
    sources = _sources()
    routes: dict[str, tuple[bytes, str]] = {}
    for i in range(count):
        source = sources[i % len(sources)]
        width = 400 + (i * 173) % 1201  # 400..1600 px
        height = max(300, int(width * source.height / source.width))
        fmt, ext, content_type = FORMATS[i % len(FORMATS)]
        image = source.resize((width, height))
        if i // len(sources) % 2:
            image = image.transpose(0)  # mirrored copies: different bytes, same content
        buffer = io.BytesIO()
        image.save(buffer, fmt, quality=85)
        routes[f"/img/photo-{i:03d}.{ext}"] = (buffer.getvalue(), content_type)
    return routes


def serve(routes: dict[str, tuple[bytes, str]]) -> http.server.ThreadingHTTPServer:
    """Serve the site on 127.0.0.1; image responses wait DELAY_S like a real network."""

    def answer(path: str, base: str) -> loopback.Answer:
        if path == "/robots.txt":
            return loopback.ROBOTS_ALLOW_ALL
        if path == "/index.html":
            tags = "".join(f'<img src="{base}{p}" alt="">' for p in sorted(routes))
            return 200, "text/html", f"<html><body>{tags}</body></html>".encode()
        if path in routes:
            body, content_type = routes[path]
            return 200, content_type, body
        return loopback.NOT_FOUND

    return loopback.serve(answer, lambda path: DELAY_S if path in routes else 0.0)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- children ------------------------------------------------------------------------------


def child_naive(args: argparse.Namespace) -> dict[str, float]:
    from bench.naive import load, run

    processor, model = load(str(args.model_dir))
    started = time.perf_counter()
    captioned = run(args.url, processor, model, args.tokens, Path(args.workdir) / "naive-captions.txt")
    return {"seconds": time.perf_counter() - started, "captioned": captioned, "peak_rss_mb": peak_rss_mb()}


def child_altscout(args: argparse.Namespace) -> dict[str, float]:
    from captioning import get_captioner
    from options import AuditOptions
    from pipeline import run_audit
    from reports import write_captions_txt

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # the CPU plan's runtimes follow PyTorch's setting
    options = AuditOptions(
        model=str(args.model_dir),
        allow_private=True,
        max_new_tokens=args.tokens,
        min_new_tokens=args.tokens,
        cache_dir=args.cache,
        max_images=1000,
        ocr=args.ocr,
        backend=args.backend,
        dtype=args.dtype,
        download_workers=args.download_workers,
    )
    captioner = get_captioner(options.captioner_spec)
    captioner.load()
    busy = time_batches(captioner)
    started = time.perf_counter()
    report = run_audit([args.url], options, captioner)
    write_captions_txt(report, Path(args.workdir) / "altscout-captions.txt")
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "captioned": report.summary()["captioned"],
        "peak_rss_mb": peak_rss_mb(),
        "caption_busy_s": busy["s"],
        "batches": busy["batches"],
        "batch_size": report.model["batch_size"],
        "ocr": report.model["ocr"],
        "plan": f"{report.model['backend']}/{report.model['dtype']}",
    }


def run_child(
    method: str,
    url: str,
    model_dir: Path,
    tokens: int,
    workdir: Path,
    cache: Path | None = None,
    ocr: str = "auto",
    variant: tuple[str, ...] = (),
) -> dict:
    """Run one method in a fresh Python process and return its measurements."""
    command = [
        sys.executable,
        __file__,
        "--child",
        method,
        "--url",
        url,
        "--model-dir",
        str(model_dir),
        "--tokens",
        str(tokens),
        "--workdir",
        str(workdir),
        "--ocr",
        ocr,
    ]
    if cache is not None:
        command += ["--cache", str(cache)]
    command += list(variant)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{method} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def small_blip(folder: Path) -> Path:
    """A small random BLIP for the memory comparison (the pipeline's bounds do not depend on it)."""
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipProcessor
    from transformers.models.blip import BlipImageProcessorPil

    if (folder / "model.safetensors").exists():
        return folder
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"] + [f"w{i}" for i in range(200)]
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(words)})
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    processor = BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": 384, "width": 384}), tokenizer=tokenizer
    )
    config = BlipConfig(
        vision_config={"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2},
        text_config={
            "vocab_size": len(words),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "bos_token_id": 5,
            "pad_token_id": 0,
            "sep_token_id": 3,
        },
    )
    torch.manual_seed(0)
    BlipForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's flags (the hidden ones run one child process)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--quick", action="store_true", help="6 images, under a minute")
    parser.add_argument("--memory", action="store_true", help="peak memory at 48 and 480 images (small BLIP)")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--ocr-overhead", action="store_true", help="AltScout with --ocr off and auto, alternating")
    parser.add_argument("--ocr", choices=["auto", "off"], default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "altscout-blip-base-random")
    parser.add_argument("--child", choices=["naive", "altscout"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--download-workers", type=int, default=8, help=argparse.SUPPRESS)
    parser.add_argument(
        "--cpu-paths",
        action="store_true",
        help="also run AltScout's exact path (float32), PyTorch eager float32 and PyTorch's own dtype choice",
    )
    parser.add_argument(
        "--threads-sweep",
        type=int,
        nargs="*",
        default=None,
        metavar="THREADS",
        help="AltScout's defaults with these model threads (default 1..cores), each with 2 and 8 download threads",
    )
    return parser


def main() -> None:
    args = build_parser().parse_args()

    if args.child:
        result = child_naive(args) if args.child == "naive" else child_altscout(args)
        print(json.dumps(result))
        return

    workdir = Path(tempfile.mkdtemp(prefix="altscout-bench-"))
    if args.memory:
        memory_table(workdir)
        return

    from bench.blip_random import save_random_blip_base

    count = 6 if args.quick else args.images
    if args.ocr_overhead:
        ocr_overhead(count, save_random_blip_base(args.model_dir), args.tokens, workdir)
        return
    model_dir = save_random_blip_base(args.model_dir)
    server = serve(build_site(count))
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    print(
        f"# {count} images, {args.tokens} tokens, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; model loading excluded"
    )
    print("| method | seconds | images/s | captioned | peak RSS (MiB) | captioner busy (s) |")
    print("|---|---|---|---|---|---|")
    naive = None
    if not args.skip_naive:
        naive = run_child("naive", url, model_dir, args.tokens, workdir)
        _print_row("naive loop", naive, count)
    cache = workdir / "cache"
    if args.quick:  # one process fewer: the defaults run also fills the cache (writes are cheap)
        ours = run_child("altscout", url, model_dir, args.tokens, workdir, cache)
        _print_row("AltScout (defaults + --cache, cold)", ours, count)
    else:
        ours = run_child("altscout", url, model_dir, args.tokens, workdir)
        _print_row("AltScout (defaults)", ours, count)
        cold = run_child("altscout", url, model_dir, args.tokens, workdir, cache)
        _print_row("AltScout --cache, cold", cold, count)
    warm = run_child("altscout", url, model_dir, args.tokens, workdir, cache)
    _print_row("AltScout --cache, re-audit", warm, count)
    for name, variant in variants(args):
        result = run_child("altscout", url, model_dir, args.tokens, workdir, variant=variant)
        _print_row(name, result, count)
        if naive is not None:
            print(f"|   speed-up over the naive loop: {naive['seconds'] / result['seconds']:.2f}x | | | | | |")
    server.shutdown()
    if naive is not None:
        print(f"\nspeed-up AltScout / naive: {naive['seconds'] / ours['seconds']:.2f}x")
    print(
        f"end to end / captioner busy: {ours['seconds'] / ours['caption_busy_s']:.3f} "
        f"({ours['batches']} batches of up to {ours['batch_size']})"
    )
    print(f"re-audit with warm cache: {warm['seconds']:.2f} s, captioner busy {warm['caption_busy_s']:.2f} s")
    _append(f"end to end, {count} images", ours, naive)


def memory_table(workdir: Path) -> None:
    """--memory: peak RSS at 48 and 480 images with a small BLIP."""
    model_dir = small_blip(Path(tempfile.gettempdir()) / "altscout-blip-small-random")
    print("| images | seconds | peak RSS (MiB) |\n|---|---|---|")
    for count in (48, 480):
        server = serve(build_site(count))
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        result = run_child("altscout", url, model_dir, 2, workdir)
        server.shutdown()
        print(f"| {count} | {result['seconds']:.1f} | {result['peak_rss_mb']:.0f} |", flush=True)
        _append(f"memory, small BLIP, {count} images", result, None)


def variants(args: argparse.Namespace) -> list[tuple[str, tuple[str, ...]]]:
    """The extra AltScout runs asked for: CPU paths, thread counts."""
    extra: list[tuple[str, tuple[str, ...]]] = []
    if args.cpu_paths:
        extra += [
            ("AltScout --dtype float32 (the exact path)", ("--dtype", "float32")),
            ("AltScout --backend torch --dtype float32", ("--backend", "torch", "--dtype", "float32")),
            ("AltScout --backend torch (PyTorch's dtype choice)", ("--backend", "torch")),
        ]
    if args.threads_sweep is not None:
        for threads in args.threads_sweep or range(1, (os.cpu_count() or 1) + 1):
            for workers in (2, 8):
                extra.append(
                    (
                        f"AltScout, {threads} model threads, {workers} download threads",
                        ("--threads", str(threads), "--download-workers", str(workers)),
                    )
                )
    return extra


def ocr_overhead(count: int, model_dir: Path, tokens: int, workdir: Path) -> None:
    """End to end with OCR off and on, alternating (off, auto, off, auto), and OCR time per image."""
    server = serve(build_site(count))
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    print(f"# {count} images, {tokens} tokens, {os.cpu_count()} cores; model loading excluded")
    print("| run | --ocr | seconds | captioned | OCR images | detect s/image | recognise s/image |")
    print("|---|---|---|---|---|---|---|")
    seconds: dict[str, list[float]] = {"off": [], "auto": []}
    for run in range(2):
        for mode in ("off", "auto"):
            result = run_child("altscout", url, model_dir, tokens, workdir, ocr=mode)
            seconds[mode].append(result["seconds"])
            ocr = result["ocr"]
            read = ocr.get("images_read", 0)
            per = (f"{ocr['detect_s'] / read:.3f}", f"{ocr['recognise_s'] / read:.3f}") if read else ("", "")
            row = [run + 1, mode, f"{result['seconds']:.1f}", result["captioned"], read, *per]
            print("| " + " | ".join(str(cell) for cell in row) + " |")
    server.shutdown()
    off, auto = sum(seconds["off"]) / 2, sum(seconds["auto"]) / 2
    print(f"\nOCR overhead end to end: {100 * (auto / off - 1):+.1f}% ({auto:.1f} s vs {off:.1f} s, mean of 2 each)")


def _print_row(name: str, result: dict, count: int) -> None:
    busy = f"{result['caption_busy_s']:.1f}" if "caption_busy_s" in result else ""
    plan = f" [{result['plan']}]" if "plan" in result else ""
    print(
        f"| {name}{plan} | {result['seconds']:.1f} | {count / result['seconds']:.2f} | {result['captioned']} | "
        f"{result['peak_rss_mb']:.0f} | {busy} |",
        flush=True,
    )


def _append(what: str, ours: dict, naive: dict | None) -> None:
    """Add a row to bench/results.md."""
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results (appended by bench/bench_pipeline.py)\n\n"
            "| date | machine | run | AltScout s | naive s | speed-up | peak RSS MiB |\n"
            "|---|---|---|---|---|---|---|\n"
        )
    naive_s = f"{naive['seconds']:.1f}" if naive else ""
    ratio = f"{naive['seconds'] / ours['seconds']:.2f}x" if naive else ""
    machine = f"{platform.machine()} {os.cpu_count()} cores"
    with RESULTS.open("a") as handle:
        handle.write(
            f"| {date.today()} | {machine} | {what} | {ours['seconds']:.1f} | {naive_s} | {ratio} | "
            f"{ours['peak_rss_mb']:.0f} |\n"
        )


if __name__ == "__main__":
    main()
