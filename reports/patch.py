"""``--fix-patch`` for static sites: a unified diff that sets the suggested alt texts in the site's source files.

Given the folder a site is served from (``--source-dir``), each audited page maps to its file the
way static servers do (``/`` to ``index.html``, ``/about/`` to ``about/index.html``, ``/about`` to
``about.html`` or ``about/index.html``). In that file every ``<img>`` that stands for an image with
a suggestion (:func:`reports.fixes.fixes`) gets its ``alt`` value set (:mod:`reports.patch_html`), and every
other byte of the file stays as it was. A site built from Markdown (Hugo, Jekyll, Eleventy, MkDocs) is patched
in its Markdown instead: given the project (or its content folder), a page with no HTML file maps to the
Markdown file that builds it, by its path or its front matter's permalink, where each image's label is set
(:mod:`reports.patch_markdown`). What no page's own file holds is looked for in the project's components (Next.js,
Astro, Nuxt, SvelteKit: ``.tsx``, ``.astro``, ``.vue``, ``.svelte``...), whose image tags are matched by what their
``src`` names, an imported asset by its file name once the bundler's hash is taken out
(:mod:`reports.patch_components`).

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
import re
import shlex
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from records import AuditReport, ImageRecord, PageReport
from reports.fixes import fixes, held, replaced_alt
from reports.patch_components import (
    COMPONENT_BYTES,
    ComponentImages,
    component_files,
    patched_component,
    texts_by_url,
)
from reports.patch_html import is_utf8, patched_html
from reports.patch_locales import Translation, for_language, locale_files, set_translation
from reports.patch_markdown import MarkdownPages, is_markdown, patched_markdown

# <meta name="generator"> of a static site generator: its pages are built from sources the patch should change
BUILD_TOOLS = re.compile(
    r"(Hugo|Jekyll|Eleventy|MkDocs|Hexo|Pelican|Zola|Docusaurus|VuePress|VitePress|Astro|Gatsby|Gridsome|Middleman"
    r"|Nikola|Bridgetown|Quarto|Lume|Publii)(?![A-Za-z])",
    re.IGNORECASE,
)
# where a framework's build serves a page's images: the pages are built from its components
_FRAMEWORK_PATHS = (("/_next/", "Next.js"), ("/_astro/", "Astro"), ("/_nuxt/", "Nuxt"), ("/_ipx/", "Nuxt"),
                    ("/_app/immutable/", "SvelteKit"), ("/_gatsby/", "Gatsby"))  # fmt: skip


@dataclass(frozen=True)
class PatchResult:
    """What a patch does: files changed, tags changed, what must be applied by hand (and why), and the
    suggestions held until a review accepts them (they would replace a person's alt)."""

    files: int
    tags: int
    by_hand: list[str]
    held: list[str]
    root: Path  # the file names in the patch are relative to it: the Git repository holding --source-dir, or it
    note: str | None = None  # where the pages say a generator built them, what to give --source-dir (generator_note)


def page_file(source_dir: Path, page_url: str, base: str = "") -> Path | None:
    """The file a static server would answer ``page_url`` with, inside ``source_dir`` served under the path
    ``base`` (:func:`served_under`; None: no such file)."""
    root = source_dir.resolve()
    path = unquote(urlsplit(page_url).path) or "/"
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base) :] or "/"
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


