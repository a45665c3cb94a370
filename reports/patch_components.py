"""``--fix-patch`` for sites built from components (Next.js, Astro, Nuxt and Vue, SvelteKit, Gatsby, Angular): the
alt text of each image tag in the project's component files, set in place.

A component (``Hero.tsx``, ``index.astro``, ``Card.vue``) may draw its image on every page, so it is not found from
a page's address, as an HTML or Markdown file is: every component file under ``--source-dir`` (``.jsx``, ``.tsx``,
``.js``, ``.mjs``, ``.astro``, ``.vue``, ``.svelte``, ``.mdx``, Angular's ``.component.html``; not
``node_modules``, hidden folders or build output) is read once, and each image tag in it (``<img>``, and the image
components of ``next/image``, ``astro:assets``, Nuxt Image, ``gatsby-plugin-image``, SvelteKit's
``enhanced:img``, under any local name they are imported as) is matched to the audited images by what its ``src``
names:

- a path from the site's root (``src="/team.jpg"``, the public folder), or a full URL: the image at that address;
- an asset the build copies (``import hero from "./hero.jpg"`` then ``src={hero}`` or ``src={hero.src}``, or a
  relative ``src="../assets/hero.jpg"``): the image whose file name is the asset's once the bundler's content hash
  is taken out (``hero.3f2a1b9c.jpg``, ``hero-Dp3fqz5N.png``, Astro's ``hero.BPJRj4tJ_1ZtH0c.webp``, converted
  to WebP or AVIF too); where that name is several images' with other texts, the asset file tells which
  (:mod:`reports.patch_assets`), or the tag is left to a person.

An image optimiser's address stands for the image it serves (``/_next/image?url=…``, ``/_vercel/image?url=…``,
Astro's ``/_image?href=…``, Nuxt's ``/_ipx/MODIFIERS/PATH``). Only the ``alt`` value changes: ``alt="…"`` and
``alt={"…"}`` get the text as a string (``&quot;``, ``&amp;`` and ``&#123;`` where needed, which JSX, Astro, Vue
and Svelte all decode), a tag with no ``alt`` gets one; an ``alt`` written as an expression (``alt={post.title}``,
Vue's ``:alt``, Angular's ``[alt]``) is left to a person, as is a tag whose ``src`` is an expression
(``src={product.image}``).
"""

from __future__ import annotations

import html
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

from records import ImageRecord
from reports.patch_assets import AssetFiles, one_asset
from reports.patch_html import eligible
from reports.patch_locales import Translation, translation
from scraper.urls import resource_url

COMPONENT_SUFFIXES = (".jsx", ".tsx", ".js", ".mjs", ".astro", ".vue", ".svelte", ".mdx")
_ANGULAR_TEMPLATE = ".component.html"
# folders that hold no component a person edits: dependencies, build output, files served as they are
_SKIPPED_FOLDERS = {"node_modules", "dist", "build", "out", "public", "static", "coverage", "vendor"}
COMPONENT_BYTES = 1 << 20  # a larger file is a bundle, not a component
# the image components of frameworks, by the module they come from (their local names are read from imports)
_IMAGE_MODULES = ("next/image", "next/legacy/image", "astro:assets", "gatsby-plugin-image", "@unpic/")
_IMAGE_TAGS = {"img", "Image", "Picture", "NuxtImg", "NuxtPicture", "nuxt-img", "nuxt-picture", "StaticImage",
               "enhanced:img"}  # fmt: skip
_BOUND_ALT = (":alt", "v-bind:alt", "[alt]", "[attr.alt]")  # Vue's and Angular's bindings: an expression
_IMPORT = re.compile(r"""import\s+(?:(\w+)\s*,?\s*)?(?:\{([^}]*)\}\s*)?from\s*["']([^"']+)["']""")
# comments: HTML's, JavaScript's and JSX's ({/* … */}), and a line's (not the // of a URL or a string)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)|/\*.*?(?:\*/|\Z)|(?<![:\w\"'`/])//[^\n]*", re.DOTALL)
_TAG_START = re.compile(r"<([A-Za-z][\w:.-]*)(?=[\s/>])")
_NAME = re.compile(r"[^\s=/>{}\"'<]+")  # a "<" in a name: the tag never closed
_BARE = re.compile(r"[^\s>]+")
_IDENTIFIER = re.compile(r"\s*([A-Za-z_$][\w$]*)(?:\.src)?\s*")
_STRING = re.compile(r"""\s*(?:"([^"\\]*)"|'([^'\\]*)'|`([^`\\$]*)`)\s*""")
_FILE_NAME = re.compile(r"(?P<stem>.+)\.(?P<ext>[A-Za-z0-9]+)")
_HASH = re.compile(r"[A-Za-z0-9_-]{6,32}")
_CONVERTED = {"webp", "avif"}  # what image pipelines convert an asset to
_SAME_TYPE = {"jpeg": "jpg"}


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: str  # "string" (quoted), "expression" ({…}), "bare", or "none" (no value)
    start: int  # where the name starts
    value_start: int
    value_end: int
    value: str  # without its quotes or braces
    quote: str = ""  # a string's quote


