"""Text read from an image: reading order, normalisation, area covered, and fuzzy matching with alt text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

COVERAGE_GRID = 256  # the coverage mask's longer side, px
WORD_MATCH = 80  # rapidfuzz ratio (0-100) for an OCR word to count as present in the alt text
TEXT_IN_ALT_SHARE = 0.8  # share of the image's words the alt must carry


@dataclass(frozen=True)
class TextLine:
    """One line (or word group) the detector found, with what the recognizer read in it."""

    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels
    score: float

    @property
    def height(self) -> float:
        """The line's box height in pixels."""
        return self.box[3] - self.box[1]


def normalise_space(text: str) -> str:
    """Whitespace collapsed to single spaces, trimmed."""
    return " ".join(text.split())


def reading_order(lines: Sequence[TextLine]) -> list[TextLine]:
    """Top to bottom by rows (boxes whose vertical centres fall within half a line), left to right in a row."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda item: (item.box[1] + item.box[3]) / 2):
        centre = (line.box[1] + line.box[3]) / 2
        if rows:
            last = rows[-1]
            row_centre = sum((item.box[1] + item.box[3]) / 2 for item in last) / len(last)
            row_height = max(item.height for item in last)
            if abs(centre - row_centre) <= max(row_height, line.height) / 2:
                last.append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: item.box[0])]


def joined_text(lines: Sequence[TextLine]) -> str | None:
    """The text of the lines in reading order, whitespace normalised; None when there is none."""
    text = normalise_space(" ".join(line.text for line in reading_order(lines)))
    return text or None


def coverage(lines: Sequence[TextLine], width: int, height: int) -> float:
    """The share (0-1) of the image's area inside at least one text box (overlaps counted once)."""
    if not lines or width <= 0 or height <= 0:
        return 0.0
    scale = COVERAGE_GRID / max(width, height)
    grid_w, grid_h = max(1, round(width * scale)), max(1, round(height * scale))
    mask = np.zeros((grid_h, grid_w), dtype=bool)
    for x0, y0, x1, y1 in (line.box for line in lines):
        left, top = max(0, int(x0 * scale)), max(0, int(y0 * scale))
        right, bottom = min(grid_w, int(np.ceil(x1 * scale))), min(grid_h, int(np.ceil(y1 * scale)))
        mask[top:bottom, left:right] = True
    return round(float(mask.mean()), 4)


def comparable_words(text: str) -> list[str]:
    """Case-folded words without accents or punctuation (for fuzzy comparisons)."""
    stripped = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(char for char in stripped if not unicodedata.combining(char))
    return [word for word in re.split(r"[^\w%€$£]+", stripped) if word]


def text_in_alt(image_text: str, alt: str) -> bool:
    """Whether the alt text carries the image's text: most of its words, each matched fuzzily."""
    wanted = [word for word in comparable_words(image_text) if len(word) > 1 or word.isdigit()]
    have = comparable_words(alt)
    if not wanted:
        return True
    if not have:
        return False
    found = sum(1 for word in wanted if process.extractOne(word, have, scorer=fuzz.ratio, score_cutoff=WORD_MATCH))
    return found / len(wanted) >= TEXT_IN_ALT_SHARE
