#!/usr/bin/env python3
"""Alt texts from AltScout for a Webflow site's images, set through Webflow's Data API (v2).

Review the texts below, then run, with a site token that may read and write Assets and CMS (the assets:read,
assets:write, cms:read and cms:write scopes; Site settings → Apps & integrations → API access):

    WEBFLOW_TOKEN=… python3 THIS_FILE            (add --dry-run to see what it would change)

Webflow keeps an image's alt in two places, and this sets both where the image has them:
- the asset's (the Assets panel's), which every Image element that uses the asset's alt text shows;
- a CMS item's image field (an image of a collection: a post's, a team member's), which its templates show.

Nothing a person wrote is replaced: an alt is set only where it is still empty or what the audit read on the page;
one that has changed since is left, and said. Publish the site in Webflow to make the changes live.
An Image element whose alt the Designer sets by hand (Custom) keeps it. This file needs Python 3.8 and nothing else.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from reports.api_script import Refused, call, finish, settable

API = os.environ.get("WEBFLOW_API", "https://api.webflow.com/v2").rstrip("/")  # WEBFLOW_API: a test server
# Each image: its site, its file (the asset's ID, or the CMS image's fileId; its key), an address of it, the alt
# the audit read on the page (None: no alt attribute) and the alt to set.
IMAGES: list[dict[str, Any]] = []
_REFUSED = ("Webflow refused the token (HTTP {status}): set WEBFLOW_TOKEN to a token of this site with "
            "read and write access to Assets and CMS")  # fmt: skip


def request(method: str, path: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """One call of Webflow's API (its rate limit waited out): (HTTP status, the JSON it answered)."""
    return call(API + path, method, {"Authorization": "Bearer " + token}, body, _REFUSED)


def set_assets(site: str, site_images: list[dict[str, Any]], token: str, dry_run: bool,
               said: dict[str, list[str]]) -> None:  # fmt: skip
    """Each image's asset alt (``said``: an image's key -> what happened to it), the site's assets read 100 a call."""
    assets, status = pages(f"/sites/{site}/assets", "assets", token)
    by_id = {asset.get("id"): asset for asset in assets}
    for image in site_images:
        asset = by_id.get(image["key"])
        if asset is None:
            if status != 200:  # it may be in what could not be read
                said[image["key"]].append(f"failed: HTTP {status} reading the site's assets")
            continue  # no asset of this site: a CMS image, or another site's
        current = asset.get("altText")
        if current == image["alt"]:
            said[image["key"]].append("the asset's alt was already this")
        elif not settable(current, image):
            said[image["key"]].append(f"left: the asset's alt changed since the audit ({current!r})")
        elif dry_run:
            said[image["key"]].append(f"would set the asset's alt to {image['alt']!r}")
        else:
            status, _ = request("PATCH", "/assets/" + image["key"], token, {"altText": image["alt"]})
            done = 200 <= status < 300
            said[image["key"]].append("set the asset's alt" if done else f"failed: HTTP {status} on the asset")


def pages(path: str, field: str, token: str) -> tuple[list[dict[str, Any]], int]:
    """Every element of a paginated list (``field`` of each answer), 100 a call; and the last call's status (not
    200: the list ends there)."""
    found: list[dict[str, Any]] = []
    while True:
        status, page = request("GET", f"{path}?offset={len(found)}&limit=100", token)
        elements = [one for one in (page or {}).get(field) or [] if isinstance(one, dict)] if status == 200 else []
        found += elements
        if not elements or len(found) >= ((page or {}).get("pagination") or {}).get("total", 0):
            return found, status


def set_cms_images(site: str, site_images: list[dict[str, Any]], token: str, dry_run: bool,
                   said: dict[str, list[str]]) -> None:  # fmt: skip
    """The alt of each CMS item's image field (one image, or each of a multi-image field) that holds an image."""
    wanted = {image["key"]: image for image in site_images}  # a CMS image's fileId is its asset's ID
    collections, status = pages(f"/sites/{site}/collections", "collections", token)
    for collection in collections:
        if status != 200:
            break
        items, status = pages(f"/collections/{collection['id']}/items", "items", token)
        for item in items:
            _set_item(collection["id"], item, wanted, token, dry_run, said)
    if status != 200:  # an image not found yet may be in what could not be read
        for image in site_images:
            said[image["key"]] = said[image["key"]] or [f"failed: HTTP {status} reading the site's CMS items"]


def _set_item(collection: str, item: dict[str, Any], wanted: dict[str, dict[str, Any]], token: str, dry_run: bool,
              said: dict[str, list[str]]) -> None:  # fmt: skip
    """Set the alts of one item's images, in one call that sends only its changed fields, each whole."""
    changed: dict[str, Any] = {}
    files: list[str] = []  # the images this item's call sets
    for field, value in (item.get("fieldData") or {}).items():
        new = [dict(one) if isinstance(one, dict) else one for one in (value if isinstance(value, list) else [value])]
        for one in new:
            image = wanted.get(one.get("fileId")) if isinstance(one, dict) else None
            where = f"item {item.get('id')}'s {field}"
            if image is None:
                continue
            if one.get("alt") == image["alt"]:
                said[image["key"]].append(f"{where} alt was already this")
            elif not settable(one.get("alt"), image):
                said[image["key"]].append(f"left: {where} alt changed since the audit ({one.get('alt')!r})")
            else:
                one["alt"] = image["alt"]
                changed[field] = new if isinstance(value, list) else new[0]
                said[image["key"]].append(f"{'would set' if dry_run else 'set'} {where} alt")
                files.append(image["key"])
    if changed and not dry_run:
        status, _ = request("PATCH", f"/collections/{collection}/items/{item['id']}", token, {"fieldData": changed})
        if not 200 <= status < 300:
            for file in files:
                said[file][-1] = f"failed: HTTP {status} on item {item.get('id')}"


def main(argv: list[str]) -> int:
    """Set every image's alt, one line an image (:func:`finish`); 2 where nothing could be tried."""
    dry_run = "--dry-run" in argv
    token = os.environ.get("WEBFLOW_TOKEN", "")
    if not token:
        print("Set WEBFLOW_TOKEN to a token of this Webflow site with read and write access to Assets and CMS "
              "(Site settings → Apps & integrations → API access).", file=sys.stderr)  # fmt: skip
        return 2
    said: dict[str, list[str]] = {image["key"]: [] for image in IMAGES}
    try:
        for site in dict.fromkeys(image["site"] for image in IMAGES):
            site_images = [image for image in IMAGES if image["site"] == site]
            set_assets(site, site_images, token, dry_run, said)
            set_cms_images(site, site_images, token, dry_run, said)
    except Refused as refused:
        print(str(refused), file=sys.stderr)
        return 2
    return finish(IMAGES, said, "Publish the site in Webflow to make these changes live (CMS changes are staged).")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
