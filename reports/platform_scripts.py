"""Writing the Python scripts that set alt texts through a platform's API (``--webflow``, ``--shopify-files``):
which images and texts they carry, and the file itself (the script's source, :mod:`reports.api_script` inlined,
its ``IMAGES`` filled in).

The texts are those of :func:`reports.fixes.fixes`, without what one link does (:func:`media_alt`), since an alt
kept with the image is shown wherever the image is: the wording most of the image's pages use, in the language
most of the audited pages are in. A platform keeps one alt an image for that language, so an image shown only on
pages in another is listed at the top of the script to set by hand, as the suggestions held for review are.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from records import AuditReport, ImageRecord, PageReport
from reports.api_script import inlined
from reports.fixes import fixes, held, media_alt, replaced_alt

# what identifies an image to a platform (its site and file, its file name...); None: not the platform's
KeyOf = Callable[[PageReport, ImageRecord], dict[str, str] | None]


def media_texts(report: AuditReport, key_of: KeyOf, other_languages: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The images a script sets (each its ``key_of`` fields, an address ``url``, the alt the audit read ``was`` and
    the ``alt`` to set), and the comment lines for the images left to a person (``other_languages``: why one
    shown only in another language is)."""
    languages = Counter(_language(page) for page in report.pages)
    language = languages.most_common(1)[0][0] if languages else None
    words: dict[tuple[tuple[str, str], ...], Counter[str]] = defaultdict(Counter)
    first: dict[tuple[tuple[str, str], ...], ImageRecord] = {}
    elsewhere: dict[tuple[tuple[str, str], ...], tuple[PageReport, str]] = {}  # only in another language: a page
    for page, record, text in fixes(report):
        fields = key_of(page, record)
        if fields is None:
            continue
        key = tuple(fields.items())
        first.setdefault(key, record)
        if _language(page) == language:
            words[key][media_alt(page, record, text)] += 1
        else:
            elsewhere.setdefault(key, (page, media_alt(page, record, text)))
    images = [{**dict(key), "url": first[key].url, "was": first[key].alt, "alt": counts.most_common(1)[0][0]}
              for key, counts in words.items()]  # fmt: skip
    notes = [f"# by hand, in its language: {first[key].url} is shown only on pages in another language than "
             f"{language or 'most pages'} ({page.url}, {page.lang}); {other_languages}: {text!r}"
             for key, (page, text) in elsewhere.items() if key not in words]  # fmt: skip
    notes += [f"# held for review (accept it with --decisions): {page.url}: {record.url} would replace "
              f"{replaced_alt(record.alt or '')} with {record.suggested_alt or ''!r}"
              for page, record in held(report) if key_of(page, record) is not None]  # fmt: skip
    return images, notes


def write_script(target: Path, source: Path, images: list[dict[str, Any]], notes: list[str], **values: Any) -> Path:
    """The script ``source`` as one file a user runs: :mod:`reports.api_script` inlined, ``images`` written into
    its ``IMAGES`` and each of ``values`` into the variable of its name, as Python's own literals (``repr``: no
    text can end one), ``notes`` after its docstring, and its ``THIS_FILE`` the file's name."""
    script = inlined(source).replace("THIS_FILE", target.name)
    for name, value in {"IMAGES": images, **values}.items():
        literal = "[\n" + "".join(f"    {one!r},\n" for one in value) + "]" if isinstance(value, list) else repr(value)
        found = re.search(rf"^{name}(?P<type>: [^=\n]+)? = .*$", script, re.MULTILINE)
        if found is None:
            raise ValueError(f"{source.name} has no {name} to fill")
        script = f"{script[: found.start()]}{name}{found.group('type') or ''} = {literal}{script[found.end() :]}"
    head, _, rest = script.partition('"""\n\nfrom __future__')
    comments = "".join(" ".join(line.split()) + "\n" for line in notes)
    target.write_text(f'{head}"""\n{comments}\nfrom __future__{rest}', encoding="utf-8")
    return target


def _language(page: PageReport) -> str | None:
    return page.lang.replace("_", "-").split("-")[0].lower() if page.lang else None
