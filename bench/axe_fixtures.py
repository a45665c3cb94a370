"""axe-core's image-rule fixtures, read from ``../shared/peers/axe-core`` (never copied into the project).

Each fixture page is served as written, except that every ``img`` and image button gets an image
of its own: the fixtures point them all at one missing ``img.jpg``, and AltScout keeps one record
per image URL. Used by ``tests/test_axe_conformance.py`` and ``bench/bench_names.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

AXE_RULES_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "peers" / "axe-core" / "rules"
RULES = ("image-alt", "input-image-alt", "role-img-alt", "svg-img-alt", "area-alt", "object-alt", "image-redundant-alt")
_IMAGE_TAG = re.compile(r"<(img|input)\b([^>]*)>", re.S)


def available() -> bool:
    """The fixtures are beside the project."""
    return all((AXE_RULES_DIR / rule / f"{rule}.html").is_file() for rule in RULES)


def expected(rule: str) -> dict[str, bool]:
    """axe's verdict per judged element: selector (``#id``) -> True for a violation, False for a pass."""
    verdicts = json.loads((AXE_RULES_DIR / rule / f"{rule}.json").read_text(encoding="utf-8"))
    return {sel: True for [sel] in verdicts["violations"]} | {sel: False for [sel] in verdicts["passes"]}


def page(rule: str) -> tuple[str, list[str]]:
    """The fixture as a whole document with an image of its own per img / image button, and their paths."""
    html = (AXE_RULES_DIR / rule / f"{rule}.html").read_text(encoding="utf-8")
    paths: list[str] = []

    def replace(match: re.Match[str]) -> str:
        tag, attrs = match.group(1), match.group(2)
        if tag == "input" and 'type="image"' not in attrs:
            return match.group(0)
        path = f"/axe/{rule}/image-{len(paths)}.png"
        paths.append(path)
        if 'src="img.jpg"' in attrs:
            return "<" + tag + attrs.replace('src="img.jpg"', f'src="{path}"') + ">"
        return f'<{tag} src="{path}"{attrs}>'

    body = _IMAGE_TAG.sub(replace, html)
    return f"<!doctype html><html lang=en><head><title>{rule}</title></head><body>{body}</body></html>", paths


def page_path(rule: str) -> str:
    """Where a server serves the rule's page."""
    return f"/axe/{rule}/page.html"


def pages() -> dict[str, Any]:
    """Every rule's (document, image paths)."""
    return {rule: page(rule) for rule in RULES}
