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
BATCH = 25  # images a search and an update
PAGE = 250  # files a search answers at most
FIND = """query AltScoutFind($query: String!) {
  files(first: 250, query: $query) {
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


def find_files(names: list[str], token: str) -> dict[str, list[dict[str, Any]]]:
    """The store's files of each name, found with one search for all (Shopify's search also answers near names,
    which are dropped); name by name where the answer may have been cut short."""
    query = " OR ".join('filename:"{}"'.format(name.replace("\\", "\\\\").replace('"', '\\"')) for name in names)
    nodes = graphql(FIND, {"query": query}, token)["files"]["nodes"]
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for node in nodes:
        if isinstance(node, dict) and file_name(node) in found:
            found[file_name(node)].append(node)
    if len(nodes) >= PAGE and len(names) > 1:
        for name in names:
            found[name] = found[name] or find_files([name], token)[name]
    return found


def set_batch(batch: list[dict[str, Any]], token: str, dry_run: bool, said: dict[str, list[str]]) -> None:
    """Set the alts of up to ``BATCH`` images: one search, one update."""
    found = find_files([image["key"] for image in batch], token)
    changes: list[dict[str, Any]] = []
    for image in batch:
        nodes, name = found[image["key"]], image["key"]
        current = nodes[0].get("alt") if len(nodes) == 1 else None
        if not nodes:
            said[name] = [f"failed: no file of the store is named {name}"]
        elif len(nodes) > 1:
            said[name] = [f"failed: {len(nodes)} files of the store are named {name}; set its alt in Content → Files"]
        elif current == image["alt"]:
            said[name] = ["the file's alt was already this"]
        elif not settable(current, image):
            said[name] = [f"left: the file's alt changed since the audit ({current!r})"]
        elif dry_run:
            said[name] = [f"would set the file's alt to {image['alt']!r}"]
        else:
            changes.append({"id": nodes[0]["id"], "alt": image["alt"], "name": name})
    if not changes:
        return
    done = graphql(SET, {"files": [{"id": change["id"], "alt": change["alt"]} for change in changes]}, token)
    errors = done["fileUpdate"].get("userErrors") or []
    for index, change in enumerate(changes):
        mine = [error.get("message", "") for error in errors if _index(error) in (index, None)]
        said[change["name"]] = ["failed: " + "; ".join(mine)] if mine else ["set the file's alt"]


def _index(error: dict[str, Any]) -> int | None:
    """Which file of an update a user error is about (its ``field``: ``["files", "3", "alt"]``); None: unknown."""
    field = error.get("field") or []
    return int(field[1]) if len(field) > 1 and str(field[1]).isdigit() else None


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
        for start in range(0, len(IMAGES), BATCH):
            batch = IMAGES[start : start + BATCH]
            try:
                set_batch(batch, token, dry_run, said)
            except Failed as failed:
                for image in batch:
                    said[image["key"]] = said.get(image["key"]) or [f"failed: {failed}"]
    except Refused as refused:
        print(str(refused), file=sys.stderr)
        return 2
    return finish(IMAGES, said)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
