"""``--fix-patch`` for sites built from Markdown (Hugo, Jekyll, Eleventy, MkDocs): the alt text of each image in
the Markdown a page is built from, set in place.

**Which file builds a page** (:class:`MarkdownPages`): under ``--source-dir`` (the project, or the folder the
pages' paths start from: Hugo's ``content``, MkDocs' ``docs``, Eleventy's ``src``, Astro's ``src/pages`` or
``src/content``, which the project's own routes skip), a file's own route is its path without the suffix
(``about.md``, ``about/index.md``, Hugo's ``about/_index.md`` and MkDocs' ``about/README.md`` build ``/about/``;
a Jekyll post ``_posts/2024-05-01-hello.md`` builds ``/2024/05/01/hello.html``), unless its front matter (YAML
between ``---`` or TOML between ``+++``) names another: ``permalink`` (Jekyll, Eleventy), ``url`` (Hugo), or
``slug`` in place of the file's name. Hugo's translations by file name build under their language
(``about.fr.md`` at ``/fr/about/``; ``about.en.md`` at ``/about/`` too, where no ``about.md`` does), and a site
its configuration puts under a path (Jekyll's ``baseurl``, Hugo's ``baseURL``, MkDocs' ``site_url``) has its
routes under it. Routes compare without case, a trailing ``/``, ``index.html`` or ``.html``.

**Which images:** markdown-it-py parses the file (CommonMark with tables, the syntax Hugo's Goldmark follows), so
an image inside a code block, a code span or the front matter is none. In the lines of each block that holds
images, a scanner finds the image syntax, paired in order with the parser's images and checked against each
label, and only the label's bytes change: ``![old](shoe.jpg "title")`` becomes ``![New text](shoe.jpg "title")``;
``![old]`` and ``![old][]`` (whose label is also the reference) become ``![New text][old]``. An image's address
matches an audited image resolved against the page's URL, or against the file's own folder (MkDocs rewrites a
relative image link from the file to the page). The text is escaped for Markdown (``\\*``, ``\\[``, ``&amp;``),
so what a reader sees is the text. Raw ``<img>`` tags in the Markdown are patched as in HTML files, Hugo's
shortcodes by :mod:`reports.patch_hugo`, and Liquid includes by :mod:`reports.patch_liquid`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from records import ImageRecord
from reports.patch_html import patched_html
from reports.patch_hugo import patched_figures, source_or_copy
from reports.patch_liquid import patched_includes
from scraper.urls import resource_url

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")
_INDEX_NAMES = {"index", "_index", "readme"}  # a folder's own page (Hugo's section, MkDocs' README)
# where a project's pages are written, longest first: Astro's src/content and src/pages, Hugo's content,
# MkDocs' and Docusaurus' docs, Eleventy's src
_CONTENT_FOLDERS = (("src", "content"), ("src", "pages"), ("content",), ("docs",), ("src",), ("pages",))
_SKIPPED_FOLDERS = {"node_modules"}  # and every hidden folder
_LANGUAGE = re.compile(r"(.+)\.([a-z]{2}(?:-[a-z]{2,4})?)", re.IGNORECASE)  # Hugo's about.fr.md
# where a generator's configuration says what path the site is under
_CONFIGURATIONS = (("_config.yml", "baseurl"), ("hugo.toml", "baseURL"), ("hugo.yaml", "baseURL"),
                   ("config.toml", "baseURL"), ("config.yaml", "baseURL"), ("mkdocs.yml", "site_url"))  # fmt: skip
_JEKYLL_POST = re.compile(r"(\d{4})-(\d{2})-(\d{2})-(.+)")
_MARKDOWN = MarkdownIt("commonmark").enable("table")
_ESCAPED = re.compile(r"([\\`*_\[\]])")  # what would be Markdown inside a label, backslash-escaped


def is_markdown(path: Path) -> bool:
    return path.suffix.lower() in MARKDOWN_SUFFIXES


def route(path: str) -> str:
    """A page path as servers treat it: ``/About/``, ``/about/index.html`` and ``/about.html`` are ``/about``."""
    parts = [part for part in unquote(path).lower().split("/") if part]
    if parts and parts[-1] in ("index.html", "index.htm"):
        parts.pop()
    elif parts and parts[-1].endswith((".html", ".htm")):
        parts[-1] = parts[-1].rsplit(".", 1)[0]
    return "/" + "/".join(parts)


def front_matter_lines(text: str) -> int:
    """How many lines the front matter spans (YAML between ``---``, TOML between ``+++``, after a byte-order mark
    too, as generators read it); 0 without one."""
    lines = text.splitlines()
    fence = lines[0].lstrip("\ufeff").strip() if lines else ""
    if fence not in ("---", "+++"):
        return 0
    ends = (fence, "...") if fence == "---" else (fence,)
    return next((number + 1 for number, line in enumerate(lines[1:], 1) if line.strip() in ends), 0)


def front_matter(text: str) -> tuple[dict[str, Any], int]:
    """The front matter's values and how many lines it spans (:func:`front_matter_lines`)."""
    spanned = front_matter_lines(text)
    if not spanned:
        return {}, 0
    body = "\n".join(text.splitlines()[1 : spanned - 1])
    try:
        data = yaml.safe_load(body) if text.lstrip("\ufeff").lstrip().startswith("-") else tomllib.loads(body)
    except (yaml.YAMLError, tomllib.TOMLDecodeError):
        data = {}
    return (data if isinstance(data, dict) else {}), spanned


