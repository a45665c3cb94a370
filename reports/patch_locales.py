"""Translated alt texts, for ``--fix-patch``: where a component's ``alt`` is a translation (``alt={t("hero.alt")}``,
Vue's ``:alt="$t('hero.alt')"``), the text is set in the project's locale file for each audited page's language.

**Which files** (:func:`locale_files`): JSON, YAML or JavaScript/TypeScript (:mod:`reports.locale_js`) files named
by a language in a folder of translations (``messages``, ``locales``, ``i18n``, ``lang``, ``translations``,
``dictionaries``): ``messages/de.json`` or ``locales/de.yml`` holds a whole language (next-intl, vue-i18n, Nuxt
i18n), ``public/locales/de/common.json`` one namespace of it (i18next, next-i18next); first, a Vue component's own
``<i18n>`` block (vue-i18n's local messages).

**Which key:** the call's own (``t("hero.alt")``; i18next's ``t("home:hero.alt")`` names its namespace), under the
namespace the component asked for before the tag (next-intl's ``useTranslations("Home")`` or ``getTranslations``,
i18next's ``useTranslation("home")``; else i18next's ``common`` or ``translation``), as nested objects or as one
flat key. **Which language:** the page's ``<html lang>``, or its primary language (``de-DE`` is ``de``); a page
with none, where the project has several languages, is left to a person. Only the string's bytes change, written
as JSON writes it (in YAML too, whose double-quoted strings read JSON's escapes; a YAML value that is an anchor or
an alias, shared with other keys, is left to a person).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from reports.locale_js import JS_SUFFIXES, js_value_span

LOCALE_FOLDERS = {"messages", "locales", "locale", "lang", "langs", "i18n", "translations", "dictionaries"}
_SKIPPED = {"node_modules", "dist", "build", "out", "coverage", "vendor"}  # public/ and static/ may hold locales
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
_CALL = re.compile(r"""\s*(?:\$t|t|i18n\.t|i18next\.t)\(\s*(["'`])([^"'`$]+)\1\s*(?:,[^)]*)?\)\s*""")
_NAMESPACE = re.compile(
    r"""(?P<intl>useTranslations|getTranslations)\(\s*(?:\{\s*namespace\s*:\s*)?["'](?P<scope>[^"']+)["']"""
    r"""|(?P<next>useTranslation|withTranslation)\(\s*\[?\s*["'](?P<ns>[^"']+)["']"""
)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"')
_SCALAR = re.compile(r"-?\d[\d.eE+-]*|true|false|null")
_DEFAULT_NAMESPACES = ("common", "translation")
LOCALE_SUFFIXES = (".json", ".yml", ".yaml", *JS_SUFFIXES)
_I18N_BLOCK = re.compile(r"<i18n(?P<attributes>\s[^>]*)?>(?P<body>.*?)</i18n\s*>", re.DOTALL | re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([\w-]+)\s*=\s*["']([^"']*)["']""")
_YAML_BREAKS = "\u2028\u2029\x85\ufeff"  # printable to Python, line breaks or a byte-order mark to YAML


@dataclass(frozen=True)
class LocaleFile:
    path: Path
    language: str  # as the file names it: "de", "pt-BR"
    namespace: str | None  # i18next's: the file's name; None: the file holds the whole language


@dataclass(frozen=True)
class Translation:
    """A translated alt: the key its call names, and the namespace the component asked for before the tag."""

    key: str
    scope: str | None = None  # next-intl's namespace: a prefix of the key's path
    namespace: str | None = None  # i18next's namespace: a file
    component: Path | None = None  # the file that asks for it, whose vue-i18n <i18n> block may hold it


def translation(expression: str, text: str, position: int) -> Translation | None:
    """The translation an alt expression is (``t("hero.alt")``), with the namespace ``text`` asked for last before
    ``position``; None: another expression."""
    call = _CALL.fullmatch(expression)
    if call is None:
        return None
    key, scope, namespace = call.group(2), None, None
    asked = [match for match in _NAMESPACE.finditer(text, 0, position)]
    if asked:
        scope, namespace = asked[-1].group("scope"), asked[-1].group("ns")
    if ":" in key:
        namespace, key = key.split(":", 1)
    return Translation(key, scope, namespace)


def locale_files(root: Path) -> list[LocaleFile]:
    """The locale files under ``root`` (see the module)."""
    found: list[LocaleFile] = []
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(name for name in folders if not name.startswith(".") and name not in _SKIPPED)
        parts = Path(folder).relative_to(root).parts
        for name in sorted(files):
            stem, suffix = os.path.splitext(name)
            if suffix not in LOCALE_SUFFIXES or Path(folder, name).is_symlink():
                continue
            if parts and parts[-1] in LOCALE_FOLDERS and _LANGUAGE.fullmatch(stem):
                found.append(LocaleFile(Path(folder, name), stem, None))
            elif len(parts) > 1 and parts[-2] in LOCALE_FOLDERS and _LANGUAGE.fullmatch(parts[-1]):
                found.append(LocaleFile(Path(folder, name), parts[-1], stem))
    return found


def for_language(files: list[LocaleFile], language: str | None) -> list[LocaleFile]:
    """The files of a page's language: the same tag, else the same primary language; a page with no language
    where the project has one language only, that one's."""
    if language is None:
        languages = {_tag(file.language) for file in files}
        return files if len(languages) == 1 else []
    wanted = _tag(language)
    exact = [file for file in files if _tag(file.language) == wanted]
    return exact or [file for file in files if _tag(file.language).split("-")[0] == wanted.split("-")[0]]


def set_translation(
    files: list[LocaleFile],
    asked: Translation,
    text: str,
    edited: dict[Path, tuple[str, str]],
    language: str | None = None,
) -> Path | None:
    """Set ``text`` as the translation, in ``language``, in the component's own ``<i18n>`` block where it holds the
    key (vue-i18n's local messages come first), else in the first of ``files`` that holds it (into ``edited``: a
    file -> its text before and after); the file, or None where none holds it."""
    if asked.component is not None and set_in_block(asked.component, language, asked.key, text, edited):
        return asked.component
    path = asked.key.split(".")
    for file in files:
        if file.namespace is None:
            paths = [[*asked.scope.split("."), *path], [asked.scope, asked.key]] if asked.scope else [path, [asked.key]]
        elif file.namespace == asked.namespace or (asked.namespace is None and file.namespace in _DEFAULT_NAMESPACES):
            paths = [path, [asked.key]]
        else:
            continue
        try:
            original, before = edited.get(file.path) or (file.path.read_text(encoding="utf-8"),) * 2
        except (OSError, UnicodeDecodeError):
            continue
        for keys in paths:
            after = with_value(before, keys, text, syntax_of(file.path))
            if after is not None:
                edited[file.path] = (original, after)
                return file.path
    return None


def set_in_block(component: Path, language: str | None, key: str, text: str,
                 edited: dict[Path, tuple[str, str]]) -> bool:  # fmt: skip
    """Set ``text`` at ``key`` in ``language`` in a Vue component's ``<i18n>`` block (JSON, or YAML with
    ``lang="yaml"``; its top keys the locales, or the one its ``locale`` attribute names); whether one held it."""
    try:
        original, before = edited.get(component) or (component.read_text(encoding="utf-8"),) * 2
    except (OSError, UnicodeDecodeError):
        return False
    for block in _I18N_BLOCK.finditer(before):
        attributes = {name.lower(): value for name, value in _ATTRIBUTE.findall(block.group("attributes") or "")}
        syntax = "yaml" if attributes.get("lang", "json").lower() in ("yaml", "yml") else "json"
        body = block.group("body")
        if "src" in attributes:
            continue  # the messages are in another file
        if "locale" in attributes:
            found = for_language([LocaleFile(component, attributes["locale"], None)], language)
            prefixes = [[]] if found else []
        else:
            locales = [LocaleFile(component, name, None) for name in _top_keys(body, syntax)]
            prefixes = [[file.language] for file in for_language(locales, language)]
        for keys in (keys for prefix in prefixes for keys in ([*prefix, *key.split(".")], [*prefix, key])):
            after = with_value(body, keys, text, syntax)  # nested, else one flat key
            if after is not None:
                edited[component] = (original, before[: block.start("body")] + after + before[block.end("body") :])
                return True
    return False


def _top_keys(body: str, syntax: str) -> list[str]:
    """The top keys of a block's messages (its locales); none where it is not a mapping, or not JSON or YAML."""
    try:
        messages = yaml.safe_load(body) if syntax == "yaml" else json.loads(body)
    except (ValueError, yaml.YAMLError):
        return []
    return [str(name) for name in messages] if isinstance(messages, dict) else []


def syntax_of(path: Path) -> str:
    """How a locale file is written: "json", "yaml" or "js" (a JavaScript or TypeScript module)."""
    suffix = path.suffix.lower()
    return "yaml" if suffix in (".yml", ".yaml") else "js" if suffix in JS_SUFFIXES else "json"


def with_value(before: str, keys: list[str], text: str, syntax: str = "json") -> str | None:
    """The JSON, YAML or JavaScript text ``before`` with the string at ``keys`` set to ``text`` (as JSON writes a
    string, which JavaScript reads too); None where it holds none."""
    quoted = json.dumps(text, ensure_ascii=False)
    if syntax != "yaml":
        span = (js_value_span if syntax == "js" else value_span)(before, keys)
        return None if span is None else before[: span[0]] + quoted + before[span[1] :]
    node = yaml_value(before, keys)
    if node is None:
        return None
    quoted = "".join(char if char.isprintable() and char not in _YAML_BREAKS else _escape(char) for char in quoted)
    start, end = node.start_mark.index, node.end_mark.index
    if node.tag.endswith(":null"):
        return before[:start] + " " + quoted + before[end:] if start == end else None  # "alt:" with no value
    written = before[start:end]
    return before[:start] + quoted + ("\n" if written.endswith("\n") else "") + before[end:]  # a block's last line


def _escape(char: str) -> str:
    """A character as YAML's double-quoted strings escape it (YAML reads no control or line-separating character
    as written)."""
    return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"


def yaml_value(text: str, keys: list[str]) -> yaml.Node | None:
    """The scalar node at ``keys`` of a YAML text (one document), where it is a string or empty and written at
    its key (no anchor or alias, which other keys share); None otherwise, or where the text is no YAML."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    key_end = 0
    for wanted in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        pair = next(((key, value) for key, value in node.value if isinstance(key, yaml.ScalarNode)
                     and key.value == wanted), None)  # fmt: skip
        if pair is None:
            return None
        key_end, node = pair[0].end_mark.index, pair[1]
    if not isinstance(node, yaml.ScalarNode) or not node.tag.endswith((":str", ":null")):
        return None
    between = text[key_end : node.start_mark.index]
    shared = node.start_mark.index < key_end or not re.fullmatch(r"\s*:[ \t]*\n?[ \t]*", between)
    return None if shared or text.startswith(("&", "*"), node.start_mark.index) else node


def value_span(text: str, keys: list[str]) -> tuple[int, int] | None:
    """Where the string at ``keys`` (one object key a level) stands in a JSON text, quotes included; None when
    there is none, or the text is no JSON."""
    try:
        return _value(text, _space(text, 0), keys)[1]
    except (ValueError, IndexError):
        return None


def _value(text: str, index: int, keys: list[str] | None) -> tuple[int, tuple[int, int] | None]:
    """Read the value at ``index``: where it ends, and the span of the string at ``keys`` within it (``keys``
    None: nothing is looked for)."""
    char = text[index]
    if char == "{":
        found, index = None, _space(text, index + 1)
        while text[index] != "}":
            name = _STRING.match(text, index)
            if name is None:
                raise ValueError("a key")
            index = _space(text, name.end())
            if text[index] != ":":
                raise ValueError(":")
            wanted = keys[1:] if keys and json.loads(name.group()) == keys[0] and found is None else None
            index, inner = _value(text, _space(text, index + 1), wanted)
            found = found or inner
            index = _after_member(text, index, "}")
        return index + 1, found
    if char == "[":
        index = _space(text, index + 1)
        while text[index] != "]":
            index, _ = _value(text, index, None)
            index = _after_member(text, index, "]")
        return index + 1, None
    token = _STRING.match(text, index) or _SCALAR.match(text, index)
    if token is None:
        raise ValueError("a value")
    hit = keys == [] and token.group().startswith('"')
    return token.end(), (token.start(), token.end()) if hit else None


def _after_member(text: str, index: int, close: str) -> int:
    """Past the ``,`` after an object's or array's member, or at its ``close``."""
    index = _space(text, index)
    if text[index] == ",":
        return _space(text, index + 1)
    if text[index] != close:
        raise ValueError(f", or {close}")
    return index


def _space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _tag(language: str) -> str:
    return language.replace("_", "-").lower()
