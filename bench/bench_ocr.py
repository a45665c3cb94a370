"""OCR quality and speed on the generated evaluation set (bench/ocr_set.py), against Tesseract too.

Reports, for AltScout's reader (RapidOCR + PP-OCRv5) and, when installed, Tesseract 5
(``apt-get install tesseract-ocr tesseract-ocr-{eng,spa,fra,deu}`` and ``pip install pytesseract``):
character error rate and word accuracy on the text images (all, clean = text >= 24 px on a flat
background, by language, by text height, by background), detection precision and recall (text vs
no text over text images and photos), and time per image (detector, recognizer).

    python3 bench/bench_ocr.py                     # 240 text images + 200 photos
    python3 bench/bench_ocr.py --quick             # 40 + 20, a smoke run
    python3 bench/bench_ocr.py --engines altscout  # skip Tesseract
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from rapidfuzz.distance import Levenshtein

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ocr_set import Sample, evaluation_set
from ocr.reader import get_text_reader
from ocr.text import normalise_space

Reader = Callable[[Image.Image], tuple[str | None, float, float]]  # text, detect seconds, recognise seconds


def altscout_reader() -> Reader:
    reader = get_text_reader()
    reader.load()

    def read(image: Image.Image) -> tuple[str | None, float, float]:
        reading = reader.read(image)
        return reading.text, reading.detect_s, reading.recognise_s

    return read


def tesseract_reader() -> Reader | None:
    try:
        import pytesseract
    except ImportError:
        return None
    if shutil.which("tesseract") is None:
        return None
    languages = set(pytesseract.get_languages())
    wanted = "+".join(code for code in ("eng", "spa", "fra", "deu") if code in languages) or "eng"

    def read(image: Image.Image) -> tuple[str | None, float, float]:
        started = time.perf_counter()
        text = normalise_space(pytesseract.image_to_string(image, lang=wanted))
        return (text if sum(char.isalnum() for char in text) >= 2 else None), time.perf_counter() - started, 0.0

    return read


def cer(truth: str, read: str | None) -> float:
    return Levenshtein.distance(truth, read or "") / max(1, len(truth))


def word_accuracy(truth: str, read: str | None) -> float:
    words = truth.split()
    return max(0.0, 1 - Levenshtein.distance(words, (read or "").split()) / max(1, len(words)))


def evaluate(reader: Reader, samples: list[Sample]) -> dict:
    by: dict[str, list[tuple[float, float]]] = defaultdict(list)
    detect, recognise = [], []
    tp = fp = fn = tn = 0
    worst: list[tuple[float, str, str, str | None]] = []
    for sample in samples:
        text, detect_s, recognise_s = reader(sample.image)
        detect.append(detect_s)
        recognise.append(recognise_s)
        found = text is not None
        if sample.text is None:
            fp, tn = fp + found, tn + (not found)
            continue
        tp, fn = tp + found, fn + (not found)
        pair = (cer(sample.text, text), word_accuracy(sample.text, text))
        for key in ("all", f"lang {sample.lang}", f"height {sample.height_px}px", f"background {sample.background}"):
            by[key].append(pair)
        if sample.clean:
            by["clean (>= 24 px, flat)"].append(pair)
        worst.append((pair[0], sample.name, sample.text, text))

    def mean(values: list[float]) -> float:
        return round(statistics.fmean(values), 4) if values else 0.0

    table = {
        key: {"images": len(pairs), "cer": mean([p[0] for p in pairs]), "word_accuracy": mean([p[1] for p in pairs])}
        for key, pairs in sorted(by.items())
    }
    return {
        "quality": table,
        "detection": {
            "precision": round(tp / max(1, tp + fp), 4),
            "recall": round(tp / max(1, tp + fn), 4),
            "true_positive": tp,
            "false_positive": fp,
            "false_negative": fn,
            "true_negative": tn,
        },
        "seconds_per_image": {
            "detect_mean": mean(detect),
            "recognise_mean": mean(recognise),
            "total_p50": round(statistics.median([a + b for a, b in zip(detect, recognise, strict=True)]), 4),
        },
        "worst": [
            {"image": name, "cer": round(error, 3), "truth": truth, "read": read}
            for error, name, truth, read in sorted(worst, reverse=True)[:8]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 text images and 20 photos")
    parser.add_argument("--engines", default="altscout,tesseract")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    texts, photos = (40, 20) if args.quick else (240, 200)
    samples = list(evaluation_set(texts, photos))
    results = {"set": {"text_images": texts, "photos": photos}}
    engines = {"altscout": altscout_reader, "tesseract": tesseract_reader}
    for name in args.engines.split(","):
        reader = engines[name]()
        if reader is None:
            print(f"{name}: not installed, skipped", file=sys.stderr)
            continue
        results[name] = evaluate(reader, samples)
        print(json.dumps({name: results[name]}, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
