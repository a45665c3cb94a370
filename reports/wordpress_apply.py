#!/usr/bin/env python3
"""Alt texts from AltScout for a WordPress site's images, set through the WordPress REST API, for a site you
reach only in a browser (no shell for WP-CLI). Review the texts below, then run it with your user name and an
application password (Users → Profile → Application Passwords; WordPress 5.6 or later, over https):

    WP_USER=… WP_APP_PASSWORD='xxxx xxxx xxxx xxxx xxxx xxxx' python3 THIS_FILE      (add --dry-run first)

WordPress keeps an image's alt twice, and the two never sync, so it sets both:
- each attachment's alt (the media library's, which featured and product images show, and later insertions copy);
- the copy in the HTML of the post or page at each audited address (its <img> tags of class wp-image-ID, or whose
  src names the image), saved as an edit, of which WordPress keeps a revision.

Nothing a person wrote is replaced: an alt is set only where it is still empty or what the audit read on the page;
one that has changed since is left, and said. This file needs Python 3.8 and nothing else.
"""

from __future__ import annotations

import base64
import html
import os
import re
import sys
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from reports.api_script import Refused, call, finish, settable

SITE = ""  # the audited site's address
API = os.environ.get("WP_API", "")  # the REST API's root (https://…/wp-json); found from SITE where not given
# Each attachment: its key (its ID, or its address where its markup has none), an address, the alt the audit read
# and the alt to set; each post: its page's address and its images (a key, the alt read, the alt to set).
IMAGES: list[dict[str, Any]] = []
POSTS: list[dict[str, Any]] = []
_REFUSED = ("WordPress refused the user and application password (HTTP {status}): set WP_USER and WP_APP_PASSWORD "
            "to a user who may edit posts and media, and an application password of theirs")  # fmt: skip
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_WP_IMAGE = re.compile(r"\bwp-image-(\d+)\b")
_SRC = re.compile(r"""\ssrc(set)?\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_ALT = re.compile(r"""(\s)alt\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""", re.IGNORECASE)
_SIZE = re.compile(r"(-\d+x\d+|-scaled)(?=\.[A-Za-z0-9]+$)")


class Api:
    """The site's REST API, with the user's application password."""

    def __init__(self, user: str, password: str) -> None:
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.root = API.rstrip("/") or self._root()

    def _root(self) -> str:
        """``/wp-json``, or ``?rest_route=`` on a site without pretty permalinks."""
        for root in (SITE.rstrip("/") + "/wp-json", SITE.rstrip("/") + "/?rest_route="):
            status, types = call(root + "/wp/v2/types", "GET", {"Authorization": self.auth}, None, _REFUSED)
            if status == 200 and isinstance(types, dict):  # not a theme's page for any address
                return root
        raise Refused(f"No WordPress REST API answers at {SITE} (/wp-json or ?rest_route=): is it a WordPress site, "
                      "and does a security plugin turn the REST API off?")  # fmt: skip

    def __call__(self, method: str, route: str, body: Any = None, **query: str) -> tuple[int, Any]:
        """One call of a route (``/wp/v2/media``) with a query."""
        joined = "&".join(f"{name}={quote(value, safe=',')}" for name, value in query.items())
        address = self.root + route + (("&" if "?rest_route=" in self.root else "?") + joined if joined else "")
        return call(address, method, {"Authorization": self.auth}, body, _REFUSED)


def path_of(address: str, folder: str = "/") -> str:
    """An image's path, as the site stores it: an upload's resized (-1024x768) or scaled copy is its original."""
    path = unquote(urlsplit(html.unescape(address.strip())).path)
    if not path:
        return ""
    path = path if path.startswith("/") else folder + path
    return _SIZE.sub("", path) if "/wp-content/uploads/" in path else path


def set_attachments(api: Api, dry_run: bool, said: dict[str, list[str]]) -> None:
    """Each attachment's alt: those of an ID read 100 a call; those of an address found in the media library."""
    by_id = {int(image["key"]): image for image in IMAGES if image["key"].isdigit()}
    media: dict[int, dict[str, Any]] = {}
    ids = sorted(by_id)
    for start in range(0, len(ids), 100):
        status, found = api("GET", "/wp/v2/media", include=",".join(map(str, ids[start : start + 100])),
                            per_page="100", context="edit")  # fmt: skip
        media.update({item["id"]: item for item in found or [] if isinstance(item, dict)} if status == 200 else {})
    by_path = {path_of(image["key"]): image for image in IMAGES if not image["key"].isdigit()}
    for item in library(api) if by_path else []:
        for address in [item.get("source_url", ""), *_sizes(item)]:
            image = by_path.pop(path_of(address), None)
            if image is not None:
                by_id.setdefault(item["id"], image)
                media.setdefault(item["id"], item)
    for image in by_path.values():
        said[image["key"]].append("failed: no attachment of the site is at this address")
    for attachment, image in by_id.items():
        item = media.get(attachment)
        if item is None:
            said[image["key"]].append("failed: no attachment of the site has it")
            continue
        current = item.get("alt_text")
        if current == image["alt"]:
            said[image["key"]].append(f"attachment {attachment}'s alt was already this")
        elif not settable(current, image):
            said[image["key"]].append(f"left: attachment {attachment}'s alt changed since the audit ({current!r})")
        elif dry_run:
            said[image["key"]].append(f"would set attachment {attachment}'s alt to {image['alt']!r}")
        else:
            status, _ = api("POST", f"/wp/v2/media/{attachment}", {"alt_text": image["alt"]})
            said[image["key"]].append(f"set attachment {attachment}'s alt" if status == 200
                                      else f"failed: HTTP {status} on attachment {attachment}")  # fmt: skip


def library(api: Api) -> list[dict[str, Any]]:
    """Every attachment of the media library, 100 a call."""
    items: list[dict[str, Any]] = []
    while True:
        status, page = api("GET", "/wp/v2/media", per_page="100", page=str(len(items) // 100 + 1), context="edit")
        found = [item for item in page or [] if isinstance(item, dict)] if status == 200 else []
        items += found
        if len(found) < 100:
            return items


def _sizes(item: dict[str, Any]) -> list[str]:
    sizes = (item.get("media_details") or {}).get("sizes") or {}
    return [size.get("source_url", "") for size in sizes.values() if isinstance(size, dict)]


def set_posts(api: Api, dry_run: bool) -> list[str]:
    """The alt copies in each audited page's post; a line a page."""
    status, types = api("GET", "/wp/v2/types")
    bases = [kind["rest_base"] for name, kind in (types or {}).items() if status == 200 and isinstance(kind, dict)
             and kind.get("rest_base") and name not in ("attachment", "wp_block", "wp_template", "wp_navigation")]
    lines = []
    for post in POSTS:
        found = find_post(api, bases, post["url"])
        if found is None:
            lines.append(f"{post['url']}: no single post or page is at this address (an archive?): skipped")
            continue
        base, item = found
        before = (item.get("content") or {}).get("raw", "")
        after, notes = with_alts(before, post["images"], urlsplit(post["url"]).path.rsplit("/", 1)[0] + "/")
        if after == before or dry_run:
            verb = "would set" if after != before else "no image to change:"
            lines.append(f"{post['url']}: post {item['id']}: {verb} {'; '.join(notes) or 'its images are set'}")
            continue
        status, _ = api("POST", f"/wp/v2/{base}/{item['id']}", {"content": after})
        done = f"set {'; '.join(notes)}" if status == 200 else f"failed: HTTP {status} saving it"
        lines.append(f"{post['url']}: post {item['id']}: {done}")
    return lines


def find_post(api: Api, bases: list[str], url: str) -> tuple[str, dict[str, Any]] | None:
    """The post (of any type) whose address is ``url``, found by its slug: (its type's route, the post)."""
    slug = [part for part in urlsplit(url).path.split("/") if part][-1:] or [""]
    for base in bases if slug[0] else []:
        status, items = api("GET", f"/wp/v2/{base}", slug=unquote(slug[0]), context="edit")
        for item in (items or []) if status == 200 else []:
            if isinstance(item, dict) and _path(item.get("link", "")) == _path(url):  # http or https, www or not
                return base, item
    return None


def _path(url: str) -> str:
    return unquote(urlsplit(url).path).rstrip("/")


def with_alts(content: str, images: list[dict[str, Any]], folder: str) -> tuple[str, list[str]]:
    """A post's HTML with the alt of each of its images set (by its wp-image-ID, else by the path its src or srcset
    names), where the alt is empty or what the audit read; and what was done."""
    by_id = {int(image["key"]): image for image in images if image["key"].isdigit()}
    by_path = {path_of(image["key"]): image for image in images if not image["key"].isdigit()}
    notes: list[str] = []

    def tag_with_alt(match: re.Match[str]) -> str:
        tag = match.group()
        image = _image_of(tag, by_id, by_path, folder)
        current = _ALT.search(tag)
        now = html.unescape(current.group(2).strip("\"'")) if current else None
        if image is None or now == image["alt"]:
            return tag
        if not settable(now, image):
            notes.append(f"left the alt of {image['url']}: changed since the audit ({now!r})")
            return tag
        notes.append(f"the alt of {image['url']}")
        value = f'alt="{html.escape(image["alt"], quote=True)}"'
        if current:
            return tag[: current.start()] + current.group(1) + value + tag[current.end() :]
        return tag[:4] + " " + value + tag[4:]

    return _IMG.sub(tag_with_alt, content), notes


def _image_of(tag: str, by_id: dict[int, dict[str, Any]], by_path: dict[str, dict[str, Any]],
              folder: str) -> dict[str, Any] | None:  # fmt: skip
    """The image an <img> tag shows: by its wp-image-ID, else by a path its src or srcset names."""
    wp_image = _WP_IMAGE.search(tag)
    if wp_image:
        return by_id.get(int(wp_image.group(1)))
    for match in _SRC.finditer(tag):
        value = match.group(2) or match.group(3) or match.group(4) or ""
        for candidate in value.split(",") if match.group(1) else [value]:
            image = by_path.get(path_of((candidate.split() or [""])[0], folder))
            if image is not None:
                return image
    return None


def main(argv: list[str]) -> int:
    """Set every attachment's alt and each page's copies: a line an image and a page (:func:`finish`); 2 where
    nothing could be tried."""
    dry_run = "--dry-run" in argv
    user, password = os.environ.get("WP_USER", ""), os.environ.get("WP_APP_PASSWORD", "")
    if not user or not password:
        print("Set WP_USER to your WordPress user name and WP_APP_PASSWORD to an application password of yours "
              "(Users → Profile → Application Passwords).", file=sys.stderr)  # fmt: skip
        return 2
    said: dict[str, list[str]] = {image["key"]: [] for image in IMAGES}
    try:
        api = Api(user, password)
        set_attachments(api, dry_run, said)
        posts = set_posts(api, dry_run)
    except Refused as refused:
        print(str(refused), file=sys.stderr)
        return 2
    code = finish(IMAGES, said)
    for line in posts:
        print(line)
    return 1 if code or any(": failed: " in line for line in posts) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
