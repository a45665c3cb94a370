"""The textbook loop AltScout replaces, kept as the benchmark's reference.

Fetch the page, then for each ``img src``: one blocking download, one processor call, one
float32 ``generate`` at batch size 1, ``URL: caption`` lines in captions.txt. (As in the
tutorial, relative URLs are dropped and tiny images are skipped by area.)
"""

from __future__ import annotations

import io
from pathlib import Path

import requests
import torch
from bs4 import BeautifulSoup
from PIL import Image


def load(model_dir: str) -> tuple[object, object]:
    """Processor and float32 model, as the tutorial loads them."""
    from transformers import BlipForConditionalGeneration, BlipProcessor

    processor = BlipProcessor.from_pretrained(model_dir)
    model = BlipForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).eval()
    return processor, model


def run(page_url: str, processor: object, model: object, tokens: int, out: Path) -> int:
    """Caption every image of the page one by one; return how many were captioned."""
    html = requests.get(page_url, timeout=30).text
    soup = BeautifulSoup(html, "html.parser")
    captioned = 0
    with out.open("w", encoding="utf-8") as handle:
        for img in soup.find_all("img"):
            src = img.get("src", "")
            if src.startswith("//"):
                src = "https:" + src
            if not src.startswith("http"):
                continue
            try:
                response = requests.get(src, timeout=30)
                image = Image.open(io.BytesIO(response.content)).convert("RGB")
            except Exception as exc:  # the tutorial prints and moves on
                print(f"error on {src}: {exc}")
                continue
            if image.size[0] * image.size[1] < 400:
                continue
            inputs = processor(images=image, return_tensors="pt")  # type: ignore[operator]
            output = model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens)  # type: ignore[attr-defined]
            caption = processor.decode(output[0], skip_special_tokens=True)  # type: ignore[attr-defined]
            handle.write(f"{src}: {caption}\n")
            captioned += 1
    return captioned