def is_component(path: Path) -> bool:
    return path.suffix.lower() in COMPONENT_SUFFIXES or path.name.lower().endswith(_ANGULAR_TEMPLATE)


def component_files(root: Path) -> Iterator[Path]:
    """The component files under ``root`` (see the module), in a stable order."""
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(name for name in folders if not name.startswith(".") and name not in _SKIPPED_FOLDERS)
        for name in sorted(files):
            path = Path(folder, name)
            if is_component(path) and not path.is_symlink():
                yield path


def texts_by_url(wanted: Iterable[tuple[ImageRecord, str]]) -> dict[str, tuple[ImageRecord, str]]:
    """One text per image (by its source URL): where pages word an image differently, the wording most of them
    use (the first page's on a tie)."""
    seen: dict[str, list[tuple[ImageRecord, str]]] = defaultdict(list)
    for record, text in wanted:
        if eligible(record):
            seen[record.source].append((record, text))
    chosen = {}
    for url, pairs in seen.items():
        text = Counter(text for _, text in pairs).most_common(1)[0][0]
        chosen[url] = (pairs[0][0], text)
    return chosen


def patched_component(
    text: str,
    index: ComponentImages,
    ascii_only: bool = False,
    translated: list[tuple[list[str], Translation]] | None = None,
    component: Path | None = None,
) -> tuple[str, dict[str, int], dict[str, str]]:
    """``text`` with the alt of every matching image tag set; how many tags of each image URL changed; and the
    images whose tag was found but is left to a person, with why. ``ascii_only``: a file not in UTF-8 gets non-ASCII
    text as character references. ``translated`` gets the images whose alt is a translation (``t("hero.alt")``),
    for :mod:`reports.patch_locales` (they are in the images left to a person until a locale file is set).
    ``component``: the file ``text`` is, whose assets tell images of one name apart."""
    imports, image_tags = _imports(text)
    done: dict[str, int] = defaultdict(int)
    by_hand: dict[str, str] = {}
    out: list[str] = []
    last = 0
    comments = [match.span() for match in _COMMENT.finditer(text)]
    for tag in _TAG_START.finditer(text):
        if tag.group(1) not in image_tags or tag.start() < last or any(a <= tag.start() < b for a, b in comments):
            continue  # not an image tag, inside one already set, or in a comment
        parsed = _attributes(text, tag.end())
        if parsed is None:
            continue
        attrs = {attribute.name: attribute for attribute in parsed}
        urls, unsure = index.find(_source(attrs, imports), component)
        if unsure is not None:
            by_hand.update(dict.fromkeys(urls, unsure))
        if not urls or unsure is not None:
            continue
        alt = attrs.get("alt")
        dynamic = next((attrs[name] for name in _BOUND_ALT if name in attrs), None)
        if dynamic is not None or (alt is not None and alt.kind == "expression" and _literal(alt.value) is None):
            expression = dynamic or alt
            written = expression.name + "=" + text[expression.value_start : expression.value_end]
            by_hand.update(dict.fromkeys(urls, f"its alt is an expression ({' '.join(written.split())})"))
            asked = translation(expression.value, text, tag.start())
            if asked is not None and translated is not None:
                translated.append((urls, replace(asked, component=component)))
            continue
        words = Counter(index.records[url][1] for url in urls).most_common(1)[0][0]  # the first's on a tie
        value = _quoted(words, parsed)
        if ascii_only:
            value = value.encode("ascii", "xmlcharrefreplace").decode("ascii")
        if alt is None:
            out.append(text[last : tag.end()] + f" alt={value}")
            last = tag.end()
        elif alt.kind == "none":
            out.append(text[last : alt.value_end] + f"={value}")
            last = alt.value_end
        else:
            out.append(text[last : alt.value_start] + value)
            last = alt.value_end
        done[urls[0]] += 1  # one tag, and every URL it stands for is done
        for url in urls[1:]:
            done.setdefault(url, 0)
    out.append(text[last:])
    return "".join(out), dict(done), by_hand


