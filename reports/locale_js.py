"""Locale files written as JavaScript or TypeScript modules (``locales/de.ts``: ``export default { hero: { alt:
"…" } }``, Nuxt i18n's ``defineI18nLocale(() => ({ … }))``, ``module.exports = { … }``): where the string at a key
stands, for :mod:`reports.patch_locales`.

A small scanner reads the object literal after ``export default``, ``module.exports =`` or a ``=> (`` or ``return``:
keys as names or strings, values as strings (in ``'``, ``"`` or a template with no ``${}``), objects, arrays or any
other expression (passed over, brackets and strings counted), comments and trailing commas allowed. A computed key
or a spread before the key stops it: the text is left to a person.
"""

from __future__ import annotations

import json
import re

JS_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts")
_START = re.compile(r"export\s+default\b|module\.exports\s*=|=>\s*\(?|\breturn\b")
_NAME = re.compile(r"[A-Za-z_$][\w$]*")
_CLOSE = {"{": "}", "[": "]", "(": ")"}


class _Unreadable(Exception):
    """Not an object literal this scanner reads."""


def js_value_span(text: str, keys: list[str]) -> tuple[int, int] | None:
    """Where the string at ``keys`` stands in a locale module, quotes included; None where none does (or the
    module is not one the scanner reads)."""
    for start in _START.finditer(text):
        index = _space(text, start.end())
        if index < len(text) and text[index] == "{":
            try:
                found = _value(text, index, keys)[1]
            except (_Unreadable, IndexError):
                continue
            if found is not None:
                return found
    return None


def _value(text: str, index: int, keys: list[str] | None) -> tuple[int, tuple[int, int] | None]:
    """Read the value at ``index``: where it ends, and the span of the string at ``keys`` within it."""
    char = text[index]
    if char == "{":
        found, index = None, _space(text, index + 1)
        while text[index] != "}":
            if text.startswith("...", index) or text[index] == "[":
                raise _Unreadable("a spread or a computed key")
            name, index = _key(text, index)
            index = _space(text, index)
            if text[index] != ":":
                raise _Unreadable("a method or a shorthand")
            wanted = keys[1:] if keys and name == keys[0] and found is None else None
            index, inner = _value(text, _space(text, index + 1), wanted)
            found = found or inner
            index = _space(text, index)
            if text[index] == ",":
                index = _space(text, index + 1)
            elif text[index] != "}":
                raise _Unreadable(", or }")
        return index + 1, found
    if char in "'\"`":
        end = _string_end(text, index)
        plain = char != "`" or "${" not in text[index:end]
        return end, (index, end) if keys == [] and plain else None
    return _expression_end(text, index), None


def _key(text: str, index: int) -> tuple[str, int]:
    """A member's key (a name, a string or a number) and where it ends."""
    if text[index] in "'\"":
        end = _string_end(text, index)
        return _string(text[index:end]), end
    name = _NAME.match(text, index) or re.compile(r"\d+").match(text, index)
    if name is None:
        raise _Unreadable("a key")
    return name.group(), name.end()


def _string(literal: str) -> str:
    """A JavaScript string literal's text (its common escapes read as JSON reads them)."""
    inner = literal[1:-1]
    if literal[0] == "'":
        inner = re.sub(r'\\(.)|"', lambda m: '\\"' if m.group(0) == '"' else ("'" if m.group(1) == "'" else m.group(0)),
                       inner)  # fmt: skip
    try:
        return json.loads(f'"{inner}"')
    except ValueError:
        return inner


def _string_end(text: str, index: int) -> int:
    """Past the string (or template) that starts at ``index``."""
    quote, index = text[index], index + 1
    while text[index] != quote:
        if text[index] == "\n" and quote != "`":
            raise _Unreadable("a string that does not end on its line")
        index += 2 if text[index] == "\\" else 1
    return index + 1


def _expression_end(text: str, index: int) -> int:
    """Where an expression ends: at the ``,`` or the closing bracket of its level (strings and brackets passed)."""
    depth: list[str] = []
    while True:
        char = text[index]
        if char in "'\"`":
            index = _string_end(text, index)
            continue
        if text.startswith(("//", "/*"), index):
            index = _space(text, index)
            continue
        if char in _CLOSE:
            depth.append(_CLOSE[char])
        elif depth and char == depth[-1]:
            depth.pop()
        elif not depth and char in ",}]":
            return index
        index += 1


def _space(text: str, index: int) -> int:
    """Past spaces and comments."""
    while index < len(text):
        if text[index].isspace():
            index += 1
        elif text.startswith("//", index):
            end = text.find("\n", index)
            index = len(text) if end < 0 else end + 1
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            index = len(text) if end < 0 else end + 2
        else:
            break
    return index
