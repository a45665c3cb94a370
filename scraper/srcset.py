"""Parse ``srcset`` attributes following the HTML standard's algorithm.

Handles commas inside URLs (``a,b,,c,`` is the single URL ``a,b,,c``), empty candidates,
and ``w``/``x`` descriptors; a candidate without a descriptor counts as ``1x``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WS = " \t\n\r\f"


@dataclass(frozen=True)
class Candidate:
    """One srcset entry."""

    url: str
    width: int | None = None
    density: float | None = None


def _split_descriptors(text: str) -> tuple[list[str], int]:
    """Read descriptor tokens up to an unparenthesised comma; return tokens and end index."""
    tokens: list[str] = []
    current = ""
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if depth == 0 and ch == ",":
            i += 1
            break
        if depth == 0 and ch in _WS:
            if current:
                tokens.append(current)
                current = ""
        else:
            if ch == "(":
                depth += 1
            elif ch == ")" and depth:
                depth -= 1
            current += ch
        i += 1
    if current:
        tokens.append(current)
    return tokens, i


def parse_srcset(value: str) -> list[Candidate]:
    """Return the valid candidates of a srcset value, in document order."""
    candidates: list[Candidate] = []
    pos = 0
    n = len(value)
    while pos < n:
        while pos < n and (value[pos] in _WS or value[pos] == ","):
            pos += 1
        if pos >= n:
            break
        start = pos
        while pos < n and value[pos] not in _WS:
            pos += 1
        url = value[start:pos]
        descriptors: list[str] = []
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            descriptors, consumed = _split_descriptors(value[pos:])
            pos += consumed
        if not url:
            continue
        candidate = _with_descriptors(url, descriptors)
        if candidate is not None:
            candidates.append(candidate)
    return candidates


def _with_descriptors(url: str, descriptors: list[str]) -> Candidate | None:
    width: int | None = None
    density: float | None = None
    for token in descriptors:
        if re.fullmatch(r"\d+w", token) and width is None and density is None:
            width = int(token[:-1])
            if width <= 0:
                return None
        elif re.fullmatch(r"[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?x", token, re.I) and width is None and density is None:
            density = float(token[:-1])
            if density <= 0:
                return None
        elif re.fullmatch(r"\d+h", token):
            continue  # future-compat height descriptor: ignored
        else:
            return None  # invalid descriptor: the spec drops the candidate
    return Candidate(url=url, width=width, density=density)


def largest(candidates: list[Candidate]) -> Candidate | None:
    """The candidate a large screen would pick: biggest width, else biggest density."""
    if not candidates:
        return None
    with_width = [c for c in candidates if c.width is not None]
    if with_width:
        return max(with_width, key=lambda c: c.width or 0)
    return max(candidates, key=lambda c: c.density if c.density is not None else 1.0)