class ComponentImages:
    """The audited images and their texts (:func:`texts_by_url`), by what a tag's ``src`` can name: their address,
    their path, their file name; read once for every component file. One source can be several audited URLs (an
    optimiser's widths of one asset, on pages that lay it out differently)."""

    def __init__(self, records: dict[str, tuple[ImageRecord, str]], root: Path | None = None) -> None:
        self.records = records
        self.assets = AssetFiles(root)  # the project's files, to tell images of one name apart
        self.by_url: dict[str, list[str]] = defaultdict(list)
        self.by_path: dict[str, list[str]] = defaultdict(list)
        self.by_stem: dict[str, list[tuple[str, str]]] = defaultdict(list)  # a name -> (extension, image URL)
        self.image_path: dict[str, str] = {}  # an audited URL -> the path of the image it is
        for url in records:
            parts = urlsplit(_original(url))
            self.by_url[parts._replace(query="", fragment="").geturl()].append(url)
            path = self.image_path[url] = unquote(parts.path)
            self.by_path[path].append(url)
            named = _FILE_NAME.fullmatch(PurePosixPath(path).name)
            if named:
                for stem in _stems(named.group("stem")):
                    self.by_stem[stem].append((_type(named.group("ext")), url))

    def find(self, source: tuple[str, str] | None, component: Path | None = None) -> tuple[list[str], str | None]:
        """The audited URLs a tag's source names (none: no image of the audit), in the file ``component``; and why
        the tag is left to a person, where its asset's name is that of several images it does not tell apart
        (:mod:`reports.patch_assets`)."""
        if source is None:
            return [], None
        kind, value = source
        if kind == "address":
            parts = urlsplit(value)
            if parts.scheme in ("http", "https"):
                return self.by_url.get(parts._replace(query="", fragment="").geturl(), []), None
            return self.by_path.get(unquote(parts.path), []), None
        named = _FILE_NAME.fullmatch(PurePosixPath(value.split("?")[0]).name)
        if not named:
            return [], None
        wanted = _type(named.group("ext"))
        images: dict[str, list[str]] = defaultdict(list)
        for extension, url in self.by_stem.get(named.group("stem"), []):
            if (extension == wanted or extension in _CONVERTED) and url not in images[self.image_path[url]]:
                images[self.image_path[url]].append(url)
        file = self.assets.path(value, component) if len(images) > 1 else None
        return one_asset(images, self.records, value, file, self.assets)


