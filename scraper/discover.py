"""Find every image a visitor of a page sees, one record per unique URL.

Sources: ``img`` (``src``, ``srcset``, lazy-load attributes), ``picture/source``, ``input
type=image``, ``object`` images, ``video poster``, inline ``style`` backgrounds, stylesheet rules
whose selector matches an element, ``og:image`` / ``twitter:image``. Elements the axe-core image
rules audit that have no image file (inline SVG, ``role=img``, image-map areas, objects embedding
a document, canvases, an ``img`` without a source) are records of their own, keyed by selector.
Every element carries its accessible name and role (:mod:`scraper.elements`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urldefrag, urljoin

import soupsieve
from bs4 import BeautifulSoup, Tag
from bs4.dammit import EncodingDetector

from records import ELEMENT, ElementInfo, ImageRecord, element_source
from scraper.context import PageContext, in_main_content, nearest_heading, page_context
from scraper.css import inline_style_urls, matchable_selector, stylesheet_backgrounds
from scraper.elements import ElementReader, drawn_elements, enclosing_link, is_image_object
from scraper.sizing import static_sizing
from scraper.srcset import Candidate, largest, parse_srcset
from scraper.urls import resource_url

LAZY_SRC_ATTRS = (
    "data-src",
    "data-lazy-src",
    "data-original",
    "data-lazy",
    "data-url",
    "data-echo",
    "data-hi-res-src",
    "data-full-src",
    "data-orig-src",
)
# Elements whose background a script sets from an attribute (jQuery "set-bg" templates and the like).
LAZY_BACKGROUND_ATTRS = ("data-setbg", "data-bg", "data-background", "data-background-image", "data-bg-src")
LAZY_SRCSET_ATTRS = ("data-srcset", "data-lazy-srcset")
SKIPPED_SCHEMES = ("javascript:", "about:", "blob:", "file:", "ftp:", "mailto:", "tel:", "chrome:")
# MIME types of <source type=…> that Pillow cannot decode here.
UNDECODABLE_TYPES = ("image/svg+xml", "image/jxl", "image/heic", "image/heif")
PLACEHOLDER_NAME = re.compile(r"(blank|spacer|placeholder|transparent|pixel|lazy|loading|1x1)[^/]*$", re.I)
_URL_NOISE = re.compile(r"[\t\n\r]")
# HTML5's void elements that libxml2's HTML parser does not know as void: it nests whatever follows
# one inside it (``picture > source > img``), so selectors would name elements no browser has.
LIBXML2_UNKNOWN_VOIDS = ("source", "track", "wbr", "embed", "keygen", "bgsound")
_UNKNOWN_VOID_TAG = re.compile(rb"<(?:source|track|wbr|embed|keygen|bgsound)[\s/>]", re.IGNORECASE)
# Why an element with no image file of its own is not captioned without a browser, by kind.
NOT_CAPTIONED = {
    "svg": ("needs_browser", "an inline SVG is drawn by the browser; it is captioned from a screenshot when the "
            "page is rendered"),
    "role-img": ("needs_browser", "a role=\"img\" element is drawn by the browser; it is captioned from a "
                 "screenshot when the page is rendered"),
    "object": ("needs_browser", "an object that embeds a document is drawn by the browser; it is captioned from a "
               "screenshot when the page is rendered"),
    "canvas": ("needs_browser", "a canvas is drawn by scripts in the browser; it is captioned from a screenshot "
               "when the page is rendered"),
    "area": ("image_map_area", "an image-map area is a region of its map's image, which is audited on its own"),
    "img": ("no_source", "the element has no image URL (src is missing, empty or the page itself)"),
    "input": ("no_source", "the element has no image URL (src is missing, empty or the page itself)"),
}  # fmt: skip


@dataclass
class ParsedPage:
    """A parsed HTML page and what discovery needs besides the HTML."""

    soup: BeautifulSoup
    base_url: str
    title: str | None
    lang: str | None
    stylesheet_urls: list[str] = field(default_factory=list)
    style_blocks: list[str] = field(default_factory=list)
    canonical: str | None = None  # <link rel=canonical>, absolute
    final_url: str | None = None  # the page's own URL (an image URL equal to it points at no image)
    guessed_utf8: bool = False  # no encoding declared; read as UTF-8, which Chromium would not guess

    @cached_property
    def context(self) -> PageContext:
        """What the page says its images show (read once: discovery and the page's subject use it)."""
        return page_context(self.soup, self.base_url)

    def links(self) -> list[str]:
        """Absolute http(s) URLs of the page's ``a``/``area`` links, fragments dropped, in order."""
        found: dict[str, None] = {}
        for tag in self.soup.find_all(["a", "area"], href=True):
            url = urldefrag(urljoin(self.base_url, clean_url(str(tag["href"]))))[0]
            if url.lower().startswith(("http://", "https://")):
                found.setdefault(url, None)
        return list(found)


def parse_page(content: bytes, final_url: str, charset: str | None = None) -> ParsedPage:
    """Parse HTML bytes; the charset comes from the header, else ``<meta>``, else UTF-8 or windows-1252."""
    guessed_utf8 = charset is None and _undeclared_utf8(content)
    charset = charset or sniff_charset(content)
    try:
        soup = BeautifulSoup(content, "lxml", from_encoding=charset)
    except LookupError:  # unknown charset name in the header
        soup = BeautifulSoup(content, "lxml")
    wide = charset.lower().replace("_", "-").startswith(("utf-16", "utf-32"))  # tags not in ASCII bytes
    if wide or _UNKNOWN_VOID_TAG.search(content):  # most pages have none: no walk over the whole tree then
        unnest_voids(soup)
    base_url = final_url
    base = soup.find("base", href=True)
    if isinstance(base, Tag):
        base_url = urljoin(final_url, clean_url(str(base["href"])))
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if isinstance(title_tag, Tag) else None
    html = soup.find("html")
    lang = None
    if isinstance(html, Tag) and html.get("lang"):
        lang = str(html["lang"]).strip() or None
    stylesheet_urls = [
        urljoin(base_url, clean_url(str(link["href"])))
        for link in soup.select("link[href]")
        if "stylesheet" in [r.lower() for r in (link.get("rel") or [])]
    ]
    style_blocks = [tag.get_text() for tag in soup.find_all("style")]
    canonical = None
    for link in soup.select("link[href]"):
        if "canonical" in [r.lower() for r in (link.get("rel") or [])]:
            canonical = urljoin(base_url, clean_url(str(link["href"])))
            break
    return ParsedPage(
        soup, base_url, title or None, lang, stylesheet_urls, style_blocks, canonical, final_url, guessed_utf8
    )


def unnest_voids(soup: BeautifulSoup) -> None:
    """Give the tree HTML5's shape: what libxml2 put inside a void element follows it instead."""
    for void in soup.find_all(LIBXML2_UNKNOWN_VOIDS):
        if void.contents:
            void.insert_after(*[child.extract() for child in list(void.contents)])


def sniff_charset(content: bytes) -> str:
    """The HTML standard's order without a header: BOM or ``<meta>``, valid UTF-8, then windows-1252."""
    declared = EncodingDetector.find_declared_encoding(content[:4096], is_html=True, search_entire_document=False)
    if declared:
        return declared
    if content.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return {b"\xef": "utf-8", b"\xff": "utf-16-le", b"\xfe": "utf-16-be"}[content[:1]]
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "windows-1252"
    return "utf-8"


def _undeclared_utf8(content: bytes) -> bool:
    """UTF-8 text beyond ASCII with no BOM and no ``<meta>`` charset: browsers disagree on how to read it."""
    if content.isascii() or content.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return False
    if EncodingDetector.find_declared_encoding(content[:4096], is_html=True, search_entire_document=False):
        return False
    return sniff_charset(content) == "utf-8"


def clean_url(value: str) -> str:
    """Strip surrounding whitespace and tabs/newlines inside, as browsers do."""
    return _URL_NOISE.sub("", value.strip())


def _int_attr(tag: Tag, name: str) -> int | None:
    match = re.match(r"\s*(\d+)", str(tag.get(name) or ""))
    return int(match.group(1)) if match else None


def _is_placeholder(src: str, tag: Tag) -> bool:
    if not src or src.startswith("data:"):
        return True
    if _int_attr(tag, "width") == 1 and _int_attr(tag, "height") == 1:
        return True
    return bool(PLACEHOLDER_NAME.search(src.split("?", 1)[0]))


def _first_attr(tag: Tag, names: Iterable[str]) -> str:
    for name in names:
        value = tag.get(name)
        if value and str(value).strip():
            return str(value)
    return ""


def _decodable_source(source: Tag) -> bool:
    media_type = str(source.get("type") or "").lower()
    return not media_type.startswith(UNDECODABLE_TYPES)


def chosen_img_url(img: Tag) -> tuple[str, list[str]]:
    """Pick the URL a large screen would load for an ``img``; return it and how it was found."""
    src = clean_url(str(img.get("src") or ""))
    lazy_src = clean_url(_first_attr(img, LAZY_SRC_ATTRS))
    placeholder = _is_placeholder(src, img)
    candidates: list[Candidate] = []
    how: list[str] = []
    srcset = str(img.get("srcset") or "")
    lazy_srcset = _first_attr(img, LAZY_SRCSET_ATTRS)
    if lazy_srcset and (placeholder or not srcset):
        candidates += parse_srcset(lazy_srcset)
        how.append("lazy")
    elif srcset:
        candidates += parse_srcset(srcset)
    # The nearest <picture> ancestor, not only the direct parent (an img in an <a> in a <picture>).
    picture = img.find_parent("picture")
    if isinstance(picture, Tag):
        how.append("picture")
        for source in picture.find_all("source"):
            if _decodable_source(source):
                candidates += parse_srcset(str(source.get("srcset") or _first_attr(source, LAZY_SRCSET_ATTRS)))
    best = largest(candidates)
    if best is not None:
        return clean_url(best.url), ["img", "srcset", *how]
    if lazy_src and placeholder:
        return lazy_src, ["img", "lazy", *how]
    return src, ["img", *how]


class Collector:
    """Deduplicate images by absolute URL, merging occurrences (static and rendered discovery)."""

    def __init__(self, base_url: str, page_url: str | None = None) -> None:
        self.base_url = base_url
        self.page_url = resource_url(page_url or base_url, "")
        self.records: dict[str, ImageRecord] = {}

    def resolve(self, raw_url: str) -> str | None:
        """The absolute URL an element's attribute points at (fragment dropped); None when it is empty."""
        raw_url = clean_url(raw_url)
        if not raw_url:
            return None
        return resource_url(self.base_url, raw_url)

    def shows_no_image(self, raw_url: str) -> bool:
        """An img's or image button's URL is empty, or the page itself (``src="#"``): nothing to fetch."""
        return self.resolve(raw_url) in (None, self.page_url)

    def add(
        self,
        raw_url: str,
        found_in: list[str],
        alt: str | None,
        fill: Callable[[ImageRecord], None] | None = None,
        element: ElementInfo | None = None,
    ) -> ImageRecord | None:
        """Count one occurrence of an image; ``fill`` sets the context of a new record."""
        url = self.resolve(raw_url)
        if url is None:
            return None
        record = self.records.get(url)
        if record is None:
            record = ImageRecord(source=url, alt=alt)
            if fill is not None:
                fill(record)
            if url.lower().startswith(SKIPPED_SCHEMES):
                record.skip("unsupported_scheme", f"{url.split(':', 1)[0]}: URLs are not images that can be fetched")
            self.records[url] = record
        elif record.alt is None and alt is not None:
            record.alt = alt
        record.occurrences += 1
        record.alts.append(alt)
        if element is not None:
            record.add_element(element)
        for where in found_in:
            if where not in record.found_in:
                record.found_in.append(where)
        return record

    def add_drawn(
        self, kind: str, found_in: list[str], element: ElementInfo, fill: Callable[[ImageRecord], None] | None = None
    ) -> ImageRecord:
        """A record for an element with no image URL of its own, keyed by its selector."""
        source = element_source(self.page_url, element.selector or kind)
        record = self.records.get(source)
        if record is None:
            record = self.records[source] = ImageRecord(source=source, alt=element.alt, found_in=[ELEMENT, *found_in])
            if fill is not None:
                fill(record)
        record.occurrences += 1
        record.alts.append(element.alt)
        record.add_element(element)
        return record


class StaticCollector(Collector):
    """A collector over parsed HTML: each occurrence carries its element's name and role."""

    def __init__(self, page: ParsedPage, reader: ElementReader) -> None:
        super().__init__(page.base_url, page.final_url)
        self.reader = reader
        self.seen: set[int] = set()  # ids of the elements that showed an image
        self.context = page.context

    def add_element(self, raw_url: str, found_in: list[str], element: Tag | None, alt: str | None) -> None:
        """Count one occurrence found on a parsed element (an img or image button without a URL is kept too)."""
        if element is None:
            self.add(raw_url, found_in, alt)
            return
        info = self.reader.info(element)
        if element.name == "img":
            info.sizing = static_sizing(element, _int_attr(element, "width"), _int_attr(element, "height"), raw_url)
        if element.name in ("img", "input") and self.shows_no_image(raw_url):
            self.drawn(element.name, found_in, element, info)
            return
        if self.add(raw_url, found_in, alt, lambda r: _fill_context(r, element, self.context), info) is not None:
            self.seen.add(id(element))

    def drawn(self, kind: str, found_in: list[str], element: Tag, info: ElementInfo | None = None) -> None:
        """An element with no image file: skipped with why (a browser captions the ones it draws)."""
        fill = lambda r: _fill_context(r, element, self.context)  # noqa: E731
        record = self.add_drawn(kind, found_in, info or self.reader.info(element), fill)
        if record.status == "pending":
            record.skip(*NOT_CAPTIONED[kind])


def _fill_context(record: ImageRecord, element: Tag, context: PageContext | None = None) -> None:
    record.title = str(element.get("title")) if element.get("title") is not None else None
    record.heading = context.heading_before(element) if context is not None else nearest_heading(element)
    record.wp_attachment_id = wp_attachment(element)
    if context is not None:
        record.subject, record.subject_source = context.subject_for(
            record.source, record.found_in, in_main_content(element)
        )
    record.width_attr = _int_attr(element, "width")
    record.height_attr = _int_attr(element, "height")
    link = enclosing_link(element)
    if link is not None:
        record.in_link = True
        record.link_href, record.link_text = link
    figure = element.find_parent("figure")
    if isinstance(figure, Tag):
        record.in_figure = True
        caption = figure.find("figcaption")
        if isinstance(caption, Tag):
            record.figcaption = caption.get_text(" ", strip=True) or None


_WP_IMAGE = re.compile(r"^wp-image-(\d{1,12})$")


def wp_attachment(element: Tag) -> int | None:
    """The WordPress attachment id of ``class="wp-image-<id>"``."""
    classes = element.get("class") or []
    for name in classes if isinstance(classes, list) else str(classes).split():
        if match := _WP_IMAGE.match(str(name)):
            return int(match.group(1))
    return None


def _attr_alt(tag: Tag) -> str | None:
    value = tag.get("alt")
    return None if value is None else str(value)


def find_images(page: ParsedPage, stylesheets: Iterable[tuple[str, str]] = ()) -> list[ImageRecord]:
    """Every image of the page in document order; ``stylesheets`` are ``(css_text, css_url)``."""
    soup = page.soup
    collector = StaticCollector(page, ElementReader(soup))
    found = soup.find_all(["img", "input", "video", "object"])
    imgs = [(element, chosen_img_url(element), element.find_parent("noscript") is not None)
            for element in found if element.name == "img"]  # fmt: skip
    # An img in <noscript> is a lazy image's copy for visitors without scripts: one more occurrence only when the
    # page shows that image nowhere else.
    shown = {collector.resolve(url) for _, (url, _), fallback in imgs if not fallback}
    chosen = {id(element): (url, how, fallback) for element, (url, how), fallback in imgs}
    for element in found:
        if element.name == "img":
            url, how, fallback = chosen[id(element)]
            if not fallback or collector.resolve(url) not in shown:
                collector.add_element(url, how, element, _attr_alt(element))
        elif element.name == "input" and str(element.get("type") or "").lower() == "image":
            collector.add_element(str(element.get("src") or ""), ["input"], element, _attr_alt(element))
        elif element.name == "video" and element.get("poster"):
            collector.add_element(str(element["poster"]), ["poster"], element, None)
        elif element.name == "object" and is_image_object(element):
            collector.add_element(str(element.get("data") or ""), ["object"], element, None)
    for element in soup.find_all(lambda tag: any(tag.get(name) for name in LAZY_BACKGROUND_ATTRS)):
        if element.name != "img":
            collector.add_element(_first_attr(element, LAZY_BACKGROUND_ATTRS), ["style", "lazy"], element, None)
    for element in soup.find_all(style=True):
        for url in inline_style_urls(str(element["style"])):
            collector.add_element(url, ["style"], element, None)
    css_sources = [(text, page.base_url) for text in page.style_blocks] + list(stylesheets)
    for css_text, css_url in css_sources:
        backgrounds, _imports = stylesheet_backgrounds(css_text)
        for background in backgrounds:
            element = _first_match(soup, background.selector)
            if element is not None:
                collector.add_element(urljoin(css_url, clean_url(background.url)), ["css"], element, None)
    for meta in soup.find_all("meta"):
        key = str(meta.get("property") or meta.get("name") or "").lower()
        if key in ("og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"):
            label = "twitter:image" if key.startswith("twitter") else "og:image"
            alt_meta = soup.find("meta", attrs={"property": f"{label}:alt"}) or soup.find(
                "meta", attrs={"name": f"{label}:alt"}
            )
            alt = str(alt_meta.get("content")) if isinstance(alt_meta, Tag) and alt_meta.get("content") else None
            collector.add_element(str(meta.get("content") or ""), [label], None, alt)
    for kind, element in drawn_elements(soup):
        if kind != "role-img" or id(element) not in collector.seen:  # a role=img background is that image's record
            collector.drawn(kind, [kind], element)
    for record in collector.records.values():  # og:image and twitter:image have no element
        if record.subject is None:
            record.subject, record.subject_source = collector.context.subject_for(record.source, record.found_in, False)
    return list(collector.records.values())


def _first_match(soup: BeautifulSoup, selector: str) -> Tag | None:
    """The first element a CSS selector matches, ignoring interactive pseudo-classes."""
    try:
        found = soup.select_one(matchable_selector(selector))
    except (soupsieve.SelectorSyntaxError, NotImplementedError, ValueError):
        return None
    return found if isinstance(found, Tag) else None


def stylesheet_imports(css_text: str, css_url: str) -> list[str]:
    """Absolute URLs of a stylesheet's ``@import`` rules."""
    return [urljoin(css_url, clean_url(u)) for u in stylesheet_backgrounds(css_text)[1]]
