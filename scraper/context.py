"""What a page itself says about its images: schema.org subjects, the social title, headings.

Suggestions use a page's own words where they are reliable (issue 28): a product photo's alt
names the product its JSON-LD names, an ``og:image`` takes the ``og:title``. Only structured
statements are trusted for the subject:

- schema.org JSON-LD items of the types that name what a photo shows (Product, Recipe, Place,
  Person, Event and their common subtypes), matched to an image by the item's ``image`` URLs; a
  page whose one such item lists no images names it for the content images of its main part
  (outside header, footer, navigation, asides, links and figures with a caption);
- ``og:title`` (or ``twitter:title``) for the ``og:image`` / ``twitter:image``.

The nearest heading above an image is kept as context too (it supports a keyword), but never put
into a suggestion on its own: a section heading ("Related products") is not what a photo shows.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urljoin

from bs4 import BeautifulSoup, Tag

from scraper.urls import bare_host

log = logging.getLogger("altscout")

SUBJECT_TYPES = {
    "Product", "ProductModel", "IndividualProduct", "Vehicle", "Car", "Book", "Recipe", "Place", "LocalBusiness",
    "Restaurant", "Store", "Hotel", "TouristAttraction", "Person", "Event", "MusicEvent", "SportsEvent",
}  # fmt: skip
SITE_TYPES = {
    "Organization", "Corporation", "LocalBusiness", "Restaurant", "Store", "Hotel", "NGO", "EducationalOrganization",
    "GovernmentOrganization", "MedicalOrganization", "SportsOrganization", "NewsMediaOrganization", "OnlineStore",
}  # fmt: skip
MAX_JSONLD_BYTES = 1_000_000  # a script larger than this is not read
MAX_NAME_CHARS = 120
HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]


@dataclass
class PageContext:
    """A page's statements about its images (see the module)."""

    subjects: dict[str, str] = field(default_factory=dict)  # absolute image URL -> the item's name
    main_subject: str | None = None  # the name of the page's only schema.org subject
    social_title: str | None = None  # og:title, else twitter:title
    h1: str | None = None
    site_name: str | None = None  # what the site calls itself (:func:`site_name`)
    generator: str | None = None  # what built the page, as its <meta name="generator"> says ("Hugo 0.121.0")
    # id of each element -> the last heading before it in document order (one pass over the page:
    # ``find_previous`` per image made a page of 10,000 images take a minute)
    headings_before: dict[int, Tag | None] = field(default_factory=dict, repr=False)

    def heading_before(self, element: Tag) -> str | None:
        """The text of the last heading before ``element`` (:func:`nearest_heading`, from the index)."""
        if id(element) not in self.headings_before:  # not in the indexed page: ask the tree
            return nearest_heading(element)
        heading = self.headings_before[id(element)]
        return _clean(heading.get_text(" ", strip=True)) if heading is not None else None

    def page_subject(self) -> str | None:
        """What the page is about: its one schema.org subject, else its first item's, else its h1."""
        return self.main_subject or next(iter(self.subjects.values()), None) or self.h1

    def subject_for(self, image_url: str, found_in: list[str], in_main: bool) -> tuple[str | None, str | None]:
        """The subject an image shows and where it comes from (``jsonld`` or ``og_title``), or (None, None)."""
        key = urldefrag(image_url)[0]
        if key in self.subjects:
            return self.subjects[key], "jsonld"
        if {"og:image", "twitter:image"} & set(found_in) and self.social_title:
            return self.social_title, "og_title"
        if in_main and self.main_subject:
            return self.main_subject, "jsonld"
        return None, None


def page_context(soup: BeautifulSoup, base_url: str) -> PageContext:
    """Read the page's JSON-LD subjects, social title and first ``h1``."""
    context = PageContext()
    names: list[str] = []
    for item in _jsonld_items(soup):
        name = _name(item)
        if name is None:
            continue
        names.append(name)
        for url in _image_urls(item.get("image")):
            context.subjects.setdefault(urldefrag(urljoin(base_url, url))[0], name)
    if len(set(names)) == 1 and not context.subjects:  # one subject, no images named: the page's photos
        context.main_subject = names[0]
    for key in ("og:title", "twitter:title"):
        meta = soup.find("meta", attrs={"property": key}) or soup.find("meta", attrs={"name": key})
        if isinstance(meta, Tag) and (content := _clean(meta.get("content"))):
            context.social_title = content
            break
    context.site_name = site_name(soup, base_url)
    meta = soup.find("meta", attrs={"name": re.compile(r"^generator$", re.IGNORECASE)})
    context.generator = _clean(meta.get("content")) if isinstance(meta, Tag) else None
    h1 = soup.find("h1")
    context.h1 = _clean(h1.get_text(" ", strip=True)) if isinstance(h1, Tag) else None
    heading: Tag | None = None
    for node in soup.descendants:
        if isinstance(node, Tag):
            context.headings_before[id(node)] = heading
            if node.name in HEADINGS:
                heading = node
    return context


