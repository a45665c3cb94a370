"""Which of several audited images with one file name a component's asset is.

A bundler names each asset after its file and a hash of its content (``team/cover.jpg`` and ``blog/cover.jpg``
become ``/_astro/cover.3f2a1b9c.webp`` and ``/_astro/cover.Dp3fqz5N.webp``), so the name a tag's ``src`` gives
(``./cover.jpg``) may be that of several audited images. The asset file itself tells them apart, in this order:

1. its bytes: the audited image whose SHA-256 is the file's (a bundler that copies assets as they are: Vite, Nuxt,
   SvelteKit, webpack);
2. its folders: the one audited address that ends in the most of the folders the tag names (``/img/team/cover.jpg``
   for ``../img/team/cover.jpg``);
3. its shape: the one audited image whose width and height are the file's proportions (an asset converted to WebP
   or resized keeps them).

Where none does, the tag is left to a person (with why) rather than given another image's words.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TypeVar

from PIL import Image

from records import ImageRecord

_T = TypeVar("_T")
ASSET_BYTES = 50 << 20  # a larger file is hashed by no one
_ASPECT_TOLERANCE = 0.015  # a resize rounds each side to a whole pixel
# a project's aliases for its source folder: Next's and Nuxt's "@/" and "~/", Nuxt's "~~/" and "@@/" (the root),
# SvelteKit's "$lib/"; each tried in these folders of the project, in order
_ALIASES = {"@/": ("src", "", "app"), "~/": ("src", "", "app"), "~~/": ("",), "@@/": ("",), "$lib/": ("src/lib",)}


class AssetFiles:
    """The asset files of one project (``root``), each read at most once."""

    def __init__(self, root: Path | None) -> None:
        self.root = root.resolve() if root is not None else None
        self._digests: dict[Path, str | None] = {}
        self._sizes: dict[Path, tuple[int, int] | None] = {}

    def path(self, written: str, component: Path | None) -> Path | None:
        """The file a tag's ``src`` or import names (``./hero.jpg``, ``@/assets/hero.jpg``), inside the project;
        None where it names none there (a package's asset, or a file outside the project)."""
        if self.root is None or component is None:
            return None
        written = written.split("?")[0]
        alias = next((prefix for prefix in _ALIASES if written.startswith(prefix)), None)
        if alias is not None:
            tries = [self.root / folder / written[len(alias) :] for folder in _ALIASES[alias]]
        elif written.startswith(("./", "../")) or "/" not in written:
            tries = [component.parent / written]
        else:
            return None  # a package's asset (an import of "some-kit/hero.jpg")
        for candidate in tries:
            resolved = candidate.resolve()
            if resolved.is_relative_to(self.root) and resolved.is_file():
                return resolved
        return None

    def digest(self, path: Path) -> str | None:
        """The file's SHA-256, in hex (None: unreadable or too large to be an image a page shows)."""
        return _once(self._digests, path, _sha256)

    def size(self, path: Path) -> tuple[int, int] | None:
        """The file's width and height in pixels, from its header (None: not an image Pillow reads, such as SVG)."""
        return _once(self._sizes, path, _pixel_size)


def one_asset(
    images: dict[str, list[str]],
    records: dict[str, tuple[ImageRecord, str]],
    written: str,
    file: Path | None,
    files: AssetFiles,
) -> tuple[list[str], str | None]:
    """The audited URLs that the asset ``written`` in a tag is, of ``images`` (the images whose file name is the
    asset's: each image's path -> its audited URLs, an optimiser's widths of it), by the module's three tests;
    ``file``: the asset file, where found. Where the asset could be images with other texts and none of the tests
    tells which, all of them and why the tag is left to a person."""
    urls = [url for group in images.values() for url in group]
    paths = {url: path for path, group in images.items() for url in group}
    if len(images) < 2 or len({records[url][1] for url in urls}) < 2:
        return urls, None
    tests: list[Callable[[list[str]], bool]] = []
    digest = files.digest(file) if file is not None else None
    if digest is not None:
        tests.append(lambda group: any(records[url][0].sha256 == digest for url in group))
    folders = {path: _shared_folders(written, path) for path in images}
    most = max(folders.values())
    if most:
        tests.append(lambda group: folders[paths[group[0]]] == most)
    size = files.size(file) if file is not None else None
    if size is not None:
        tests.append(lambda group: any(_same_shape(records[url][0], size) for url in group))
    for test in tests:
        passed = [group for group in images.values() if test(group)]
        if len(passed) == 1:
            return passed[0], None
    name = PurePosixPath(written.split("?")[0]).name
    return urls, (f"{written} could be any of {len(images)} audited images named like {name} "
                  f"({', '.join(sorted(images))}), which its bytes, folders and shape do not tell apart")  # fmt: skip


def _shared_folders(written: str, path: str) -> int:
    """How many folders, counted from the file up, the written asset path and an audited image's path share."""
    mine = [part for part in PurePosixPath(written.split("?")[0]).parts[:-1] if part not in (".", "..")]
    theirs = PurePosixPath(path).parts[:-1]
    shared = 0
    while shared < min(len(mine), len(theirs)) and mine[-1 - shared] == theirs[-1 - shared]:
        shared += 1
    return shared


def _same_shape(record: ImageRecord, size: tuple[int, int]) -> bool:
    if not (record.width and record.height and size[0] and size[1]):
        return False
    return abs(record.width / record.height / (size[0] / size[1]) - 1) <= _ASPECT_TOLERANCE


def _once(cache: dict[Path, _T | None], path: Path, read: Callable[[Path], _T | None]) -> _T | None:
    if path not in cache:
        cache[path] = read(path)
    return cache[path]


def _sha256(path: Path) -> str | None:
    try:
        if path.stat().st_size > ASSET_BYTES:
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _pixel_size(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