def _original(url: str) -> str:
    """The image an optimiser's address serves (see the module); any other address as it is."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.path in ("/_next/image", "/_vercel/image") and query.get("url"):
        return resource_url(url, query["url"][0])
    if parts.path == "/_image" and query.get("href"):
        return resource_url(url, query["href"][0])
    segments = parts.path.split("/")
    if len(segments) > 3 and segments[1] == "_ipx":
        return resource_url(url, "/" + "/".join(segments[3:]))
    return url


def _stems(stem: str) -> list[str]:
    """A file name's stem, and the stems it has without a bundler's content hash after a ``.`` or ``-``."""
    stems = [stem]
    for match in re.finditer(r"[.-]", stem):
        rest = stem[match.end() :]
        hashed = re.search(r"\d", rest) or rest not in (rest.lower(), rest.upper())  # "members" is a word
        if match.start() and _HASH.fullmatch(rest) and hashed:
            stems.append(stem[: match.start()])
    return stems


def _type(extension: str) -> str:
    extension = extension.lower()
    return _SAME_TYPE.get(extension, extension)


def _imports(text: str) -> tuple[dict[str, str], set[str]]:
    """The file's default imports (a local name -> the module or asset), and its image tags' names."""
    imports: dict[str, str] = {}
    tags = set(_IMAGE_TAGS)
    for default, named, module in _IMPORT.findall(text):
        if default:
            imports[default] = module
        if module.startswith(_IMAGE_MODULES):
            tags.update(part.split(" as ")[-1].strip() for part in named.split(",") if part.strip())
            tags.update([default] if default else [])
    return imports, tags


def _source(attrs: dict[str, Attribute], imports: dict[str, str]) -> tuple[str, str] | None:
    """What a tag's ``src`` names: ("address", a path or URL) or ("asset", a file the build copies); None when it is
    an expression AltScout cannot follow."""
    src = attrs.get("src")
    bound = next((attrs[name] for name in (":src", "v-bind:src") if name in attrs), None)
    expression = src if src is not None and src.kind == "expression" else bound  # JSX's {…}, Vue's :src="…"
    written: str | None = None
    if src is not None and src.kind in ("string", "bare"):
        written = html.unescape(src.value)
    elif expression is not None:
        written = _literal(expression.value)
        if written is None:
            name = _IDENTIFIER.fullmatch(expression.value)
            module = imports.get(name.group(1)) if name else None
            return ("asset", module) if module else None
    if not written:
        return None
    if written.startswith(("/", "http://", "https://")) and not written.startswith("//"):
        return ("address", written)
    return ("asset", written)  # ./hero.jpg, ../assets/hero.jpg, ~/assets/hero.jpg, @/assets/hero.jpg


def _literal(expression: str) -> str | None:
    """The string an expression is, when it is one literal (``"…"``, ``'…'``, a template with no ``${}``)."""
    match = _STRING.fullmatch(expression)
    return None if match is None else next(group for group in match.groups() if group is not None)


def _attributes(text: str, position: int) -> list[Attribute] | None:
    """The attributes of the tag whose name ends at ``position``, up to its ``>`` or ``/>``; None if it does not
    end (a ``<`` in a comparison, say)."""
    found: list[Attribute] = []
    end = len(text)
    while position < end:
        while position < end and text[position].isspace():
            position += 1
        if text.startswith(("/>", ">"), position):
            return found
        if position < end and text[position] == "{":  # {...props}
            closed = _closing_brace(text, position)
            if closed is None:
                return None
            position = closed
            continue
        name = _NAME.match(text, position)
        if name is None:
            return None
        after = name.end()
        while after < end and text[after].isspace():
            after += 1
        if after >= end or text[after] != "=":
            found.append(Attribute(name.group(), "none", name.start(), name.end(), name.end(), ""))
            position = name.end()
            continue
        start = after + 1
        while start < end and text[start].isspace():
            start += 1
        if start < end and text[start] in "\"'":
            close = text.find(text[start], start + 1)
            if close < 0:
                return None
            value = text[start + 1 : close]
            found.append(Attribute(name.group(), "string", name.start(), start, close + 1, value, text[start]))
            position = close + 1
        elif start < end and text[start] == "{":
            closed = _closing_brace(text, start)
            if closed is None:
                return None
            value = text[start + 1 : closed - 1]
            found.append(Attribute(name.group(), "expression", name.start(), start, closed, value))
            position = closed
        else:
            bare = _BARE.match(text, start)
            if bare is None:
                return None
            found.append(Attribute(name.group(), "bare", name.start(), start, bare.end(), bare.group()))
            position = bare.end()
    return None


def _closing_brace(text: str, position: int) -> int | None:
    """Where the ``{`` at ``position`` closes (after its ``}``), strings and templates passed over; None if not
    within 10,000 characters."""
    depth, index, end = 0, position, min(len(text), position + 10_000)
    while index < end:
        char = text[index]
        if char in "\"'`":
            close = text.find(char, index + 1)
            while close > 0 and text[close - 1] == "\\":
                close = text.find(char, close + 1)
            if close < 0:
                return None
            index = close + 1
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        index += 1
        if depth == 0:
            return index
    return None


def _quoted(text: str, attributes: list[Attribute]) -> str:
    """Text as a quoted attribute value that JSX, Astro, Vue and Svelte all read back as the text: in the tag's own
    quotes where it uses single quotes only (it may stand inside a JavaScript string in double quotes)."""
    value = html.escape(text, quote=False).replace("{", "&#123;").replace("}", "&#125;")
    quotes = {attribute.quote for attribute in attributes if attribute.kind == "string"}
    if quotes == {"'"}:
        return "'" + value.replace("'", "&#39;") + "'"
    return '"' + value.replace('"', "&quot;") + '"'
