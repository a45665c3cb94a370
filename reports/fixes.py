"""Exports that apply suggestions: Shopify's product CSV, the WordPress scripts, and the platform API scripts.

Which suggestions are carried (:func:`fixes`): an image's suggested alt for its ``alt`` attribute,
when the image is not decorative, its alt did not pass every check and a review (``--decisions``)
did not reject it; an edited suggestion is carried as edited. An alt that passed is never
overwritten, and nothing is written for a decorative image, except where ``alt=""`` is a link's
only content (the link has no name), and where ``alt=""`` is on an image that looks like content
(``empty_alt_on_content``): that one is held, since ``alt=""`` may be a person's choice. A tracking
pixel or spacer (at most 2 px a side) with no alt gets ``alt=""`` (suggestion basis ``spacer``). A
small logo or icon that is a link's only content and has no name gets the name of where the link
goes (basis ``link_target``), captioned or not.

Alt text a person wrote is never replaced on a guess. Without a review, a suggestion is carried
where the alt is missing or is no description at all (a file name, a placeholder). Where the alt
is a person's words and the findings are judgements (it shares no words with the caption, it is
long, it differs from the same image's alt elsewhere, it starts with "image of"), the suggestion
is *held* (:func:`held`): shown in the reports and the review, and carried once a review accepts
or edits it.

- ``--shopify-csv``: for pages under ``/products/<handle>``, the rows of Shopify's product CSV
  that update image alt text (Handle, Title, Image Src, Image Alt Text). Shopify matches an
  image by its source, so the size suffix (``_600x``, ``_grande``...) and the ``width``/``height``/
  ``crop`` parameters its theme added are removed; Title is the product's name (JSON-LD, else the
  first ``h1``), which Shopify requires on updates.
- ``--wp-cli`` (:mod:`reports.wordpress`): for images WordPress marks ``class="wp-image-<id>"``, each
  attachment's alt, and the alt each post's HTML holds; ``--wp-rest`` the same through the REST API.
- ``--shopify-files`` (:mod:`reports.shopify_files`) and ``--webflow`` (:mod:`reports.webflow`): Python scripts
  that set a store's file alts and a Webflow site's asset and CMS alts through the platform's API
  (:mod:`reports.platform_scripts`).

An alt kept with the image (a Shopify file's, a WordPress attachment's, a Webflow asset's) is shown wherever the image
is, so it carries the suggestion without what one link does (:func:`media_alt`); the fix patch and a post's
HTML keep each tag's own alt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from auditing.link_names import image_link_purpose
from records import CAPTIONED, LINK_TARGET, SPACER, AuditReport, ImageRecord, PageReport
from reports.cells import CSV_ENCODING, NeutralDictWriter

SHOPIFY_COLUMNS = ["Handle", "Title", "Image Src", "Image Alt Text"]
_PRODUCT_PATH = re.compile(r"(?:^|/)products/([^/]+)/?$")
_SIZE_SUFFIX = re.compile(
    r"_(?:\d+x\d*|\d*x\d+|pico|icon|thumb|small|compact|medium|large|grande|original|master)(?:_crop_\w+)?(?:@\dx)?"
    r"(?=\.[A-Za-z0-9]+$)"
)
_SIZE_PARAMS = {"width", "height", "crop", "format", "pad_color"}
UPLOADS = "/wp-content/uploads/"  # where WordPress serves its media library's files
NO_DESCRIPTION = frozenset({"filename_alt", "placeholder_alt"})  # findings that say an alt describes nothing
EMPTY_ON_CONTENT = "empty_alt_on_content"  # alt="" on an image that looks like content: decorative? a person says


def applicable(field: Callable[[str], Any]) -> bool:
    """Whether an image's suggestion is one an export may apply, before any review; ``field`` reads the
    image's fields by their report name (a record's attributes, or a report.json image's keys)."""
    if field("suggestion_for") != "alt" or field("suggested_alt") is None:
        return False
    if field("suggestion_basis") == SPACER:  # alt="" on a tracking pixel that has no alt
        return field("alt") is None and not field("decorative")
    if not field("suggested_alt") or (field("status") != CAPTIONED and field("suggestion_basis") != LINK_TARGET):
        return False
    alt, issues = field("alt"), set(field("alt_issues") or ())
    if field("decorative") and not (alt == "" and {"linked_image_no_text", EMPTY_ON_CONTENT} & issues):
        return False  # alt="" stays, except on a link's only content (no name) and on what looks like content
    return not (alt and alt.strip() and not issues)  # an alt that passed every check stays


def needs_review(field: Callable[[str], Any]) -> bool:
    """Whether an applicable suggestion would replace a person's alt on a judgement (see the module): words
    that describe something, or an ``alt=""`` that says the image is decorative where it looks like content."""
    alt, issues = field("alt"), set(field("alt_issues") or ())
    if alt == "":
        return EMPTY_ON_CONTENT in issues and "linked_image_no_text" not in issues
    return bool(alt and alt.strip()) and not NO_DESCRIPTION & issues


