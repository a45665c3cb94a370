"""An on-disk caption cache: re-auditing an unchanged page skips captioning entirely.

Keyed by the model id, the generation settings and the image's sha256, so a different model,
prompt or token budget never reuses a caption. One small JSON file per entry, written
atomically; a damaged entry is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from captioning.base import GenerationSettings
from captioning.export import cache_root, folder_files

OFF = "off"
CACHE_SWITCH = "ALTSCOUT_CAPTION_CACHE"  # "off": the CLI keeps no caption cache unless --cache names one


def cli_cache_folder(given: str | Path | None) -> Path | None:
    """The caption cache a CLI run keeps: the folder ``--cache`` names, none for ``--cache off``, else the
    user's cache (``~/.cache/altscout/captions``), so an interrupted or repeated audit never captions the
    same image twice; None where that folder cannot be made (a read-only home)."""
    if given is not None:
        return None if str(given) == OFF else Path(given)
    if os.environ.get(CACHE_SWITCH, "").lower() == OFF:
        return None
    folder = cache_root() / "captions"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder


def folder_fingerprint(model_id: str) -> str | None:
    """A local model folder's files (name, size, modification time), hashed; None for a hub id (a new
    revision is a new snapshot, a new id in effect) or a folder that cannot be read."""
    folder = Path(model_id.strip()).expanduser()
    try:
        if not folder.is_dir():
            return None
        entries = folder_files(folder)
    except OSError:
        return None
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


class CaptionCache:
    """Captions stored under ``folder`` for one model and one set of generation settings."""

    def __init__(self, folder: str | Path, model_id: str, settings: GenerationSettings) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._namespace = caption_namespace(model_id, settings)
        self.hits = 0
        self.misses = 0

    def _path(self, image_sha256: str) -> Path:
        key = hashlib.sha256(f"{self._namespace}\n{image_sha256}".encode()).hexdigest()
        return self.folder / key[:2] / f"{key}.json"

    def get(self, image_sha256: str) -> tuple[str, str] | None:
        """``(caption, raw_caption)`` if cached."""
        try:
            entry = json.loads(self._path(image_sha256).read_text(encoding="utf-8"))
            result = (str(entry["caption"]), str(entry["raw_caption"]))
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return result

    def put(self, image_sha256: str, caption: str, raw_caption: str) -> None:
        """Store a caption (atomic rename; errors are not fatal to the audit)."""
        path = self._path(image_sha256)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as handle:
                json.dump({"caption": caption, "raw_caption": raw_caption}, handle)
            os.replace(handle.name, path)
        except OSError:
            return


def caption_namespace(model_id: str, settings: GenerationSettings) -> str:
    """What makes two captions of the same bytes interchangeable: the model (for a local folder, also its
    files: a model saved over another in the same folder never reuses its captions) and generation settings."""
    return json.dumps(
        {
            "model": model_id,
            "weights": folder_fingerprint(model_id),
            "max_new_tokens": settings.max_new_tokens,
            "min_new_tokens": settings.min_new_tokens,
            "num_beams": settings.num_beams,
            "prompt": settings.prompt,
        },
        sort_keys=True,
    )
