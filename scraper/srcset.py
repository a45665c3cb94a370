"""Parse ``srcset`` attributes with the HTML standard's algorithm, step for step.

"Parse a srcset attribute" (HTML Living Standard, images): a splitting loop, a descriptor
tokenizer with one "in parens" state (not a nesting depth), and a descriptor parser that
accepts exactly ``<valid non-negative integer>w``, ``<valid floating-point number>x`` and
``<valid non-negative integer>h`` (lower-case, ``h`` only beside a ``w``). A candidate with any
other descriptor, or a repeated or conflicting one, is dropped. Commas inside URLs survive
(``a,b,,c,`` is the single URL ``a,b,,c``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WS = " \t\n\r\f"  # ASCII whitespace (not U+000B)
_NON_NEGATIVE_INTEGER = re.compile(r"[0-9]+")
_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


@dataclass(frozen=True)
class Candidate:
    """One valid srcset entry."""

    url: str
    width: int | None = None
    density: float | None = None
    height: int | None = None  # the future-compat "h" descriptor


def _tokenize_descriptors(value: str, pos: int) -> tuple[list[str], int]:
    """The spec's descriptor tokenizer from ``pos``; return the descriptors and where it stopped."""
    n = len(value)
    while pos < n and value[pos] in _WS:
        pos += 1
    descriptors: list[str] = []
    current = ""
    state = "in descriptor"
    while True:
        ch = value[pos] if pos < n else None
        if state == "in descriptor":
            if ch is None:
                if current:
                    descriptors.append(current)
                return descriptors, pos
            if ch in _WS:
                if current:
                    descriptors.append(current)
                current, state = "", "after descriptor"
            elif ch == ",":
                if current:
                    descriptors.append(current)
                return descriptors, pos + 1
            elif ch == "(":
                current += ch
                state = "in parens"
            else:
                current += ch
        elif state == "in parens":
            if ch is None:
                descriptors.append(current)
                return descriptors, pos
            current += ch
            if ch == ")":
                state = "in descriptor"
        else:  # after descriptor
            if ch is None:
                return descriptors, pos
            if ch not in _WS:
                state = "in descriptor"
                continue  # reconsume this character
        pos += 1


def _parse_descriptors(url: str, descriptors: list[str]) -> Candidate | None:
    """The spec's descriptor parser: a candidate, or None when any descriptor is in error."""
    width: int | None = None
    density: float | None = None
    height: int | None = None
    for descriptor in descriptors:
        number, last = descriptor[:-1], descriptor[-1:]
        if last == "w" and _NON_NEGATIVE_INTEGER.fullmatch(number):
            if width is not None or density is not None or int(number) == 0:
                return None
            width = int(number)
        elif last == "x" and _FLOAT.fullmatch(number):
            if width is not None or density is not None or height is not None:
                return None
            density = float(number)
            if density < 0:
                return None
        elif last == "h" and _NON_NEGATIVE_INTEGER.fullmatch(number):
            if height is not None or density is not None or int(number) == 0:
                return None
            height = int(number)
        else:
            return None
    if height is not None and width is None:
        return None
    return Candidate(url=url, width=width, density=density, height=height)


def parse_srcset(value: str) -> list[Candidate]:
    """Return the valid candidates of a srcset value, in document order."""
    candidates: list[Candidate] = []
    pos, n = 0, len(value)
    while True:
        while pos < n and (value[pos] in _WS or value[pos] == ","):  # splitting loop
            pos += 1
        if pos >= n:
            return candidates
        start = pos
        while pos < n and value[pos] not in _WS:
            pos += 1
        url = value[start:pos]
        descriptors: list[str] = []
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            descriptors, pos = _tokenize_descriptors(value, pos)
        if url and (candidate := _parse_descriptors(url, descriptors)) is not None:
            candidates.append(candidate)


def largest(candidates: list[Candidate]) -> Candidate | None:
    """The candidate a large screen would pick: biggest width, else biggest density (first on ties)."""
    if not candidates:
        return None
    with_width = [c for c in candidates if c.width is not None]
    if with_width:
        return max(with_width, key=lambda c: c.width or 0)
    return max(candidates, key=lambda c: c.density if c.density is not None else 1.0)
