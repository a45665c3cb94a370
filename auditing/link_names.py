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
- another site: its host ("example.org").

A link that goes nowhere it states (``#top``, ``javascript:``) gets no name: only a person knows what it does.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

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
    "apps.apple.com": "Download on the App Store",
    "play.google.com": "Get it on Google Play",
}  # the badges' words
INDEX_NAMES = {"", "index", "default", "home"}  # a path whose last part is one of these is the folder's page
LANGUAGE_PART = re.compile(r"^[a-z]{2}(?:[-_][a-z]{2})?$", re.I)  # /en/, /fr-ca/: a language's home page
HOST = re.compile(r"[^\s%@/\\]+")  # a host name (an IDN's letters, an IPv6 address), not "exa mple" or "%zz"
MAX_WORDS = 8
DOCUMENTS = {".pdf": "PDF", ".doc": "Word", ".docx": "Word", ".xls": "Excel", ".xlsx": "Excel", ".ppt": "PowerPoint",
             ".pptx": "PowerPoint", ".zip": "ZIP", ".csv": "CSV"}  # fmt: skip  # a link to a file says what it opens


def link_name(href: str | None, page_url: str, site_name: str | None) -> str | None:
    """What a link whose only content is an uncaptioned image should be called (see the module), or None."""
    if not href or not href.strip() or href.strip().startswith("#"):
        return None  # nowhere, or a place on this page ("back to top"): only a person knows what it does
    try:
        parts = urlsplit(urljoin(page_url, href.strip()))
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return None  # no address at all ("http://[::1"): nothing to name
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        address = unquote(parts.path).split(",")[0].strip()
        return f"Email {address}" if address else None
    if scheme == "tel":
        number = unquote(parts.path).strip()
        return f"Call {number}" if number else None
    if scheme not in ("http", "https") or not parts.hostname or not HOST.fullmatch(parts.hostname):
        return None
    host = bare_host(parts.geturl())
    if host in STORES:
        return STORES[host]
    network = _network(host)
    if network:
        return f"{site_name} on {network}" if site_name else network
    if host != bare_host(page_url):
        return host
    words = _path_words(parts.path)
    if words is None:
        if any(not key.startswith("utm_") for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
            return None  # /?page_id=2: a page the address does not name
        return f"{site_name} home page" if site_name else "Home page"
    return words or None


def _network(host: str) -> str | None:
    """The social network or app store a host belongs to (its subdomains included: m.facebook.com)."""
    for domain, name in NETWORKS.items():
        if host == domain or host.endswith("." + domain):
            return name
    return None


def _path_words(path: str) -> str | None:
    """The words of a path's last meaningful part, sentence case; None for the site's home page,
    "" when the part has no words (an id)."""
    segments = [segment for segment in unquote(path).split("/") if segment]
    while segments and PurePosixPath(segments[-1]).stem.lower() in INDEX_NAMES:
        segments.pop()
    if all(LANGUAGE_PART.match(segment) for segment in segments):
        return None
    stem = PurePosixPath(segments[-1]).stem if "." in segments[-1] else segments[-1]
    words = re.sub(r"[-_.+]+", " ", stem).split()
    if not any(char.isalpha() for word in words for char in word):
        return ""
    text = " ".join(words[:MAX_WORDS])
    kind = DOCUMENTS.get(PurePosixPath(segments[-1]).suffix.lower())
    return text[:1].upper() + text[1:] + (f" ({kind})" if kind else "")
