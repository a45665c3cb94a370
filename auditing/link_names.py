"""A name for a link whose only content is an image AltScout could not caption (a small logo or icon).

The WAI images tutorial's rule for a functional image: its text alternative says what the link does,
not what the image looks like ("W3C home", not "W3C logo"). A linked logo or social icon is
usually too small to caption (under ``--min-width`` x ``--min-height``) or an SVG, and it is the most
common image without a name on a business site; the link's target names it:

- the site's home page: "<site name> home page" (the name the site states, ``PageReport.site_name``),
  else "Home page";
- another page of the site: the words of its path's last part ("/about-us/" -> "About us"), and the
  kind of a document it opens ("/menu.pdf" -> "Menu (PDF)");
- a social network: its name, with the site's ("Acme Bakery on Instagram"); an app store: its badge's
  words ("Download on the App Store");
- ``mailto:`` and ``tel:``: "Email info@example.com", "Call +44 20 7946 0000";
- another site: its host ("example.org");
- an image file of the site (a gallery's thumbnail linked to its full-size image): the words of a
  descriptive file name without its size ("beach-1024x768.jpg" -> "Beach (full-size image)").

A link that goes nowhere it states (``#top``, ``javascript:``) gets no name: only a person knows what it does.

A captioned image in a link is described by its caption, and its suggestion ends with what the link
does (:func:`link_purpose`, by the same reading of the address): "(link to the red shoes page)",
"(link to the menu PDF file)", "(link to Instagram)", "(opens the full-size image)", "(email
info@example.com)".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import SplitResult, parse_qsl, unquote, urljoin, urlsplit

from auditing.suggest import file_name, is_descriptive_filename
from records import ImageRecord, PageReport
from scraper.elements import IMAGE_EXTENSIONS
from scraper.urls import bare_host

NETWORKS = {
    "facebook.com": "Facebook", "fb.com": "Facebook", "instagram.com": "Instagram", "x.com": "X",
    "twitter.com": "X", "linkedin.com": "LinkedIn", "youtube.com": "YouTube", "youtu.be": "YouTube",
    "tiktok.com": "TikTok", "pinterest.com": "Pinterest", "threads.net": "Threads", "threads.com": "Threads",
    "bsky.app": "Bluesky", "mastodon.social": "Mastodon", "github.com": "GitHub", "vimeo.com": "Vimeo",
    "wa.me": "WhatsApp", "whatsapp.com": "WhatsApp", "t.me": "Telegram", "snapchat.com": "Snapchat",
    "reddit.com": "Reddit", "discord.gg": "Discord", "discord.com": "Discord", "yelp.com": "Yelp",
    "tripadvisor.com": "Tripadvisor", "spotify.com": "Spotify",
}  # fmt: skip
STORES = {
    "apps.apple.com": ("Download on the App Store", "the App Store"),
    "play.google.com": ("Get it on Google Play", "Google Play"),
}  # the badges' words, and the store's name
CONTACTS = {"mailto": "Email", "tel": "Call"}
IMAGE_FILES = IMAGE_EXTENSIONS | {"svg"}
FULL_SIZE = "full-size image"  # a thumbnail linked to its own large version opens it
SIZE_WORD = re.compile(r"\d+x\d+|scaled|e\d{10,}|\d+w", re.I)  # WordPress's -1024x768, -scaled, -e1700000000000
INDEX_NAMES = {"", "index", "default", "home"}  # a path whose last part is one of these is the folder's page
LANGUAGE_PART = re.compile(r"^[a-z]{2}(?:[-_][a-z]{2})?$", re.I)  # /en/, /fr-ca/: a language's home page
HOST = re.compile(r"[^\s%@/\\]+")  # a host name (an IDN's letters, an IPv6 address), not "exa mple" or "%zz"
MAX_WORDS = 8
DOCUMENTS = {".pdf": "PDF", ".doc": "Word", ".docx": "Word", ".xls": "Excel", ".xlsx": "Excel", ".ppt": "PowerPoint",
             ".pptx": "PowerPoint", ".zip": "ZIP", ".csv": "CSV"}  # fmt: skip  # a link to a file says what it opens


@dataclass(frozen=True)
class _Target:
    """Where a link goes, as its address says: one of its fields is set (``home`` alone for the home page)."""

    contact: tuple[str, str] | None = None  # ("mailto" | "tel", the address or number)
    store: tuple[str, str] | None = None  # (its badge's words, its name)
    network: str | None = None
    image: str | None = None  # an image file's address (a thumbnail's full-size image)
    host: str | None = None  # another site
    page: tuple[str, str | None] | None = None  # this site's page: its words and the kind of document
    home: bool = False


def link_name(href: str | None, page_url: str, site_name: str | None, base_url: str | None = None) -> str | None:
    """What a link whose only content is an uncaptioned image should be called (see the module), or None;
    ``href`` resolves against the page's ``<base href>`` (``base_url``) where it has one."""
    target = _target(href, page_url, base_url)
    if target is None:
        return None
    if target.contact:
        return f"{CONTACTS[target.contact[0]]} {target.contact[1]}"
    if target.store:
        return target.store[0]
    if target.network:
        return f"{site_name} on {target.network}" if site_name else target.network
    if target.image:
        words = _image_file_words(target.image)
        return f"{words} ({FULL_SIZE})" if words else None
    if target.host:
        return target.host
    if target.page:
        words, kind = target.page
        return (words + (f" ({kind})" if kind else "")) or None
    return f"{site_name} home page" if site_name else "Home page"


