"""``--webflow``: a Python script that sets the suggested alt texts of a Webflow site's images through Webflow's
Data API, as the site's owner runs it with a token of the site (:mod:`reports.webflow_apply` is the script).

A Webflow site serves every image it keeps from Webflow's CDN at ``/<site ID>/<file ID>_<name>`` (a responsive
variant as ``<name>-p-500.jpeg``), so the address names the site and the file: the asset of that ID (the Assets
panel's alt), and the CMS items whose image fields hold that file (``fileId``), whose alt the collection's
templates show. The script sets both, and only where the alt is still empty or what the audit read.

The texts, and the images left to a person (one shown only on pages in another language: Webflow keeps each
locale's alt apart), are :func:`reports.platform_scripts.media_texts`'.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from records import AuditReport, ImageRecord, PageReport
from reports.platform_scripts import media_texts, write_script

_CDN_HOSTS = re.compile(r"(?:^|\.)(?:website-files\.com|webflow\.com)$")
_S3_PREFIX = "/webflow-prod-assets"  # the API's own hostedUrl: s3.amazonaws.com/webflow-prod-assets/SITE/FILE_name
_FILE_PATH = re.compile(r"/(?P<site>[0-9a-f]{24})/(?P<file>[0-9a-f]{24})_[^/]+")
_WEBFLOW = re.compile(r"Webflow(?![A-Za-z])", re.IGNORECASE)  # <meta name="generator" content="Webflow">
_SCRIPT = Path(__file__).with_name("webflow_apply.py")


def webflow_file(url: str, page: PageReport | None = None) -> tuple[str, str] | None:
    """The site ID and file ID of an image Webflow keeps: an address on Webflow's CDN, or of that shape on a page
    that says Webflow built it (a site that serves Webflow's files under its own domain); None for any other."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path
    if host == "s3.amazonaws.com" and path.startswith(_S3_PREFIX + "/"):
        path = path[len(_S3_PREFIX) :]
    elif not _CDN_HOSTS.search(host) and not (page is not None and _WEBFLOW.match(page.generator or "")):
        return None
    match = _FILE_PATH.fullmatch(path)
    return (match.group("site"), match.group("file")) if match else None


def no_webflow_images(report: AuditReport) -> str | None:
    """Why a Webflow script of this audit has nothing to set, whatever a review decides; None when it may."""
    if any(webflow_file(record.url, page) for page in report.pages for record in page.images):
        return None
    return "no audited image is a Webflow site's (an address on Webflow's CDN: cdn.prod.website-files.com/SITE/FILE_…)"


def write_webflow(report: AuditReport, path: str | Path) -> Path:
    """The script (see the module), with its images and their texts."""

    def key_of(page: PageReport, record: ImageRecord) -> dict[str, str] | None:
        file = webflow_file(record.url, page)
        return None if file is None else {"site": file[0], "key": file[1]}

    images, notes = media_texts(report, key_of, "Webflow keeps each locale's alt apart")
    return write_script(Path(path), _SCRIPT, images, notes)
