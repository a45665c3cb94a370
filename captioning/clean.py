"""Remove BLIP's known artefacts from a raw caption."""

from __future__ import annotations

import re

# BLIP's training captions leak "arafed"/"araffe"/"arafly"… (a mis-tokenised "a rafted").
_ARTEFACT = re.compile(r"\b(?:ara+f+\w*|arafe\w*|araf\w*)\b", re.IGNORECASE)
_DOUBLED = re.compile(r"\b(\w+)(?:\s+\1\b)+", re.IGNORECASE)
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
_MARK = "\x00"
# Only an article that stood before a removed artefact is re-chosen ("an arafed man").
_ARTICLE = re.compile(r"\b(a|an)\s+\x00[\s\x00]*(\w)", re.IGNORECASE)
_VOWEL_SOUND = set("aeiouAEIOU")


def _fix_article(match: re.Match[str]) -> str:
    article, first = match.group(1), match.group(2)
    wanted = "an" if first in _VOWEL_SOUND else "a"
    if article.lower() == wanted:
        return match.group(0)
    return (wanted.capitalize() if article[0].isupper() else wanted) + " " + first


def clean_caption(raw: str) -> str:
    """Drop artefact words, collapse doubled words and stray spaces, fix a/an after them."""
    text = _ARTEFACT.sub(_MARK, raw.replace(_MARK, ""))
    text = _ARTICLE.sub(_fix_article, text).replace(_MARK, " ")
    text = _DOUBLED.sub(r"\1", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return text.strip(" ,;:")
