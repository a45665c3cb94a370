"""Suggested alt text and file names, and the alt/caption word-overlap score.

The overlap score is a documented heuristic (no second model): the share of the alt text's
content words (lower-cased, stop words removed, light stemming, a few synonym groups) that
also occur in the caption. 1.0 means every content word of the alt is in the caption; 0.0
means none is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from records import ImageRecord

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "on",
        "in",
        "at",
        "to",
        "for",
        "with",
        "and",
        "or",
        "by",
        "from",
        "into",
        "onto",
        "over",
        "under",
        "near",
        "next",
        "is",
        "are",
        "was",
        "were",
        "be",
        "being",
        "been",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "there",
        "here",
        "some",
        "two",
        "three",
        "several",
        "many",
        "his",
        "her",
        "their",
        "our",
        "your",
        "my",
        "who",
        "which",
        "while",
        "up",
        "down",
        "out",
        "off",
        "as",
        "very",
    ]
)
_SYNONYMS = {
    "men": "person",
    "man": "person",
    "woman": "person",
    "women": "person",
    "people": "person",
    "persons": "person",
    "boy": "person",
    "girl": "person",
    "child": "person",
    "children": "person",
    "kid": "person",
    "guy": "person",
    "lady": "person",
    "puppy": "dog",
    "kitten": "cat",
    "automobile": "car",
    "vehicle": "car",
    "sneaker": "shoe",
    "trainer": "shoe",
    "boot": "shoe",
    "photo": "picture",
    "photograph": "picture",
    "image": "picture",
}
_PREFIX = re.compile(
    r"^\s*(?:there is |there are )?(?:an? |the )?(?:close[- ]up |black and white )?"
    r"(?:image|picture|photo|photograph|graphic|pic|illustration|drawing) of\s+",
    re.I,
)
_WORD = re.compile(r"[a-z0-9]+")


_SUFFIXES = (("ies", "y"), ("s", ""), ("ing", ""), ("ed", ""))  # the first that leaves 3 letters is cut


def _stem(word: str) -> str:
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + replacement
    return word


@functools.lru_cache(maxsize=8192)
def content_words(text: str) -> frozenset[str]:
    """Normalised content words of a text (cached: captions, subjects and keywords recur on every page)."""
    words = set()
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS or len(word) < 2:
            continue
        stem = _stem(_SYNONYMS.get(word, word))
        words.add(_SYNONYMS.get(stem, stem))
    return frozenset(words)


def overlap_score(alt: str, caption: str) -> float | None:
    """Share of the alt's content words found in the caption (None when the alt has none)."""
    alt_words = content_words(alt)
    if not alt_words:
        return None
    return round(len(alt_words & content_words(caption)) / len(alt_words), 3)


def strip_prefix(text: str) -> str:
    """Remove 'a picture of' and the like from the start."""
    return _PREFIX.sub("", text).strip()


def sentence_case(text: str) -> str:
    """Capitalise the first letter, keep the rest."""
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def trim_to(text: str, limit: int) -> str:
    """Cut at a word boundary so the result is at most ``limit`` characters."""
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    cut = head.rsplit(" ", 1)[0].rstrip(" ,;:-") if " " in head else ""
    return cut if cut else text[:limit]


def suggest_alt(
    caption: str | None,
    *,
    limit: int = 125,
    in_link: bool = False,
    link_text: str | None = None,
    link_purpose: str | None = None,
    figcaption: str | None = None,
) -> str | None:
    """Alt text a person can accept; None when there is nothing to suggest from."""
    if in_link and link_text:
        return trim_to(sentence_case(link_text), limit)  # the link's own words say what it does
    if not caption:
        return None
    text = sentence_case(strip_prefix(caption).rstrip("."))
    if figcaption and overlap_score(text, figcaption) == 1.0:
        return ""  # the figcaption already says it: do not repeat it
    return _with_link_purpose(text, limit, trim_to, link_purpose if in_link else None)


def with_subject(text: str, basis: str, subject: str | None, source: str | None, limit: int) -> tuple[str, str]:
    """The page's subject before the caption ("Oxford Brogue: a pair of brown shoes"), unless the text
    already names it, or the text is the link's, the image's or the figcaption's own words."""
    if not subject or not source or not text or basis in ("link_text", "image_text", "figcaption"):
        return text, basis
    if content_words(subject) <= content_words(text):
        return text, basis
    lead = text if text[1:2].isupper() else text[:1].lower() + text[1:]  # keep an acronym's capitals
    return trim_to(f"{subject}: {lead}", limit), f"{source}+{basis}"


def with_keyword(text: str, keywords: Iterable[str], support: str, limit: int) -> str:
    """``text`` with the first keyword it lacks that ``support`` (what the image and its context say)
    bears out, when it fits; at most one is added, and a keyword the text already has is never repeated."""
    present, supported = content_words(text), content_words(support)
    for keyword in keywords:
        words = content_words(keyword)
        if not words or words <= present:
            continue
        if words <= supported and len(text) + len(keyword) + 2 <= limit:
            return f"{text}, {keyword}"
    return text


