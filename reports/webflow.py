"""``--webflow``: a Python script that sets the suggested alt texts of a Webflow site's images through Webflow's
Data API, as the site's owner runs it with a token of the site (:mod:`reports.webflow_apply` is the script).

A Webflow site serves every image it keeps from Webflow's CDN at ``/<site ID>/<file ID>_<name>`` (a responsive
variant as ``<name>-p-500.jpeg``), so the address names the site and the file: the asset of that ID (the Assets
panel's alt), and the CMS items whose image fields hold that file (``fileId``), whose alt the collection's
templates show. The script sets both, and only where the alt is still empty or what the audit read.

The texts carried are those of :func:`reports.fixes.fixes`, without what one link does (:func:`media_alt`), since
an asset's or an item's alt is shown wherever the image is: the wording most of the image's pages use, in the
language most of the audited pages are in. Webflow keeps each locale's alt apart, so an image shown only on
pages in another language is listed at the top of the script to set in that locale, by hand, as the suggestions
held for review are.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

from records import AuditReport, ImageRecord, PageReport
from reports.fixes import fixes, held, media_alt, replaced_alt

_CDN_HOSTS = re.compile(r"(?:^|\.)(?:website-files\.com|webflow\.com)$")
_S3_PREFIX = "/webflow-prod-assets"  # the API's own hostedUrl: s3.amazonaws.com/webflow-prod-assets/SITE/FILE_name
_FILE_PATH = re.compile(r"/(?P<site>[0-9a-f]{24})/(?P<file>[0-9a-f]{24})_[^/]+")
_WEBFLOW = re.compile(r"Webflow(?![A-Za-z])", re.IGNORECASE)  # <meta name="generator" content="Webflow">
_SCRIPT = Path(__file__).with_name("webflow_apply.py")
_IMAGES_LINE = "IMAGES: list[dict[str, Any]] = []"


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
    """The script (see the module), its images and their texts written into its ``IMAGES`` as JSON."""
    target = Path(path)
    languages = Counter(page.lang.split("-")[0].lower() if page.lang else None for page in report.pages)
    language = languages.most_common(1)[0][0] if languages else None
    words: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)  # (site, file) -> its texts in that language
    first: dict[tuple[str, str], ImageRecord] = {}
    elsewhere: dict[tuple[str, str], str] = {}  # an image shown only in another language -> one of its pages
    for page, record, text in fixes(report):
        file = webflow_file(record.url, page)
        if file is None:
            continue
        first.setdefault(file, record)
        if (page.lang.split("-")[0].lower() if page.lang else None) == language:
            words[file][media_alt(page, record, text)] += 1
        else:
            elsewhere.setdefault(file, f"{page.url} ({page.lang})")
    images = [{"site": site, "file": file, "url": first[(site, file)].url, "was": first[(site, file)].alt,
               "alt": counts.most_common(1)[0][0]} for (site, file), counts in words.items()]  # fmt: skip
    notes = [f"# by hand, in its locale: {first[file].url} is shown only on pages in another language than "
             f"{language or 'most pages'} ({page}); Webflow keeps each locale's alt apart"
             for file, page in elsewhere.items() if file not in words]  # fmt: skip
    notes += [f"# held for review (accept it with --decisions): {page.url}: {record.url} would replace "
              f"{replaced_alt(record.alt or '')} with {record.suggested_alt or ''!r}"
              for page, record in held(report) if webflow_file(record.url, page)]  # fmt: skip
    script = _SCRIPT.read_text(encoding="utf-8").replace("THIS_FILE", target.name)
    listed = "".join(f"    {image!r},\n" for image in images)  # Python's own literals: no text can end one
    script = script.replace(_IMAGES_LINE, f"IMAGES: list[dict[str, Any]] = [\n{listed}]")
    head, _, rest = script.partition('"""\n\nfrom __future__')
    notes_text = "".join(" ".join(line.split()) + "\n" for line in notes)
    target.write_text(f"{head}\"\"\"\n{notes_text}\nfrom __future__{rest}", encoding="utf-8")
    return target
