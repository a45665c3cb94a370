#!/usr/bin/env python3
"""Alt texts from AltScout for a Shopify store's images, set through Shopify's Admin API (GraphQL).

Review the texts below, then run it with the store's address and the Admin API access token of a custom app that
has the read_files and write_files scopes (Settings → Apps and sales channels → Develop apps):

    SHOPIFY_STORE=your-store.myshopify.com SHOPIFY_TOKEN=shpat_… python3 THIS_FILE     (add --dry-run first)

It sets the alt of each image of the store's files (Content → Files), found by its file name: the images the
theme's sections, pages and posts show from there, and product media. Every place that shows a file with the
file's alt shows the new one at once; a theme section that has an alt text of its own keeps it.

Nothing a person wrote is replaced: an alt is set only where it is still empty or what the audit read on the page;
one that has changed since is left, and said. This file needs Python 3.8 and nothing else.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from reports.api_script import Refused, call, finish, settable, wait

API_VERSION = os.environ.get("SHOPIFY_API_VERSION", "2026-10")
# Each image: its file name (its key), an address of it, the alt the audit read on the page (None: no alt
# attribute) and the alt to set.
IMAGES: list[dict[str, Any]] = []
FIND = """query AltScoutFind($query: String!) {
  files(first: 50, query: $query) {
    nodes { id alt fileStatus ... on MediaImage { image { url } } ... on GenericFile { url } }
  }
}"""
SET = """mutation AltScoutSet($files: [FileUpdateInput!]!) {
  fileUpdate(files: $files) { files { id alt } userErrors { field message code } }
}"""
_REFUSED = ("Shopify refused the token (HTTP {status}): set SHOPIFY_TOKEN to the Admin API access token of a "
            "custom app of this store with the read_files and write_files scopes")  # fmt: skip


class Failed(Exception):
    """A call that answered with errors, for one image."""


def endpoint() -> str:
    """The store's Admin API address (``SHOPIFY_API``: a test server's)."""
    store = os.environ.get("SHOPIFY_STORE", "").strip().split("://")[-1].split("/")[0]  # an address pasted whole
    return os.environ.get("SHOPIFY_API") or f"https://{store}/admin/api/{API_VERSION}/graphql.json"


def graphql(query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    """The data a query answers (a throttled one waited for and asked again)."""
    for attempt in range(6):
        status, answer = call(endpoint(), "POST", {"X-Shopify-Access-Token": token},
                              {"query": query, "variables": variables}, _REFUSED)  # fmt: skip
        if status == 404:
            raise Refused(f"No Shopify store answers at {endpoint()} (HTTP 404): set SHOPIFY_STORE to the store's "
                          "address, such as your-store.myshopify.com")  # fmt: skip
        errors = answer.get("errors") if isinstance(answer, dict) else None
        codes = [error.get("extensions", {}).get("code") for error in errors or [] if isinstance(error, dict)]
        if "THROTTLED" in codes and attempt < 5:
            time.sleep(wait(None, attempt))
            continue
        if status != 200 or errors or not isinstance(answer, dict) or not isinstance(answer.get("data"), dict):
            said = errors if isinstance(errors, str) else "; ".join(str(e.get("message", e)) for e in errors or [])
            raise Failed(f"HTTP {status}" + (f": {said}" if said else ""))
        return answer["data"]
    raise Failed("still throttled")


def file_name(node: dict[str, Any]) -> str:
    """The name of a file the API answered, from its address."""
    url = (node.get("image") or {}).get("url") or node.get("url") or ""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def set_file(image: dict[str, Any], token: str, dry_run: bool) -> str:
    """Set one image's alt; what was done."""
    name = image["key"]
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    nodes = [node for node in graphql(FIND, {"query": f'filename:"{quoted}"'}, token)["files"]["nodes"]
             if isinstance(node, dict) and file_name(node) == name]  # fmt: skip
    if not nodes:
        return f"failed: no file of the store is named {name}"
    if len(nodes) > 1:
        return f"failed: {len(nodes)} files of the store are named {name}; set its alt in Content → Files"
    current = nodes[0].get("alt")
    if current == image["alt"]:
        return "the file's alt was already this"
    if not settable(current, image):
        return f"left: the file's alt changed since the audit ({current!r})"
    if dry_run:
        return f"would set the file's alt to {image['alt']!r}"
    done = graphql(SET, {"files": [{"id": nodes[0]["id"], "alt": image["alt"]}]}, token)["fileUpdate"]
    errors = [error.get("message", "") for error in done.get("userErrors") or []]
    return "failed: " + "; ".join(errors) if errors else "set the file's alt"


def main(argv: list[str]) -> int:
    """Set every image's alt, one line an image (:func:`finish`); 2 where nothing could be tried."""
    dry_run = "--dry-run" in argv
    token = os.environ.get("SHOPIFY_TOKEN", "")
    if not token or not (os.environ.get("SHOPIFY_STORE") or os.environ.get("SHOPIFY_API")):
        print("Set SHOPIFY_STORE to the store's address (your-store.myshopify.com) and SHOPIFY_TOKEN to the Admin API "
              "access token of a custom app of it with the read_files and write_files scopes.", file=sys.stderr)
        return 2
    said: dict[str, list[str]] = {}
    try:
        for image in IMAGES:
            try:
                said[image["key"]] = [set_file(image, token, dry_run)]
            except Failed as failed:
                said[image["key"]] = [f"failed: {failed}"]
    except Refused as refused:
        print(str(refused), file=sys.stderr)
        return 2
    return finish(IMAGES, said)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