def _with_link_purpose(text: str, limit: int, trim: Callable[[str, int], str], purpose: str | None) -> str:
    """``text`` trimmed to ``limit``, ending with what its link does ("(link to the cart page)",
    :func:`auditing.link_names.link_purpose`) when it sits in a link whose address says."""
    if not purpose:
        return trim(text, limit)
    suffix = f" ({purpose})"
    return trim(text, max(limit - len(suffix), 20)) + suffix


SIGN_CLAUSE = " with a sign reading "  # joins a photo's caption and the short text seen in it
SHORT_TEXT_WORDS, SHORT_TEXT_CHARS = 4, 30  # incidental text this short is added to the caption


def trim_sentences(text: str, limit: int) -> str:
    """Whole sentences up to ``limit`` characters; else cut at a word boundary."""
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    ends = [match.end() for match in re.finditer(r"[.!?](?=\s|$)", head)]
    if ends and ends[-1] >= limit // 3:
        return head[: ends[-1]].strip()
    return trim_to(text, limit)


def is_short_text(text: str) -> bool:
    """Text short enough to quote inside a caption (a sign, a label)."""
    return len(text) <= SHORT_TEXT_CHARS and len(text.split()) <= SHORT_TEXT_WORDS


def suggest_text_alternative(
    caption: str | None,
    *,
    limit: int = 125,
    in_link: bool = False,
    link_text: str | None = None,
    link_purpose: str | None = None,
    figcaption: str | None = None,
    image_text: str | None = None,
    text_dominant: bool = False,
) -> tuple[str | None, str | None]:
    """The suggested text alternative and what it is made of (``suggestion_basis``).

    An image whose message is its text (a banner, a menu) is described by that text; a photo with
    a little text (a shop sign) by its caption with the text quoted; the image's own words are
    kept as they are written.
    """
    if in_link and link_text:
        return trim_to(sentence_case(link_text), limit), "link_text"
    if text_dominant and image_text:
        return _with_link_purpose(image_text, limit, trim_sentences, link_purpose if in_link else None), "image_text"
    suggestion = suggest_alt(
        caption, limit=limit, in_link=in_link, link_text=link_text, link_purpose=link_purpose, figcaption=figcaption
    )
    if suggestion is None:
        return None, None
    if suggestion == "":
        return "", "figcaption"
    if image_text and not in_link and is_short_text(image_text):
        with_text = f"{suggestion}{SIGN_CLAUSE}'{image_text}'"
        if len(with_text) <= limit:
            return with_text, "caption_and_text"
    return suggestion, "caption"


_GENERIC_STEM = re.compile(
    r"^(?:img|image|photo|picture|pic|dsc[nf]?|pxl|gopr|mvimg|screenshot|untitled|unnamed|download|file|"
    r"hero|banner|header|bg|background|thumb|thumbnail|placeholder|default|spacer|p)?[-_ ]?\d*(?:[-_ ]\d+)*"
    r"(?:[-_ ]?(?:x|scaled|copy|final|edited|min|large|small|\d+x\d+))*$",
    re.I,
)
_HASHLIKE = re.compile(r"^[0-9a-f]{12,}$|^(?=[A-Za-z]*\d)[A-Za-z0-9]{16,}$")  # hex digests, opaque ids


@functools.lru_cache(maxsize=8192)
def file_name(url: str) -> str:
    """The last path segment of a URL, unquoted (cached: a site's shared images recur on every page)."""
    return PurePosixPath(unquote(urlsplit(url).path)).name


@functools.lru_cache(maxsize=8192)
def is_descriptive_filename(url: str) -> bool:
    """False for camera names, hashes, numbers and generic words."""
    stem = PurePosixPath(file_name(url)).stem
    if not stem or url.startswith("data:"):
        return False
    return not (_GENERIC_STEM.fullmatch(stem) or _HASHLIKE.fullmatch(stem))


def slugify(text: str, max_words: int = 8) -> str:
    """Lower-case words joined by hyphens, stop words dropped."""
    words = [w for w in _WORD.findall(strip_prefix(text).lower()) if w not in STOP_WORDS]
    return "-".join(words[:max_words])


def suggest_filename(caption: str, url: str, image_format: str | None, taken: set[str]) -> str | None:
    """A descriptive file name from the caption, extension kept, collisions numbered."""
    slug = slugify(caption)
    if not slug:
        return None
    suffix = PurePosixPath(file_name(url)).suffix.lower()
    if not suffix:
        suffixes = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp", "AVIF": ".avif"}
        suffix = {**suffixes, "SVG": ".svg"}.get(image_format or "", ".jpg")  # SVG: drawn by the browser
    name, n = f"{slug}{suffix}", 2
    while name in taken:
        name, n = f"{slug}-{n}{suffix}", n + 1
    taken.add(name)
    return name


def kept_words(record: ImageRecord) -> tuple[str, str, str]:
    """A suggestion as (kept before, to translate, kept after): the page's subject and an image's quoted
    text stay as written."""
    text, basis = record.suggested_alt or "", record.suggestion_basis or ""
    before = after = ""
    if record.subject and basis.startswith(("jsonld+", "og_title+")) and text.startswith(f"{record.subject}: "):
        before, text = f"{record.subject}: ", text[len(record.subject) + 2 :]
    if basis.endswith("caption_and_text") and " '" in text:
        text, quoted = text.rsplit(" '", 1)
        after = f" '{quoted}"
    return before, text, after
