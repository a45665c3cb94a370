"""Background images in CSS: inline ``style`` attributes and stylesheet rules (tinycss2)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import tinycss2
from tinycss2 import ast

_IMAGE_PROPERTIES = {"background", "background-image"}
# Pseudo-classes and pseudo-elements that depend on interaction or generated content:
# the element they hang on is what the visitor sees, so they are dropped before matching.
_PSEUDO = re.compile(r"::?[a-zA-Z-]+(\((?:[^()]|\([^()]*\))*\))?")
_STRUCTURAL = {
    ":not",
    ":is",
    ":where",
    ":has",
    ":nth-child",
    ":nth-of-type",
    ":first-child",
    ":last-child",
    ":only-child",
    ":first-of-type",
    ":last-of-type",
    ":only-of-type",
    ":root",
    ":empty",
}


@dataclass(frozen=True)
class CssBackground:
    """A background image URL and the selector of the rule that sets it."""

    selector: str
    url: str


def _urls_in_tokens(tokens: Iterable[ast.Node]) -> Iterator[str]:
    for token in tokens:
        if isinstance(token, ast.URLToken):
            yield token.value.strip()
        elif isinstance(token, ast.FunctionBlock):
            if token.lower_name == "url":
                for arg in token.arguments:
                    if isinstance(arg, ast.StringToken):
                        yield arg.value.strip()
                        break
            else:  # image-set(), -webkit-image-set(), linear-gradient(url()) …
                yield from _urls_in_tokens(token.arguments)


def _declaration_urls(content: Iterable[ast.Node]) -> list[str]:
    urls: list[str] = []
    declarations = tinycss2.parse_blocks_contents(list(content), skip_whitespace=True, skip_comments=True)
    for decl in declarations:
        if isinstance(decl, ast.Declaration) and decl.lower_name in _IMAGE_PROPERTIES:
            urls.extend(u for u in _urls_in_tokens(decl.value) if u)
    return urls


def inline_style_urls(style: str) -> list[str]:
    """Image URLs set by ``background``/``background-image`` in a style attribute."""
    return _declaration_urls(tinycss2.parse_component_value_list(style))


def inline_declarations(style: str) -> dict[str, str]:
    """A ``style`` attribute's declarations by lower-case property name (the last one wins), values as
    written without ``!important``."""
    found: dict[str, str] = {}
    if not style.strip():
        return found
    for decl in tinycss2.parse_blocks_contents(tinycss2.parse_component_value_list(style), skip_whitespace=True):
        if isinstance(decl, ast.Declaration):
            found[decl.lower_name] = tinycss2.serialize(decl.value).strip()
    return found


def stylesheet_backgrounds(css_text: str) -> tuple[list[CssBackground], list[str]]:
    """Return background rules and ``@import`` URLs of a stylesheet (``@media`` included)."""
    rules = tinycss2.parse_stylesheet(css_text, skip_whitespace=True, skip_comments=True)
    backgrounds: list[CssBackground] = []
    imports: list[str] = []
    _walk(rules, backgrounds, imports)
    return backgrounds, imports


def _walk(rules: Iterable[ast.Node], backgrounds: list[CssBackground], imports: list[str]) -> None:
    for rule in rules:
        if isinstance(rule, ast.QualifiedRule):
            urls = _declaration_urls(rule.content)
            if urls:
                selector = tinycss2.serialize(rule.prelude).strip()
                backgrounds.extend(CssBackground(selector, url) for url in urls)
        elif isinstance(rule, ast.AtRule):
            if rule.lower_at_keyword == "import":
                imports.extend(_urls_in_tokens(rule.prelude))
                for token in rule.prelude:
                    if isinstance(token, ast.StringToken):
                        imports.append(token.value)
                        break
            elif rule.lower_at_keyword in ("media", "supports", "layer", "container") and rule.content:
                _walk(
                    tinycss2.parse_rule_list(rule.content, skip_whitespace=True, skip_comments=True),
                    backgrounds,
                    imports,
                )


def matchable_selector(selector: str) -> str:
    """Drop interactive pseudo-classes and pseudo-elements, keep structural ones."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(0).split("(", 1)[0].lower()
        return match.group(0) if name in _STRUCTURAL else ""

    parts = [_PSEUDO.sub(replace, part).strip() for part in selector.split(",")]
    return ", ".join(p if p and not p.endswith((">", "+", "~")) else (p + " *" if p else "*") for p in parts)