def replaced_alt(alt: str | None) -> str:
    """The alt a held suggestion would replace, in words: ``the alt 'Our team'``, or ``alt="" (decorative)``."""
    return 'alt="" (marked decorative)' if alt == "" else f"the alt {alt!r}"


def _carried(record: ImageRecord) -> bool | None:
    """True: exported; None: held for a review; False: not exportable, or rejected."""
    field = partial(getattr, record)
    if not applicable(field) or record.decision == "rejected":
        return False
    return None if record.decision is None and needs_review(field) else True


def fixes(report: AuditReport) -> Iterator[tuple[PageReport, ImageRecord, str]]:
    """(page, image, alt text) for every suggestion an export applies (see the module)."""
    for page in report.pages:
        for record in page.images:
            if _carried(record):
                yield page, record, record.suggested_alt or ""


def media_alt(page: PageReport, record: ImageRecord, text: str) -> str:
    """The text for an alt kept with the image itself (a WordPress attachment's, a Shopify product image's),
    which every use of the image shows: without what one of its links does ("(opens the full-size image)"
    belongs to the gallery's thumbnail, not to the photo on a product grid)."""
    addition = link_addition(page, record, text)
    return text[: -len(addition)].rstrip() if addition else text


def link_addition(page: PageReport, record: ImageRecord, text: str) -> str:
    """What ``text``, a suggestion for the image at this place, ends with to say what its link does
    (" (link to the cart page)"), else nothing."""
    purpose = image_link_purpose(record, page)
    suffix = f" ({purpose})" if purpose else ""
    return suffix if suffix and text.endswith(suffix) and len(text) > len(suffix) else ""


def is_held(record: ImageRecord) -> bool:
    """Whether the image's suggestion waits for a review that accepts it: it would replace a person's alt."""
    return _carried(record) is None


def export_state(record: ImageRecord) -> str:
    """The CSV and XLSX ``export`` cell: ``yes`` (the exports carry it), ``held`` (until a review
    accepts it: it would replace a person's alt) or empty (nothing to export, or rejected)."""
    carried = _carried(record)
    return "yes" if carried else "held" if carried is None else ""


def held(report: AuditReport) -> Iterator[tuple[PageReport, ImageRecord]]:
    """(page, image) for every suggestion held until a review accepts it."""
    for page in report.pages:
        for record in page.images:
            if is_held(record):
                yield page, record


def shopify_image_src(url: str) -> str:
    """The product image's own URL: the theme's size suffix and size parameters removed."""
    parts = urlsplit(url)
    path = _SIZE_SUFFIX.sub("", parts.path)
    query = urlencode([(key, value) for key, value in parse_qsl(parts.query) if key not in _SIZE_PARAMS])
    return urlunsplit((parts.scheme or "https", parts.netloc, path, query, ""))


def product_handle(page_url: str) -> str | None:
    """``<handle>`` of a ``/products/<handle>`` page (collection paths included), else None."""
    match = _PRODUCT_PATH.search(urlsplit(page_url).path)
    return unquote(match.group(1)) if match else None


def no_product_pages(report: AuditReport) -> str | None:
    """Why a Shopify CSV of this audit has no row to hold, whatever a review decides; None when it may."""
    if any(product_handle(page.final_url or page.url) for page in report.pages):
        return None
    return "no audited page is a Shopify product page (a /products/HANDLE address)"


def is_upload(url: str) -> bool:
    """Whether ``url`` is a file of a WordPress media library (its attachment is found by its address)."""
    return UPLOADS in urlsplit(url).path


def no_wordpress_images(report: AuditReport) -> str | None:
    """Why a WP-CLI script of this audit has no command to hold, whatever a review decides; None when it may."""
    if any(record.wp_attachment_id is not None or is_upload(record.url)
           for page in report.pages for record in page.images):  # fmt: skip
        return None
    return "no audited image is a WordPress attachment (class wp-image-ID, or a file of /wp-content/uploads/)"


def write_shopify_csv(report: AuditReport, path: str | Path) -> Path:
    """Shopify's product CSV rows that set Image Alt Text (UTF-8, text cells never formulas)."""
    target = Path(path)
    seen: set[tuple[str, str]] = set()
    with target.open("w", newline="", encoding=CSV_ENCODING) as handle:
        writer = NeutralDictWriter(handle, fieldnames=SHOPIFY_COLUMNS)
        writer.writeheader()
        for page, record, text in fixes(report):
            handle_name = product_handle(page.final_url or page.url)
            if not text or handle_name is None or not record.url.startswith(("http://", "https://")):
                continue
            source = shopify_image_src(record.url)
            if (handle_name, source) in seen:
                continue
            seen.add((handle_name, source))
            title = page.subject or page.title or handle_name
            alt = media_alt(page, record, text)
            writer.writerow({"Handle": handle_name, "Title": title, "Image Src": source, "Image Alt Text": alt})
    return target