def served_under(source_dir: Path, page_urls: list[str]) -> str:
    """The path the folder is served under: "" where its files answer the pages' own paths, else the shortest of
    the folders all pages are in whose removal lets a file answer one (a GitHub Pages project site's ``_site``
    answers ``/project/about/`` with ``about/index.html``)."""
    if not page_urls or any(page_file(source_dir, url) for url in page_urls):
        return ""
    folders = [[part for part in unquote(urlsplit(url).path).split("/")[:-1] if part] for url in page_urls]
    common: list[str] = []
    for parts in zip(*folders, strict=False):
        if len(set(parts)) > 1:
            break
        common.append(parts[0])
    for size in range(1, len(common) + 1):
        base = "/" + "/".join(common[:size])
        if any(page_file(source_dir, url, base) for url in page_urls):
            return base
    return ""


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
    waiting = [_by_hand(page, record, f"replaces {replaced_alt(record.alt)} ({', '.join(record.alt_issues)})")
               for page, record in held(report)]  # fmt: skip
    root, markdown = patch_root(source_dir), MarkdownPages(source_dir)
    edited: dict[Path, tuple[str, str]] = {}  # a file -> its text before and after (pages may share a file)
    left: list[_Left] = []  # what no page's own file holds: looked for in the project's components
    tags, built = 0, None  # a generator whose built HTML is patched
    base = served_under(source_dir, [page.final_url or page.url for page in pages.values()])
    for page_url, records in wanted.items():
        page = pages[page_url]
        url = page.final_url or page.url
        target = page_file(source_dir, url, base) or markdown.find(url)
        generator = built_by(page)
        if target is None:
            left += [_Left(page, record, text, "no file in --source-dir serves or builds this page", generator)
                     for record, text in records.values()]  # fmt: skip
            continue
        try:
            raw = target.read_bytes()
        except OSError as exc:  # a file this user may not read: its images are set by hand, the rest is patched
            by_hand.extend(_by_hand(page, record, f"{target.name} cannot be read ({exc.strerror or exc})")
                           for record, _ in records.values())  # fmt: skip
            continue
        original, text = edited.get(target) or (raw.decode("utf-8", errors="surrogateescape"),) * 2
        if is_markdown(target):
            folder_url = markdown.folder_url(target, url)
            changed, done = patched_markdown(text, url, folder_url, records, ascii_only=not is_utf8(raw))
            why = "no image of the Markdown names it (a shortcode's or a template's, CSS, or built by JavaScript)"
        else:
            changed, done = patched_html(text, url, records, ascii_only=not is_utf8(raw))
            why = "not an <img> of the source file (CSS, or built by JavaScript)"
            built = built or (generator if done else None)
        left += [_Left(page, record, text, why) for source, (record, text) in records.items() if source not in done]
        edited[target] = (original, changed)
        tags += sum(done.values())
    tags += _patch_components(source_dir, left, edited, by_hand)
    chunks = [_diff(before, after, target.relative_to(root).as_posix())
              for target, (before, after) in edited.items() if after != before]  # fmt: skip
    files = len(chunks)
    unfound = None if files else next((item.generator for item in left if item.generator), None)  # a wrong folder
    header = ["# AltScout: alt texts for the audited images (<img> tags, Markdown images, components' image tags); "
              "apply it with `git apply`."]
    note = generator_note(built, unfound)
    header += [f"# note: {note}"] if note else []
    header += [f"# apply by hand: {line}" for line in by_hand]
    header += [f"# held for review (accept it with --decisions): {line}" for line in waiting]
    path.parent.mkdir(parents=True, exist_ok=True)  # as for every report: the folders it names are made
    path.write_bytes(("\n".join(header) + "\n" + "".join(chunks)).encode("utf-8", errors="surrogateescape"))
    return PatchResult(files, tags, by_hand, waiting, root, note)


@dataclass(frozen=True)
class _Left:
    """An image with a text that no page's own file holds: a component may (else it is set by hand, and why)."""

    page: PageReport
    record: ImageRecord
    text: str
    why: str
    generator: str | None = None  # what built its page (built_by), where no file serves or builds the page