class MarkdownPages:
    """Which Markdown file under a folder builds a page (see the module); the folder is read once, when first asked."""

    def __init__(self, source_dir: Path) -> None:
        self.root = source_dir.resolve()
        self.base = site_path(self.root)  # "/blog": the site's pages are under it
        self._routes: dict[str, Path] | None = None

    def find(self, page_url: str) -> Path | None:
        if self._routes is None:
            self._routes = self._read()
        key = route(urlsplit(page_url).path)
        if self.base and (key == self.base or key.startswith(self.base + "/")):
            key = key[len(self.base) :] or "/"
        return self._routes.get(key)

    def folder_url(self, file: Path, page_url: str) -> str:
        """The URL of the file's folder on the page's site (a project's content folder is not in URLs): what MkDocs
        resolves a relative image link against."""
        folders = _folders(file.relative_to(self.root))  # its own, then without the longest content folder
        folder = "/".join(folders[1] if len(folders) > 1 else folders[0])
        return resource_url(page_url, self.base + "/" + folder + ("/" if folder else ""))

    def _read(self) -> dict[str, Path]:
        own: dict[str, Path] = {}
        named: dict[str, Path] = {}  # routes the front matter names win over the routes of paths
        fallback: dict[str, Path] = {}  # a default language's routes, where no file has them
        javascript = (self.root / "package.json").is_file()  # a README at its top documents the project: no page
        for folder, subfolders, names in os.walk(self.root):
            subfolders[:] = sorted(s for s in subfolders if not s.startswith(".") and s not in _SKIPPED_FOLDERS)
            for name in sorted(names):
                file = Path(folder, name)
                if not is_markdown(file) or not file.resolve().is_relative_to(self.root):
                    continue  # a symbolic link out of the folder is not followed
                relative = file.relative_to(self.root)
                if javascript and len(relative.parts) == 1 and relative.stem.lower() == "readme":
                    continue
                data, _ = front_matter(_head(file))
                chosen = _named_route(relative, data)
                routes, fallbacks = ([], []) if chosen else _path_routes(relative)
                routes += [] if chosen else _jekyll_post(relative, data)
                for table, keys in ((named, chosen), (own, routes), (fallback, fallbacks)):
                    for key in keys:
                        table.setdefault(key, file)
        return {**fallback, **own, **named}


def _head(file: Path, size: int = 16_384) -> str:
    """The start of a file, where its front matter is ("" when it cannot be read)."""
    try:
        with file.open("rb") as stream:
            return stream.read(size).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _folders(relative: Path) -> list[tuple[str, ...]]:
    """The folders a file's route starts from: its own, and without a project's content folder (Hugo's
    ``content``, MkDocs' ``docs``, Astro's ``src/pages``...) when the folder given is the project."""
    parts = relative.parent.parts
    return [parts, *(parts[len(prefix) :] for prefix in _CONTENT_FOLDERS if parts[: len(prefix)] == prefix)]