def site_name(soup: BeautifulSoup, base_url: str) -> str | None:
    """What the site calls itself, from what it states, in this order: ``og:site_name``;
    ``application-name``; a schema.org ``WebSite``'s name; the name of an organisation whose ``url`` is on
    this host; else the part of the ``<title>`` that spells the host's name ("Home | Acme Bakery" on
    acme-bakery.com). None when it says nothing."""
    for key in ("og:site_name", "application-name"):
        meta = soup.find("meta", attrs={"property": key}) or soup.find("meta", attrs={"name": key})
        if isinstance(meta, Tag) and (content := _clean(meta.get("content"))):
            return content
    host = bare_host(base_url)
    organisation: str | None = None
    for item in _jsonld_items(soup, {"WebSite", *SITE_TYPES}, ("@graph", "publisher", "isPartOf")):
        name, types = _name(item), _types(item)
        if name and "WebSite" in types:
            return name
        stated = bare_host(item["url"]) if isinstance(item.get("url"), str) else ""
        if name and organisation is None and stated and stated == host:
            organisation = name
    if organisation:
        return organisation
    title = soup.find("title")
    text = _clean(title.get_text(" ", strip=True)) if isinstance(title, Tag) else None
    return _title_site_name(text or "", {_compact(label) for label in host.split(".")[:-1]})


def _title_site_name(title: str, labels: set[str]) -> str | None:
    """The part of a page title that spells one of the host's labels: a part that is the label ("Cakes |
    Crumb & Co" on crumbandco.com, "&" read as "and"), else a last part that starts with it ("Contact -
    Smith Dental Care" on smithdental.com, "Home - ACME Ltd" on acme.co.uk), where titles put the site."""
    parts = [part.strip() for part in re.split(r"\s+[|\-\u2013\u2014\u00b7:\u00bb/]\s+", title) if part.strip()]
    for part in parts:
        if _spellings(part) & labels and len(_compact(part)) >= 3:
            return part
    if len(parts) < 2:
        return None
    words = parts[-1].split()
    for count in range(1, len(words)):
        lead = " ".join(words[:count])
        if len(_compact(lead)) >= 4 and _spellings(lead) & labels:
            return parts[-1]
    return None


def _spellings(text: str) -> set[str]:
    """How ``text`` may be spelt in a host name: letters and digits only, "&" dropped or read as "and"."""
    return {_compact(text), _compact(text.replace("&", " and "))}


def _compact(text: str) -> str:
    return "".join(char for char in text.lower() if char.isalnum())


def nearest_heading(element: Tag) -> str | None:
    """The text of the last heading before ``element`` in document order."""
    heading = element.find_previous(HEADINGS)
    return _clean(heading.get_text(" ", strip=True)) if isinstance(heading, Tag) else None


def in_main_content(element: Tag) -> bool:
    """Whether ``element`` is outside the page's header, footer, navigation, asides, links and captioned figures."""
    if element.find_parent(["header", "footer", "nav", "aside", "a", "button"]) is not None:
        return False
    figure = element.find_parent("figure")
    return not (isinstance(figure, Tag) and figure.find("figcaption") is not None)


WALKED = ("@graph", "itemListElement", "item", "mainEntity", "hasVariant")  # where subjects nest


def _jsonld_items(
    soup: BeautifulSoup, wanted: set[str] = SUBJECT_TYPES, walked: tuple[str, ...] = WALKED
) -> Iterator[dict[str, Any]]:
    """Every schema.org item of a ``wanted`` type in the page's JSON-LD (nested under ``walked`` keys included)."""
    for script in soup.find_all("script", attrs={"type": "application/ld+json"}):
        text = script.string or script.get_text()
        if not text or len(text) > MAX_JSONLD_BYTES:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            log.debug("unreadable JSON-LD ignored")
            continue
        yield from _walk(data, 0, wanted, walked)


def _walk(data: Any, depth: int, wanted: set[str], walked: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    if depth > 8:
        return
    if isinstance(data, list):
        for entry in data:
            yield from _walk(entry, depth + 1, wanted, walked)
    elif isinstance(data, dict):
        if _types(data) & wanted:
            yield data
        for key in walked:
            if key in data:
                yield from _walk(data[key], depth + 1, wanted, walked)


def _types(item: dict[str, Any]) -> set[str]:
    """An item's schema.org types, without their vocabulary prefix."""
    types = item.get("@type")
    named = [types] if isinstance(types, str) else types if isinstance(types, list) else []
    return {str(t).rsplit("/", 1)[-1] for t in named}


def _name(item: dict[str, Any]) -> str | None:
    return _clean(item.get("name")) if isinstance(item.get("name"), str) else None


def _image_urls(value: Any) -> list[str]:
    """schema.org ``image``: a URL, an ImageObject (``url`` / ``contentUrl``) or a list of either."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [str(value[key]) for key in ("url", "contentUrl") if isinstance(value.get(key), str)]
    if isinstance(value, list):
        return [url for entry in value[:50] for url in _image_urls(entry)]
    return []


def _clean(value: Any) -> str | None:
    """One line of text, bounded; None when empty."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text[:MAX_NAME_CHARS] if text else None