def _patch_components(source_dir: Path, left: list[_Left], edited: dict[Path, tuple[str, str]],
                      by_hand: list[str]) -> int:  # fmt: skip
    """Set the alt of the images ``left`` in the project's component files (:mod:`reports.patch_components`), and
    the translated ones in its locale files (:mod:`reports.patch_locales`), into ``edited``; the images still left
    are added to ``by_hand``, with why; ``left`` keeps those. How many tags and translations were set."""
    records = texts_by_url((item.record, item.text) for item in left)
    images = ComponentImages(records, source_dir)
    done: set[str] = set()
    reasons: dict[str, dict[str, list[str]]] = defaultdict(dict)  # an image -> why its tags are left, in which files
    translated: list[tuple[list[str], Translation]] = []
    tags = 0
    for path in component_files(source_dir.resolve()) if records else ():
        try:
            raw = path.read_bytes()
        except OSError:
            continue  # a component this user may not read: its images stay in the list to set by hand
        if len(raw) > COMPONENT_BYTES or b"<" not in raw:
            continue
        original, text = edited.get(path) or (raw.decode("utf-8", errors="surrogateescape"),) * 2
        changed, found, dynamic = patched_component(text, images, not is_utf8(raw), translated, path)
        for url, why in dynamic.items():
            reasons[url].setdefault(why, []).append(path.name)
        if found:
            edited[path] = (original, changed)
            done.update(found)
            tags += sum(found.values())
    set_in_locales = _patch_locales(source_dir, left, translated, edited)
    tags += len(set_in_locales)
    left[:] = [item for item in left if item.record.source not in done
               and (item.record.source, item.page.lang) not in set_in_locales]  # fmt: skip
    for item in left:
        why = "; ".join(f"{', '.join(names)}: {why}" for why, names in reasons.get(item.record.source, {}).items())
        by_hand.append(_by_hand(item.page, item.record, why or item.why))
    return tags


def _patch_locales(source_dir: Path, left: list[_Left], translated: list[tuple[list[str], Translation]],
                   edited: dict[Path, tuple[str, str]]) -> set[tuple[str, str | None]]:  # fmt: skip
    """Set each translated alt in the locale file of each language its pages are in, in the words most of those
    pages use; the (image, language) pairs set."""
    if not translated:
        return set()
    files = locale_files(source_dir.resolve())
    words: dict[tuple[str, str | None], Counter[str]] = defaultdict(Counter)  # an image and a language -> texts
    for item in left:
        words[(item.record.source, item.page.lang)][item.text] += 1
    set_in: set[tuple[str, str | None]] = set()
    for urls, asked in translated:
        for language in dict.fromkeys(lang for url, lang in words if url in urls):
            counts = sum((words[(url, lang)] for url, lang in words if url in urls and lang == language), Counter())
            if set_translation(for_language(files, language), asked, counts.most_common(1)[0][0], edited, language):
                set_in.update((url, language) for url in urls)
    return set_in


def built_by(page: PageReport) -> str | None:
    """What built a page, and how it shows: a static site generator its ``<meta name="generator">`` names, else a
    framework its images' addresses show (Next.js serves them under ``/_next/``); None: neither."""
    if BUILD_TOOLS.match(page.generator or ""):
        return f'{page.generator} (<meta name="generator">)'
    paths = [urlsplit(record.source).path for record in page.images]
    return next((f"{name} (its images are under {prefix})" for prefix, name in _FRAMEWORK_PATHS
                 if any(path.startswith(prefix) for path in paths)), None)  # fmt: skip


def generator_note(built: str | None, unfound: str | None) -> str | None:
    """What to give --source-dir where the pages show a generator or framework built them (:func:`built_by`): the
    patch of its built HTML does not last (``built``), or no file in the folder serves or builds them, and nothing
    was patched (``unfound``)."""
    if built:
        return (f"the patched pages say they are built by {built}: the patch edits "
                "built HTML, which the next build replaces; give --source-dir the project, and AltScout patches "
                "its Markdown or components")  # fmt: skip
    if unfound:
        return (f"the audited pages say they are built by {unfound}, and no file in "
                "--source-dir serves or builds them; give --source-dir the project, whose Markdown or components "
                "AltScout patches")  # fmt: skip
    return None


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
