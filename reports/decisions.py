"""A review of the suggestions (``--decisions FILE``): accept, edit or reject each, before export.

The file is JSON (a list of objects, or ``{"decisions": [...]}``) or CSV with a header; each entry
has the image URL (``url``), the ``decision`` (``accept``, ``edit`` or ``reject``) and, for an
edit, the ``text``. An edited text replaces the suggestion everywhere (reports and exports); a
rejected suggestion is kept in the reports, marked, and left out of every export that applies
fixes (Shopify CSV, WP-CLI script, ``--fix-patch``). Suggestions the file does not mention are
carried as they are, as without a review.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from records import AuditReport

DECISIONS = {"accept": "accepted", "edit": "edited", "reject": "rejected"}
MAX_TEXT = 1000


class DecisionsError(ValueError):
    """The decisions file cannot be used; the message is one sentence."""


@dataclass(frozen=True)
class Decision:
    """One reviewed suggestion."""

    url: str
    decision: str  # accept | edit | reject
    text: str | None = None


def read_decisions(path: Path) -> dict[str, Decision]:
    """The file's decisions by image URL; DecisionsError with one sentence when it cannot be used."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DecisionsError(f"--decisions {path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    is_json = raw.lstrip().startswith(("[", "{"))
    entries = _json_entries(raw, path) if is_json else list(csv.DictReader(io.StringIO(raw)))
    return decisions_from(entries, f"--decisions {path}")


def decisions_from(entries: list[Any], where: str) -> dict[str, Decision]:
    """Decisions by image URL from parsed entries; ``where`` names them in an error sentence."""
    decisions: dict[str, Decision] = {}
    for number, entry in enumerate(entries, start=1):
        decision = _decision(entry, f"{where}, entry {number}")
        decisions[decision.url] = decision
    return decisions


def to_entries(decisions: dict[str, Decision]) -> list[dict[str, str]]:
    """The decisions as JSON-ready entries (what ``decisions_from`` reads)."""
    return [
        {"url": d.url, "decision": d.decision} | ({"text": d.text} if d.text is not None else {})
        for d in decisions.values()
    ]


def apply_decisions(report: AuditReport, decisions: dict[str, Decision]) -> int:
    """Mark (and for edits, replace) the suggestions the review decided; returns how many records it touched."""
    touched = 0
    for page in report.pages:
        for record in page.images:
            decision = decisions.get(record.url) or decisions.get(record.source)
            if decision is None or record.suggested_alt is None:
                continue
            record.decision = DECISIONS[decision.decision]
            if decision.decision == "edit":
                record.suggested_alt = decision.text
            touched += 1
    return touched


def _json_entries(raw: str, path: Path) -> list[Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise DecisionsError(f"--decisions {path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    entries = data.get("decisions") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise DecisionsError(f"--decisions {path}: expected a list of decisions (or {{\"decisions\": [...]}})")
    return entries


def _decision(entry: Any, where: str) -> Decision:
    if not isinstance(entry, dict):
        raise DecisionsError(f"{where}: expected an object with url, decision and text")
    url = str(entry.get("url") or entry.get("image_url") or "").strip()
    kind = str(entry.get("decision") or "").strip().lower()
    text = entry.get("text")
    text = " ".join(str(text).split()) if text not in (None, "") else None
    if not url:
        raise DecisionsError(f"{where}: the image URL (url) is missing")
    if kind not in DECISIONS:
        raise DecisionsError(f"{where}: decision must be accept, edit or reject, got {kind or 'nothing'!r}")
    if kind == "edit" and not text:
        raise DecisionsError(f"{where}: an edit needs the new text (text)")
    if text is not None and len(text) > MAX_TEXT:
        raise DecisionsError(f"{where}: the text is longer than {MAX_TEXT} characters")
    return Decision(url, kind, text if kind == "edit" else None)