def link_purpose(href: str | None, page_url: str, base_url: str | None = None) -> str | None:
    """What following the link of a captioned image does, for the end of its suggested alt ("A red shoe
    (link to the red shoes page)"); None where the address does not say (an id, ``#top``, ``javascript:``)."""
    target = _target(href, page_url, base_url)
    if target is None:
        return None
    if target.contact:
        return f"{CONTACTS[target.contact[0]].lower()} {target.contact[1]}"
    if target.store:
        return f"link to {target.store[1]}"
    if target.image:
        return f"opens the {FULL_SIZE}"
    if target.network or target.host:
        return f"link to {target.network or target.host}"
    if target.page:
        words, kind = target.page
        if not words:
            return None
        words = words if words[1:] != words[1:].lower() else words[:1].lower() + words[1:]  # as written: SEO
        return f"link to the {words} {kind} file" if kind else f"link to the {words} page"
    return "link to the home page"


def image_link_purpose(record: ImageRecord, page: PageReport) -> str | None:
    """What the link of an image on ``page`` does (:func:`link_purpose`); None outside a link."""
    return link_purpose(record.link_href, page.final_url or page.url, page.base_url) if record.in_link else None


def _target(href: str | None, page_url: str, base_url: str | None) -> _Target | None:
    """Where the link goes, or None where its address names nothing (no address, ``#top``, ``javascript:``,
    an empty ``mailto:``, a page the query picks)."""
    parts = _address(href, base_url or page_url)
    if parts is None:
        return None
    scheme = parts.scheme.lower()
    if scheme in CONTACTS:
        contact = _contact(parts, scheme)
        return _Target(contact=(scheme, contact)) if contact else None
    if scheme not in ("http", "https") or not parts.hostname or not HOST.fullmatch(parts.hostname):
        return None
    host = bare_host(parts.geturl())
    if host in STORES:
        return _Target(store=STORES[host])
    network = _network(host)
    if network:
        return _Target(network=network)
    if _is_image_file(parts.path):  # on this site or its image CDN
        return _Target(image=parts.geturl())
    if host != bare_host(page_url):
        return _Target(host=host)
    path = _path_words(parts.path)
    if path is None:
        return None if _names_a_page(parts.query) else _Target(home=True)
    return _Target(page=path)


def _address(href: str | None, base_url: str) -> SplitResult | None:
    """The link's address resolved, or None: no address, a place on this page, a bad one."""
    if not href or not href.strip() or href.strip().startswith("#"):
        return None  # nowhere, or a place on this page ("back to top"): only a person knows what it does
    try:
        parts = urlsplit(urljoin(base_url, href.strip()))
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return None  # no address at all ("http://[::1"): nothing to name
    return parts


def _contact(parts: SplitResult, scheme: str) -> str:
    """The address of a ``mailto:`` link (its first) or the number of a ``tel:`` link."""
    text = unquote(parts.path)
    return (text.split(",")[0] if scheme == "mailto" else text).strip()


def _names_a_page(query: str) -> bool:
    """A query that picks a page the path does not name (/?page_id=2); tracking parameters pick none."""
    return any(not key.startswith("utm_") for key, _ in parse_qsl(query, keep_blank_values=True))


def _network(host: str) -> str | None:
    """The social network or app store a host belongs to (its subdomains included: m.facebook.com)."""
    for domain, name in NETWORKS.items():
        if host == domain or host.endswith("." + domain):
            return name
    return None


def _is_image_file(path: str) -> bool:
    """The path names an image file (a gallery's thumbnail linked to its full-size image)."""
    return PurePosixPath(unquote(path)).suffix.lower().lstrip(".") in IMAGE_FILES


def _image_file_words(url: str) -> str | None:
    """The words of a descriptive image file name without its size ("beach-1024x768.jpg" -> "Beach"),
    None for a camera name, a hash or a number."""
    if not is_descriptive_filename(url):
        return None
    words = [word for word in re.split(r"[-_.+ ]+", PurePosixPath(file_name(url)).stem) if word]
    words = [word for word in words if not SIZE_WORD.fullmatch(word)][:MAX_WORDS]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if any(char.isalpha() for char in text) else None


def _path_words(path: str) -> tuple[str, str | None] | None:
    """The words of a path's last meaningful part, sentence case, and the kind of document it opens
    (None: a page); None for the site's home page, no words for an id."""
    segments = [segment for segment in unquote(path).split("/") if segment]
    while segments and PurePosixPath(segments[-1]).stem.lower() in INDEX_NAMES:
        segments.pop()
    if all(LANGUAGE_PART.match(segment) for segment in segments):
        return None
    stem = PurePosixPath(segments[-1]).stem if "." in segments[-1] else segments[-1]
    words = re.sub(r"[-_.+]+", " ", stem).split()
    if not any(char.isalpha() for word in words for char in word):
        return "", None
    text = " ".join(words[:MAX_WORDS])
    return text[:1].upper() + text[1:], DOCUMENTS.get(PurePosixPath(segments[-1]).suffix.lower())