def _path_routes(relative: Path) -> tuple[list[str], list[str]]:
    """The routes a file builds by its path, and the routes it builds only where no other file does (Hugo's
    ``about.en.md`` is ``/en/about/``, or ``/about/`` in the default language, which ``about.md`` would be)."""
    stem = whole = relative.name.rsplit(".", 1)[0]
    language = _LANGUAGE.fullmatch(stem)
    if language:
        stem = language.group(1)
    routes: list[str] = []
    for folder in _folders(relative):
        parts = [*folder, stem]
        if parts[-1].lower() in _INDEX_NAMES:
            parts.pop()
        routes.append(route("/".join([language.group(2), *parts] if language else parts)))
    if not language:
        return routes, []
    fallbacks = [route(key.split("/", 2)[2] if key.count("/") > 1 else "/") for key in routes]
    return routes, fallbacks + [route("/".join([*folder, whole])) for folder in _folders(relative)]  # notes.ui.md


def _jekyll_post(relative: Path, data: dict[str, Any]) -> list[str]:
    """A Jekyll post's route by Jekyll's default permalink (``date``): ``/:categories/:year/:month/:day/:title.html``,
    its categories those of the folders above ``_posts`` and those its front matter names."""
    folders = relative.parent.parts
    post = _JEKYLL_POST.fullmatch(relative.name.rsplit(".", 1)[0])
    if "_posts" not in folders or post is None:
        return []
    categories = list(folders[: folders.index("_posts")])
    for key in ("category", "categories"):
        value = data.get(key)
        categories += value.split() if isinstance(value, str) else [str(v) for v in value or [] if v is not None]
    return [route("/".join([*categories, *post.groups()]))]


def _named_route(relative: Path, data: dict[str, Any]) -> list[str]:
    """The routes the front matter gives the file: a ``permalink`` or ``url``, else its ``slug`` in its folder.
    A permalink with placeholders (``/:title/``, ``{{ … }}``) names no one page."""
    for key in ("permalink", "url"):
        value = data.get(key)
        if isinstance(value, str) and value.strip() and not re.search(r"[:{%]", value):
            return [route(value.strip())]
    slug = data.get("slug")
    if isinstance(slug, str) and slug.strip() and "/" not in slug:
        return [route("/".join([*folder, slug.strip()])) for folder in _folders(relative)]
    return []


def site_path(root: Path) -> str:
    """The path the generator's configuration puts the site under (Jekyll's ``baseurl: /blog``, Hugo's ``baseURL``,
    MkDocs' ``site_url``), read in the folder given or, for a content folder, in its project; else ""."""
    folders = [root, root.parent] if root.name in {prefix[-1] for prefix in _CONTENT_FOLDERS} else [root]
    for folder in folders:
        for name, key in _CONFIGURATIONS:
            try:
                text = (folder / name).read_text(encoding="utf-8")
                data = tomllib.loads(text) if name.endswith(".toml") else yaml.safe_load(text)
            except (OSError, UnicodeDecodeError, yaml.YAMLError, tomllib.TOMLDecodeError):
                continue  # none, or not one this reads (mkdocs.yml with !!python tags)
            value = data.get(key) if isinstance(data, dict) else None
            if isinstance(value, str) and value.strip():
                return route(urlsplit(value.strip()).path).rstrip("/")
    return ""


@dataclass(frozen=True)
class _Syntax:
    """An image written in Markdown: where its label is, the label, and how its address is given."""

    start: int
    end: int  # the label is text[start:end]; text[end] is its "]"
    label: str
    form: str  # inline "(…)", full "[ref]", collapsed "[]", shortcut (nothing)


def patched_markdown(
    text: str, page_url: str, folder_url: str, records: dict[str, tuple[ImageRecord, str]], ascii_only: bool = False
) -> tuple[str, dict[str, int]]:
    """``text`` with the alt text of every matching image set (see the module); how many images of each URL changed."""
    lines = text.splitlines(keepends=True)
    skipped = front_matter_lines(text)  # its lines are no Markdown (and its values are not needed here)
    body = "".join("\n" if number < skipped else line for number, line in enumerate(lines))
    blocks: dict[tuple[int, int], list[Token]] = defaultdict(list)  # a block's lines -> its images, in order
    with_html: set[tuple[int, int]] = set()
    for token in _MARKDOWN.parse(body, {}):
        if token.map is None:
            continue
        where = (token.map[0], token.map[1])
        if token.type == "inline":
            images = [child for child in token.children or [] if child.type == "image"]
            if images:
                blocks[where].extend(images)
            if any(child.type == "html_inline" and _is_img(child.content) for child in token.children or []):
                blocks.setdefault(where, [])
                with_html.add(where)
        elif token.type == "html_block" and "<img" in token.content.lower():
            blocks.setdefault(where, [])
            with_html.add(where)
    done: dict[str, int] = defaultdict(int)
    for (first, last), images in sorted(blocks.items(), reverse=True):  # from the end: line numbers stay true
        block = "".join(lines[first:last])
        block = _set_labels(block, images, (page_url, folder_url), records, ascii_only, done)
        if (first, last) in with_html:
            block, by_html = patched_html(block, page_url, records, ascii_only)
            for url, count in by_html.items():
                done[url] += count
        lines[first:last] = [block]
    head, rest = "".join(lines[:skipped]), "".join(lines[skipped:])
    rest, by_figures = patched_figures(rest, (page_url, folder_url), records)
    rest, by_includes = patched_includes(rest, (page_url, folder_url), records)
    for url, count in [*by_figures.items(), *by_includes.items()]:
        done[url] += count
    return head + rest, dict(done)


