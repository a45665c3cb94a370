"""The fixture site: one page that uses every discovery rule and every bad case.

``build_site`` registers the routes on a FixtureServer and returns, for each image source
the audit must report, the expected ``(status, reason)``.
"""

from __future__ import annotations

import os

from conftest import FixtureServer, make_image, png_bomb
from PIL import Image

Expected = dict[str, tuple[str, str | None]]

PIXEL_GIF = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
_HTML_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


def _exif_rotated() -> bytes:
    import io

    image = Image.open(io.BytesIO(make_image(300, 200, "JPEG", seed=21)))
    exif = image.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def _animated_gif() -> bytes:
    import io

    frames = [Image.new("RGB", (200, 200), (i * 5, 0, 0)) for i in range(40)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def data_uri_png() -> str:
    """A real 150x150 PNG as a data: URI."""
    import base64

    return "data:image/png;base64," + base64.b64encode(make_image(150, 150, "PNG", seed=30)).decode()


class _Images:
    """Serves the site's images and notes each one's expected outcome."""

    def __init__(self, srv: FixtureServer) -> None:
        self.srv = srv
        self.expected: Expected = {}

    def image(self, path: str, data: bytes, outcome: str = "captioned", reason: str | None = None, **kw: object) -> str:
        content_type = str(kw.pop("content_type", "image/png"))
        url = self.srv.add(path, data, content_type=content_type, **kw)  # type: ignore[arg-type]
        self.expected[url] = (outcome, reason)
        return url

    def picture(self, path: str, w: int, h: int, fmt: str = "PNG", seed: int = 0) -> str:
        return self.image(path, make_image(w, h, fmt, seed), content_type=_HTML_TYPES[fmt])


def build_site(srv: FixtureServer) -> tuple[str, Expected]:
    """Register the fixture site; return the page URL and the expected outcome per image."""
    images = _Images(srv)
    _captioned_images(images)
    _skipped_and_failed_images(images)
    srv.add(
        "/css/site.css",
        ".banner:hover { background-image: url('../img/banner.png') }\n.nowhere { background: url(/img/nowhere.png) }",
        content_type="text/css",
    )
    data_png = data_uri_png()
    images.expected[data_png] = ("captioned", None)
    page = srv.add("/index.html", _page_html(srv.base, data_png))
    srv.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    srv.add("/private/secret.html", "<html><img src='/img/plain.png'></html>")
    return page, images.expected


def _captioned_images(images: _Images) -> None:
    """Images every discovery rule finds and that caption: formats, modes, srcset, duplicates."""
    srv, image, picture = images.srv, images.image, images.picture
    picture("/img/plain.png", 300, 200, seed=1)
    picture("/img/dup.png", 320, 240, seed=2)
    picture("/img/large.jpg", 1200, 800, "JPEG", seed=3)
    srv.add("/img/small.jpg", make_image(400, 266, "JPEG", seed=3), content_type="image/jpeg")
    picture("/img/pic-1600.webp", 1600, 900, "WEBP", seed=4)
    picture("/img/lazy.png", 400, 300, seed=5)
    picture("/img/lz-2.png", 900, 600, seed=6)
    picture("/img/style-bg.jpg", 500, 300, "JPEG", seed=7)
    picture("/img/hero.jpg", 1000, 400, "JPEG", seed=8)
    picture("/img/banner.png", 800, 200, seed=9)
    picture("/img/og.jpg", 1200, 630, "JPEG", seed=10)
    picture("/img/tw.png", 600, 300, seed=11)
    picture("/img/button.png", 120, 120, seed=12)
    picture("/img/proto.png", 200, 200, seed=13)
    picture("/img/poster.jpg", 640, 360, "JPEG", seed=14)
    image("/img/cmyk.jpg", make_image(300, 200, "JPEG", seed=15, mode="CMYK"), content_type="image/jpeg")
    image("/img/palette.png", make_image(300, 200, "PNG", seed=16, mode="P", transparency=0))
    image("/img/la.png", make_image(300, 200, "PNG", seed=17, mode="LA"))
    image("/img/gray16.png", make_image(300, 200, "PNG", seed=18, mode="I;16"))
    image("/img/onebit.png", make_image(300, 200, "PNG", seed=19, mode="1"))
    image("/img/exif6.jpg", _exif_rotated(), content_type="image/jpeg")
    image("/img/anim.gif", _animated_gif(), content_type="image/gif")
    same = make_image(310, 210, "PNG", seed=20)
    image("/img/same-a.png", same)
    image("/img/same-b.png", same)


def _skipped_and_failed_images(images: _Images) -> None:
    """Redirects, and every way an image is skipped or fails, with its reason."""
    srv, image, expected = images.srv, images.image, images.expected
    # redirects
    srv.add("/img/moved.png", status=301, headers={"Location": "/img/target.png"}, content_type="text/plain")
    srv.add("/img/target.png", make_image(300, 300, "PNG", seed=22), content_type="image/png")
    expected[srv.url("/img/moved.png")] = ("captioned", None)
    image("/img/loop.png", b"", "failed", "too_many_redirects", status=302, headers={"Location": "/img/loop.png"})
    image(
        "/img/to-metadata.png",
        b"",
        "failed",
        "blocked_address",
        status=302,
        headers={"Location": "http://169.254.169.254/latest/meta-data/"},
    )
    # skipped
    image("/img/icon.png", make_image(16, 16, seed=23), "skipped", "too_small")
    image("/img/pixel.gif", make_image(1, 1, "GIF"), "skipped", "too_small", content_type="image/gif")
    image(
        "/img/logo.svg",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="400" height="400"/>',
        "skipped",
        "svg_not_supported",
        content_type="image/svg+xml",
    )
    expected["javascript:alert(1)"] = ("skipped", "unsupported_scheme")
    # failed
    expected[srv.url("/img/missing.png")] = ("failed", "http_error")
    image("/img/error.png", b"oops", "failed", "http_error", status=500, content_type="text/plain")
    image(
        "/img/fake.jpg",
        b"<!DOCTYPE html><html><body>not an image</body></html>",
        "failed",
        "not_an_image",
        content_type="image/jpeg",
    )
    image(
        "/img/truncated.jpg",
        make_image(400, 300, "JPEG", seed=24)[:600],
        "failed",
        "decode_error",
        content_type="image/jpeg",
    )
    image("/img/empty.png", b"", "failed", "empty")
    image("/img/bomb.png", png_bomb(), "failed", "too_many_pixels")
    image("/img/huge.jpg", b"x" * 10, "failed", "too_large", content_length=10_000_000_000, content_type="image/jpeg")
    image("/img/oversized.png", os.urandom(1_200_000), "failed", "too_large")
    image("/img/slow.png", make_image(200, 200, seed=25), "failed", "timeout", drip_s=0.02)
    image("/img/random.png", os.urandom(4000), "failed", "not_an_image")


def _page_html(base: str, data_png: str) -> str:
    """The fixture page: one element per discovery rule and hostile case."""
    host = base.removeprefix("http:")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Fixture shop</title>
<meta property="og:image" content="/img/og.jpg"><meta property="og:image:alt" content="Our shop front">
<meta name="twitter:image" content="{base}/img/tw.png">
<link rel="stylesheet" href="/css/site.css">
<style>.hero {{ background: #000 url("/img/hero.jpg") no-repeat }}
.absent {{ background-image: url(/img/absent.jpg) }}</style>
</head><body>
<img src="  /img/plain.png  " alt="A plain photo">
<img src="/img/dup.png" alt="first"><p><img src="/img/dup.png" alt="second"></p>
<img src="/img/small.jpg" srcset="/img/small.jpg 400w, /img/large.jpg 1200w" alt="Large">
<picture><source type="image/svg+xml" srcset="/img/vector.svg 4000w">
  <source srcset="/img/pic-800.webp 800w, /img/pic-1600.webp 1600w"><img src="/img/pic.jpg" alt="Picture"></picture>
<img src="{PIXEL_GIF}" data-src="/img/lazy.png" alt="">
<img src="/img/blank.gif" data-srcset="/img/lz-1.png 400w, /img/lz-2.png 900w" class="lazyload">
<div style="background-image: url('/img/style-bg.jpg')">styled</div>
<div class="hero"></div><div class="banner"></div>
<a href="/products"><img src="/img/button.png"></a>
<input type="image" src="/img/button.png" alt="Buy">
<img src="{host}/img/proto.png" alt="Protocol relative">
<video poster="/img/poster.jpg"></video>
<figure><img src="/img/cmyk.jpg" alt="CMYK"><figcaption>A CMYK photo</figcaption></figure>
<img src="/img/palette.png"><img src="/img/la.png"><img src="/img/gray16.png"><img src="/img/onebit.png">
<img src="/img/exif6.jpg"><img src="/img/anim.gif"><img src="/img/same-a.png"><img src="/img/same-b.png">
<img src="/img/moved.png"><img src="/img/loop.png"><img src="/img/to-metadata.png">
<img src="/img/icon.png" width="16" height="16"><img src="/img/pixel.gif"><img src="/img/logo.svg">
<img src="javascript:alert(1)"><img src="{data_png}" alt="inline">
<img src="/img/missing.png"><img src="/img/error.png"><img src="/img/fake.jpg"><img src="/img/truncated.jpg">
<img src="/img/empty.png"><img src="/img/bomb.png"><img src="/img/huge.jpg"><img src="/img/oversized.png">
<img src="/img/slow.png"><img src="/img/random.png">
</body></html>"""
