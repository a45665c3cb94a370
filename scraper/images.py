"""Turn image bytes into an upright RGB picture ready for captioning, or a typed error.

The real type is read from the bytes (never the extension or Content-Type); Pillow opens
only an allow-list of formats; the pixel count is checked from the header before any
decoding (Pillow's ``MAX_IMAGE_PIXELS`` warning threshold is treated as an error); only
the first frame of an animation is used; EXIF orientation is applied; transparency is
flattened onto white. Large JPEGs are decoded at 1/2, 1/4 or 1/8 scale (``draft`` mode)
while both sides stay at least BLIP's 384 px input. The picture returned is transient: the
download thread turns it into the model's compact input (``Captioner.prepare``) and drops it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from PIL import Image, ImageOps, features

from scraper.errors import FetchError, ImageDecodeError, ScrapeError

ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "BMP") + (("AVIF",) if features.check("avif") else ())
DEFAULT_MAX_PIXELS = int(Image.MAX_IMAGE_PIXELS or 89_478_485)
DRAFT_SIDE = 384  # JPEG draft decoding keeps both sides at least this (BLIP's input side)
_ORIENTATION_TAG = 0x0112


class ImageSkipped(ScrapeError):
    """The image is fine but not captioned (too small, SVG, over the limit); ``size`` and ``format`` when read."""

    code = "skipped"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        size: tuple[int, int] | None = None,
        image_format: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.size, self.format = size, image_format

    def known(self, data: bytes, thumbnail_size: int | None) -> dict[str, Any]:
        """What the skipped image's bytes still tell its record: size, format and length when they were read
        (a 1x1 pixel is a spacer by its size), and for one too small to caption, with ``thumbnail_size``, a
        thumbnail, so a review sees the logo a link's name is suggested for."""
        if self.size is None:
            return {}
        known = {"width": self.size[0], "height": self.size[1], "format": self.format, "bytes": len(data)}
        if self.code == "too_small" and thumbnail_size:
            known["thumbnail"] = small_thumbnail(data, thumbnail_size)
        return known


@dataclass
class PreparedImage:
    """A decoded image and the facts recorded about it."""

    image: Image.Image
    width: int
    height: int
    format: str
    bytes: int
    sha256: str


def sniff(data: bytes) -> str | None:
    """Name the content when it is something we must not hand to Pillow."""
    head = data[:512].lstrip()
    lowered = head.lower()
    if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "svg"
    if lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--")):
        return "html"
    return None


def decode_data_uri(uri: str, max_bytes: int) -> bytes:
    """Decode a ``data:`` URI in memory, within the byte cap."""
    header, sep, payload = uri.partition(",")
    if not sep:
        raise ImageDecodeError("malformed data: URI", code="bad_data_uri")
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise ImageDecodeError(f"data: URI larger than {max_bytes:,} bytes", code="too_large")
    try:
        if header.lower().endswith(";base64"):
            return base64.b64decode(unquote_to_bytes(payload), validate=False)
        return unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        raise ImageDecodeError("malformed data: URI", code="bad_data_uri") from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB, flattening transparency onto white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        image = image.convert("I")
        _, high = image.getextrema()
        if isinstance(high, int | float) and high > 255:  # 16-bit data scales to 8 bits; 8-bit data stays
            image = image.point(lambda value: value * (1 / 256))
        image = image.convert("L")
    elif image.mode == "F":
        image = image.point(lambda value: value * 255).convert("L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB") if image.mode != "RGB" else image


def _upright_size(opened: Image.Image, max_pixels: int) -> tuple[int, int]:
    """An opened image's size as shown (EXIF orientation applied), from its header; over ``max_pixels`` is
    an error before anything is decoded."""
    width, height = opened.size
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"{width}x{height} pixels exceeds the {max_pixels:,}-pixel limit (decompression bomb?)",
            code="too_many_pixels",
        )
    if (opened.getexif().get(_ORIENTATION_TAG) or 1) in (5, 6, 7, 8):
        return height, width
    return width, height


def prepare_image(
    data: bytes,
    *,
    min_width: int,
    min_height: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_side: int = DRAFT_SIDE,
) -> PreparedImage:
    """Decode and normalise ``data``; raise ImageSkipped or ImageDecodeError."""
    if not data:
        raise ImageDecodeError("empty response (0 bytes)", code="empty")
    kind = sniff(data)
    if kind == "svg":
        raise ImageSkipped(
            "an SVG is captioned only as a browser draws it on a rendered page (AltScout has no safe SVG reader of "
            "its own)",
            code="svg_not_supported",
        )
    if kind == "html":
        raise ImageDecodeError("the server sent an HTML page, not an image", code="not_an_image")
    digest = hashlib.sha256(data).hexdigest()
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as opened:
            width, height = _upright_size(opened, max_pixels)
            fmt = str(opened.format)
            if width < min_width or height < min_height:
                raise ImageSkipped(
                    f"{width}x{height} px is below the {min_width}x{min_height} px minimum",
                    code="too_small",
                    size=(width, height),
                    image_format=fmt,
                )
            if fmt == "JPEG":
                opened.draft("RGB", (draft_side, draft_side))
            opened.seek(0)
            upright = ImageOps.exif_transpose(opened)
            upright.load()
            rgb = _to_rgb(upright)
    except ScrapeError:
        raise
    except Image.UnidentifiedImageError as exc:
        raise ImageDecodeError(
            f"not an image in an allowed format ({', '.join(ALLOWED_FORMATS)})", code="not_an_image"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(str(exc), code="too_many_pixels") from exc
    except Exception as exc:  # Pillow raises many types on hostile bytes; record them all
        raise ImageDecodeError(f"could not decode image: {exc or type(exc).__name__}", code="decode_error") from exc
    return PreparedImage(rgb, width, height, fmt, len(data), digest)


def image_size(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[tuple[int, int], str]:
    """The upright size and format of an image from its header alone (nothing is decoded); the same
    allow-list and pixel limit as :func:`prepare_image`, whose typed errors it raises."""
    if sniff(data) is not None or not data:
        raise ImageDecodeError("not an image Pillow may read", code="not_an_image")
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as opened:
            return _upright_size(opened, max_pixels), str(opened.format)
    except ScrapeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(str(exc), code="too_many_pixels") from exc
    except Exception as exc:  # Pillow raises many types on hostile bytes
        raise ImageDecodeError(f"could not read the image's header: {exc or type(exc).__name__}") from exc


def read_local_image(path: Path, max_bytes: int) -> bytes:
    """Read a local image file within the byte cap."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FetchError(f"file of {size:,} bytes exceeds the {max_bytes:,}-byte limit", code="too_large")
        return path.read_bytes()
    except OSError as exc:
        raise FetchError(f"cannot read file: {exc.strerror or exc}", code="read_error") from exc


def small_thumbnail(data: bytes, size: int) -> bytes | None:
    """A thumbnail of an image too small to caption (so a review sees the logo a link's name is suggested
    for), or None where the bytes are no image AltScout may read."""
    try:
        prepared = prepare_image(data, min_width=0, min_height=0)
    except ScrapeError:
        return None
    return make_thumbnail(prepared.image, size)


def make_thumbnail(image: Image.Image, size: int) -> bytes:
    """A JPEG no larger than ``size`` px on its longer side."""
    thumb = image.copy()
    thumb.thumbnail((size, size), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()