def _set_labels(
    block: str,
    images: list[Token],
    bases: tuple[str, str],
    records: dict[str, tuple[ImageRecord, str]],
    ascii_only: bool,
    done: dict[str, int],
) -> str:
    """``block`` with the label of each image in ``images`` set to its record's text, where the scanner's images
    are the parser's (same count, same labels); else the block is left as it was."""
    found = list(_image_syntax(block))
    if len(found) != len(images):
        return block
    edits: list[tuple[int, int, str]] = []
    for syntax, image in zip(found, images, strict=True):
        if " ".join(syntax.label.split()) != " ".join(image.content.split()):
            continue
        url = source_or_copy(str(image.attrs.get("src") or ""), bases, records)
        if url is None:
            continue
        label = markdown_text(records[url][1], ascii_only)
        if syntax.form == "collapsed":  # ![old][] -> ![new][old]: the old label stays the reference
            edits.append((syntax.start, syntax.end + 3, f"{label}][{syntax.label}]"))
        elif syntax.form == "shortcut":  # ![old] -> ![new][old]
            edits.append((syntax.start, syntax.end + 1, f"{label}][{syntax.label}]"))
        else:
            edits.append((syntax.start, syntax.end, label))
        done[url] += 1
    for start, end, replacement in reversed(edits):
        block = block[:start] + replacement + block[end:]
    return block


def markdown_text(text: str, ascii_only: bool = False) -> str:
    """``text`` as a Markdown label that reads as ``text``: Markdown's own characters escaped, ``&`` and ``<`` as
    references (which CommonMark and kramdown both decode)."""
    escaped = _ESCAPED.sub(r"\\\1", text.replace("&", "&amp;").replace("<", "&lt;"))
    return escaped.encode("ascii", "xmlcharrefreplace").decode("ascii") if ascii_only else escaped


def _is_img(markup: str) -> bool:
    return bool(re.match(r"<img\b", markup.strip(), re.IGNORECASE))


def _image_syntax(text: str) -> Iterator[_Syntax]:
    """Every ``![label]…`` in ``text``, outside code spans, escapes and HTML tags."""
    at = 0
    while at < len(text):
        char = text[at]
        if char == "\\":
            at += 2
        elif char == "`":
            at = _after_code_span(text, at)
        elif char == "<" and re.match(r"</?[A-Za-z!]", text[at : at + 2]):
            closing = text.find(">", at)
            at = len(text) if closing < 0 else closing + 1
        elif text.startswith("![", at):
            end = _label_end(text, at + 2)
            if end is None:
                at += 2
                continue
            after = text[end + 1 : end + 3]
            form = ("collapsed" if after == "[]" else "full") if after.startswith("[") else "shortcut"
            yield _Syntax(at + 2, end, text[at + 2 : end], "inline" if after.startswith("(") else form)
            at = end + 1
        else:
            at += 1


def _after_code_span(text: str, at: int) -> int:
    """Where the code span opened by the backticks at ``at`` ends (after its closing run), or after the run when
    nothing closes it (then the backticks are text)."""
    run = len(text[at:]) - len(text[at:].lstrip("`"))
    closing = re.compile(r"(?<!`)" + "`" * run + r"(?!`)")
    match = closing.search(text, at + run)
    return match.end() if match else at + run


def _label_end(text: str, at: int) -> int | None:
    """The index of the ``]`` that closes a label starting at ``at`` (brackets nest; escapes and code spans hide
    them), or None."""
    depth = 0
    while at < len(text):
        char = text[at]
        if char == "\\":
            at += 2
            continue
        if char == "`":
            at = _after_code_span(text, at)
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            if depth == 0:
                return at
            depth -= 1
        at += 1
    return None
