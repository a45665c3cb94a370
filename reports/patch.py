"""``--fix-patch`` for static sites: a unified diff that sets the suggested alt texts in the source HTML.

Given the folder a site is served from (``--source-dir``), each audited page maps to its file the
way static servers do (``/`` to ``index.html``, ``/about/`` to ``about/index.html``, ``/about`` to
``about.html`` or ``about/index.html``). In that file every ``<img>`` that stands for an image with
a suggestion (:func:`reports.fixes.fixes`) gets its ``alt`` value replaced, or an ``alt`` added
right after ``<img``: the URL discovery chose for the tag (its ``srcset``, its ``<picture>``'s
sources, lazy-loading attributes) or any URL it names, resolved against the file's ``<base href>``.
Every other byte of the file stays as it was (tags over several lines, attributes in any order,
either quotes, the same image in a grid and its modal, a file in a legacy encoding, which gets
non-ASCII text as character references). A commented-out ``<img>`` is left alone.
The tags are found with a small scanner over the raw text, not re-serialised by a parser,
precisely so that nothing else changes.

Inside a Git repository the file names are the repository's (``public/index.html``), so ``git apply`` works
from its top and from ``--source-dir``: with names relative to a subfolder, ``git apply`` run there skips every
file and still exits 0. Images that come from CSS or that JavaScript builds, and pages with no matching file, are listed
at the top of the patch under "apply by hand" with their selector (``git apply`` skips those
lines); so are the suggestions held for a review, which would replace an alt a person wrote. A page
path never leads outside the folder: ``..`` segments and symbolic links that point out of it are
refused.
"""

from __future__ import annotations

import difflib
import html
import re
import shlex
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bs4 import BeautifulSoup, Tag

from records import AuditReport, ImageRecord, PageReport
from reports.fixes import fixes, held
from scraper.discover import LAZY_SRC_ATTRS, LAZY_SRCSET_ATTRS, chosen_img_url, clean_url
from scraper.srcset import parse_srcset
from scraper.urls import resource_url

# The tags the scanner reads: <img> (patched), and what decides its URL: <picture> and its <source>s, <base>;
# a comment is read whole and passed over (a commented-out <img> is no image of the page).
_TAG = re.compile(
    r"(?P<comment><!--.*?(?:-->|\Z))"
    r"|<(?P<close>/)?(?P<tag>img|source|picture|base)\b(?P<attrs>(?:[^>\"']|\"[^\"]*\"|'[^']*')*)>",
    re.IGNORECASE | re.DOTALL,
)
_ATTR = re.compile(
    r"(?P<space>\s+)(?P<name>[^\s=/>\"']+)(?:\s*=\s*(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[^\s\"'>]+)))?"
)
TAG_SOURCES = {"img", "srcset", "lazy", "picture"}  # found on an <img> the source file can hold


@dataclass(frozen=True)
class PatchResult:
    """What a patch does: files changed, tags changed, what must be applied by hand (and why), and the
    suggestions held until a review accepts them (they would replace a person's alt)."""

    files: int
    tags: int
    by_hand: list[str]
    held: list[str]
    root: Path  # the file names in the patch are relative to it: the Git repository holding --source-dir, or it


def page_file(source_dir: Path, page_url: str) -> Path | None:
    """The file a static server would answer ``page_url`` with, inside ``source_dir`` (None: no such file)."""
    root = source_dir.resolve()
    path = unquote(urlsplit(page_url).path) or "/"
    parts = [part for part in path.split("/") if part]
    if any(part in (".", "..") or "\\" in part or "\0" in part for part in parts):
        return None
    if path.endswith("/") or not parts:
        candidates = [root.joinpath(*parts, "index.html")]
    elif Path(parts[-1]).suffix:
        candidates = [root.joinpath(*parts)]
    else:
        candidates = [root.joinpath(*parts[:-1], parts[-1] + ".html"), root.joinpath(*parts, "index.html")]
    for candidate in candidates:
        resolved = candidate.resolve()
        if resolved.is_file() and resolved.is_relative_to(root):  # a symlink out of the folder is not followed
            return resolved
    return None


def patch_root(source_dir: Path) -> Path:
    """The folder the patch's file names start from: the Git work tree that holds ``source_dir`` (its ``.git``,
    a folder or a worktree's file), else ``source_dir`` itself."""
    root = source_dir.resolve()
    return next((folder for folder in (root, *root.parents) if (folder / ".git").exists()), root)


def apply_command(source_dir: Path, patch: Path) -> str:
    """The command that applies the patch from anywhere: ``git -C`` the source folder (inside a Git repository
    the patch names files from its top, which ``git apply`` expects wherever in the repository it runs)."""
    return shlex.join(["git", "-C", str(source_dir), "apply", str(patch.resolve())])


