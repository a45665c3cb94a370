"""``--shopify-files``: a Python script that sets the suggested alt texts of a Shopify store's images through its
Admin API, as the store's owner runs it with a custom app's token (:mod:`reports.shopify_apply` is the script).

The product CSV (``--shopify-csv``) reaches product pages' images only. A store keeps every other image it serves
from its files too (Content → Files: the theme's banners and sections, pages' and posts' images, and product
media), served at ``/cdn/shop/files/<name>`` (``cdn.shopify.com/s/files/1/…/files/<name>``; older product images
under ``products/``), with the theme's size suffix (``_600x``) or ``width`` parameter added. The script finds
each file by its name and sets its alt, where it is still empty or what the audit read. A collection's image, a
blog article's image and the theme's own assets are no files: they are listed at the top of the script, with
where their alt is set.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from records import AuditReport, ImageRecord, PageReport
from reports.fixes import fixes, media_alt, shopify_image_src
from reports.platform_scripts import media_texts, write_script

_PATH = re.compile(r"/(?:cdn/shop|s/files/1(?:/\d+)+)/(?P<kind>files|products|collections|articles|t/\d+/assets)"
                   r"/(?P<name>[^/]+)")  # fmt: skip
_FILES = {"files", "products"}  # what the Files library holds (product media since 2023 too)
_ELSEWHERE = {  # where the alt of a Shopify image that is no file is set
    "collections": "a collection's image: set its alt in Products → Collections → the collection",
    "articles": "a blog post's featured image: set its alt in Content → Blog posts → the post",
    "assets": "an asset of the theme: its alt is in the theme's code (Online Store → Themes → Edit code)",
}
_SCRIPT = Path(__file__).with_name("shopify_apply.py")


def shopify_file(url: str) -> tuple[str, str] | None:
    """(what keeps the image: ``files``, ``products``, ``collections``, ``articles`` or ``assets``; its file name
    without the theme's size suffix) for an image a Shopify store serves; None for any other address."""
    parts = urlsplit(shopify_image_src(url))
    if not (parts.path.startswith("/cdn/shop/") or (parts.hostname or "").lower() == "cdn.shopify.com"):
        return None
    match = _PATH.fullmatch(parts.path)
    if match is None:
        return None
    kind = match.group("kind")
    return ("assets" if kind.startswith("t/") else kind), unquote(match.group("name"))


def no_shopify_files(report: AuditReport) -> str | None:
    """Why a Shopify files script of this audit has nothing to set, whatever a review decides; None when it may."""
    if any(shopify_file(record.url) for page in report.pages for record in page.images):
        return None
    return "no audited image is a Shopify store's (an address under /cdn/shop/ or on cdn.shopify.com)"


def write_shopify_files(report: AuditReport, path: str | Path) -> Path:
    """The script (see the module), with its images and their texts, and the store's images it cannot set."""

    def key_of(page: PageReport, record: ImageRecord) -> dict[str, str] | None:
        found = shopify_file(record.url)
        return {"key": found[1]} if found is not None and found[0] in _FILES else None

    images, notes = media_texts(report, key_of, "a file keeps one alt, for the store's own language")
    listed: set[str] = set()
    for page, record, text in fixes(report):
        found = shopify_file(record.url)
        if found is not None and found[0] in _ELSEWHERE and record.url not in listed:
            listed.add(record.url)
            notes.append(f"# by hand: {record.url} ({page.url}) is {_ELSEWHERE[found[0]]}, to "
                         f"{media_alt(page, record, text)!r}")  # fmt: skip
    return write_script(Path(path), _SCRIPT, images, notes)
