"""Decoding: every image mode ends upright RGB; hostile bytes end as typed errors only."""

from __future__ import annotations

import contextlib
import io
import os
import random

import pytest
from conftest import make_image, png_bomb
from PIL import Image

from scraper.errors import ImageDecodeError
from scraper.images import ImageSkipped, decode_data_uri, image_size, prepare_image


@pytest.mark.parametrize("mode", ["RGB", "CMYK", "L", "LA", "RGBA", "P", "1", "I;16"])
def test_modes_become_rgb(mode: str) -> None:
    fmt = "JPEG" if mode in ("CMYK",) else "PNG"
    prepared = prepare_image(make_image(300, 200, fmt, mode=mode), min_width=100, min_height=100)
    assert prepared.image.mode == "RGB" and (prepared.width, prepared.height) == (300, 200)


def test_transparency_flattened_on_white() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (200, 200), (255, 0, 0, 0)).save(buffer, "PNG")
    prepared = prepare_image(buffer.getvalue(), min_width=100, min_height=100)
    assert prepared.image.getpixel((10, 10)) == (255, 255, 255)


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_applied(orientation: int) -> None:
    image = Image.new("RGB", (300, 200), "red")
    exif = image.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    prepared = prepare_image(buffer.getvalue(), min_width=100, min_height=100)
    assert prepared.image.size == (200, 300) and (prepared.width, prepared.height) == (200, 300)


def test_large_jpeg_decoded_in_draft_mode_but_real_size_recorded() -> None:
    prepared = prepare_image(make_image(3000, 2000, "JPEG"), min_width=100, min_height=100)
    assert (prepared.width, prepared.height) == (3000, 2000) and prepared.image.size == (750, 500)  # 1/4 scale
    small = prepare_image(make_image(700, 500, "JPEG"), min_width=100, min_height=100)
    assert small.image.size == (700, 500)  # 1/2 scale would go below the 384 px the model sees


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html>", "not_an_image"),
        (png_bomb(), "too_many_pixels"),
        (make_image(300, 300, "JPEG")[:500], "decode_error"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n", "not_an_image"),
        (b"8BPS\x00\x01" + b"\x00" * 100, "not_an_image"),
        (b"%PDF-1.4\n", "not_an_image"),
    ],
)
def test_bad_bytes(data: bytes, code: str) -> None:
    with pytest.raises(ImageDecodeError) as caught:
        prepare_image(data, min_width=1, min_height=1)
    assert caught.value.code == code


def test_skips() -> None:
    with pytest.raises(ImageSkipped) as caught:
        prepare_image(make_image(50, 500), min_width=100, min_height=100)
    assert caught.value.code == "too_small"
    with pytest.raises(ImageSkipped) as caught:
        prepare_image(b'<svg xmlns="http://www.w3.org/2000/svg"/>', min_width=1, min_height=1)
    assert caught.value.code == "svg_not_supported"


def test_image_size_reads_the_header_under_the_same_rules() -> None:
    """What a skipped image's file is, read without decoding it: upright size and format, or a typed error."""
    assert image_size(make_image(512, 256, "JPEG")) == ((512, 256), "JPEG")
    rotated = Image.new("RGB", (300, 200), "red")
    exif = rotated.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    rotated.save(buffer, "JPEG", exif=exif.tobytes())
    assert image_size(buffer.getvalue()) == ((200, 300), "JPEG")
    for data, code in [
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "not_an_image"),
        (b"%PDF-1.4\n", "decode_error"),
        (png_bomb(), "too_many_pixels"),
        (b"", "not_an_image"),
    ]:
        with pytest.raises(ImageDecodeError) as caught:
            image_size(data)
        assert caught.value.code == code, data[:20]


def test_fuzz_only_expected_exceptions() -> None:
    rng = random.Random(1234)
    seeds = [make_image(120, 120, fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "BMP")]
    for _ in range(300):
        base = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 20)):
            base[rng.randrange(len(base))] = rng.randrange(256)
        if rng.random() < 0.3:
            base = base[: rng.randrange(1, len(base))]
        for data in (bytes(base), os.urandom(rng.randint(0, 300))):
            with contextlib.suppress(ImageDecodeError, ImageSkipped):  # anything else fails the test
                prepare_image(data, min_width=1, min_height=1)


def test_data_uri_decoding() -> None:
    assert decode_data_uri("data:text/plain,hello%20there", 100) == b"hello there"
    assert decode_data_uri("data:image/png;base64,aGk=", 100) == b"hi"
    with pytest.raises(ImageDecodeError):
        decode_data_uri("data:image/png;base64," + "A" * 1000, 100)