def write_fix_patch(report: AuditReport, source_dir: Path, path: Path) -> PatchResult:
    """Write the patch (see the module) and say what it does."""
    wanted: dict[str, dict[str, tuple[ImageRecord, str]]] = defaultdict(dict)
    pages: dict[str, PageReport] = {}
    for page, record, text in fixes(report):
        wanted[page.url][record.source] = (record, text)
        pages[page.url] = page
    by_hand = [
        _by_hand(page, record, f'role="img" and aria-label="{record.suggested_alt}" on the element')
        for page in report.pages
        for record in page.images
        if record.suggestion_for == "aria-label"
        and record.suggested_alt
        and not record.decorative
        and record.decision != "rejected"
    ]  # a background or a drawn element: no alt attribute to set
    waiting = [_by_hand(page, record, f"replaces the alt {record.alt!r} ({', '.join(record.alt_issues)})")
               for page, record in held(report)]  # fmt: skip
    chunks: list[str] = []
    files = tags = 0
    root = patch_root(source_dir)
    for page_url, records in wanted.items():
        page = pages[page_url]
        target = page_file(source_dir, page.final_url or page.url)
        if target is None:
            by_hand.extend(_by_hand(page, record, "no file in --source-dir serves this page")
                           for record, _ in records.values())  # fmt: skip
            continue
        raw = target.read_bytes()
        original = raw.decode("utf-8", errors="surrogateescape")
        changed, done = _patched(original, page.final_url or page.url, records, ascii_only=not _is_utf8(raw))
        for url, (record, _) in records.items():
            if url not in done:
                why = "not an <img> of the source file (CSS, or built by JavaScript)"
                by_hand.append(_by_hand(page, record, why))
        if changed != original:
            files += 1
            tags += sum(done.values())
            chunks.append(_diff(original, changed, target.relative_to(root).as_posix()))
    header = ["# AltScout: alt texts for the audited <img> elements; apply with `git apply` in --source-dir."]
    header += [f"# apply by hand: {line}" for line in by_hand]
    header += [f"# held for review (accept it with --decisions): {line}" for line in waiting]
    path.write_bytes(("\n".join(header) + "\n" + "".join(chunks)).encode("utf-8", errors="surrogateescape"))
    return PatchResult(files, tags, by_hand, waiting, root)


def _patched(
    text: str, page_url: str, records: dict[str, tuple[ImageRecord, str]], ascii_only: bool = False
) -> tuple[str, dict[str, int]]:
    """``text`` with the alt of every matching ``<img>`` set; how many tags of each image URL changed.

    An ``<img>`` matches the record of the URL discovery chose for it (its ``srcset``, its ``<picture>``'s
    sources, lazy-loading attributes), else of any URL it names, each resolved against the file's
    ``<base href>``. ``ascii_only``: a file not in UTF-8 gets non-ASCII text as character references.
    """
    done: dict[str, int] = defaultdict(int)
    out: list[str] = []
    last = 0
    base = _base_url(text, page_url)
    picture: list[str] | None = None  # the <picture> and <source> tags of the picture the scanner is in
    for tag in _TAG.finditer(text):
        if tag.group("comment"):
            continue
        name = tag.group("tag").lower()
        if name == "picture":
            picture = None if tag.group("close") else [tag.group(0)]
            continue
        if name == "source" and picture is not None and not tag.group("close"):
            picture.append(tag.group(0))
        if name != "img" or tag.group("close"):
            continue
        attrs = {m.group("name").lower(): m for m in _ATTR.finditer(tag.group("attrs"))}
        url = next((u for u in _tag_urls(tag.group(0), picture, attrs, base) if u in records), None)
        if url is None or not _eligible(records[url][0]):
            continue
        value = html.escape(records[url][1], quote=False).replace('"', "&quot;")  # ' needs no escape inside "…"
        if ascii_only:
            value = value.encode("ascii", "xmlcharrefreplace").decode("ascii")
        start = tag.start("attrs")
        alt = attrs.get("alt")
        if alt is None:  # add it right after "<img"
            out.append(text[last:start] + f' alt="{value}"')
            last = start
        else:
            group = next(name for name in ("dq", "sq", "bare") if alt.group(name) is not None)
            begin, end = start + alt.start(group), start + alt.end(group)
            quote = {"dq": '"', "sq": "'", "bare": '"'}[group]
            replacement = value.replace("'", "&#x27;") if quote == "'" else value
            if group == "bare":
                replacement = f'"{replacement}"'
            out.append(text[last:begin] + replacement)
            last = end
        done[url] += 1
    out.append(text[last:])
    return "".join(out), dict(done)


def _eligible(record: ImageRecord) -> bool:
    return bool(TAG_SOURCES & set(record.found_in))


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _base_url(text: str, page_url: str) -> str:
    """What the file's relative URLs resolve against: its first ``<base href>``, else the page's URL."""
    for tag in _TAG.finditer(text):
        if not tag.group("comment") and tag.group("tag").lower() == "base" and not tag.group("close"):
            href = {m.group("name").lower(): _value(m) for m in _ATTR.finditer(tag.group("attrs"))}.get("href")
            if href:
                return resource_url(page_url, href)
    return page_url


def _tag_urls(img_tag: str, picture: list[str] | None, attrs: dict[str, re.Match[str]], base: str) -> list[str]:
    """The image URLs an ``<img>`` can stand for: discovery's choice first, then every URL it names."""
    markup = ("".join(picture or []) + img_tag).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    img = BeautifulSoup(markup, "lxml").find("img")
    raw: list[str] = []
    if isinstance(img, Tag):
        raw.append(chosen_img_url(img)[0])
    raw += [_value(attrs[name]) for name in ("src", *LAZY_SRC_ATTRS) if name in attrs]
    for name in ("srcset", *LAZY_SRCSET_ATTRS):
        if name in attrs:
            raw += [candidate.url for candidate in parse_srcset(_value(attrs[name]))]
    urls = [resource_url(base, clean_url(value)) for value in raw if clean_url(value)]
    return list(dict.fromkeys(urls))


def _value(match: re.Match[str]) -> str:
    """An attribute's value as the browser reads it (entities decoded)."""
    return html.unescape(match.group("dq") or match.group("sq") or match.group("bare") or "")


def _diff(before: str, after: str, name: str) -> str:
    """A git-style unified diff of one file (with git's marker for a last line without a newline)."""
    lines: Iterator[str] = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}", n=3
    )
    out = [f"diff --git a/{name} b/{name}\n"]
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _by_hand(page: PageReport, record: ImageRecord, why: str) -> str:
    selector = record.name_fields().get("selector") or "(no selector)"
    return f"{page.url} {selector} {record.url}: {why}"
