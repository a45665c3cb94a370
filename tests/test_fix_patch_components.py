"""``--fix-patch`` for sites built from components (Next.js, Astro, Nuxt, SvelteKit): the audited pages are what
the frameworks build (optimiser addresses, hashed asset names), and the patch sets the alt of the tags in the
project's components that draw those images, found by what their ``src`` names."""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

from conftest import CaptionsByWidth, FixtureServer, make_image

from options import AuditOptions
from pipeline import run_audit
from records import ImageRecord
from reports.patch import PatchResult, write_fix_patch
from reports.patch_components import ComponentImages, patched_component, texts_by_url
from reports.patch_locales import LocaleFile, Translation, for_language, translation, value_span

PROJECT = {
    "app/page.tsx": """import Image from "next/image";
import hero from "./hero.jpg";
import { Card } from "@/components/Card";

export default function Home() {
  return (
    <main>
      {/* <img src="/team.jpg"> an old team photo */}
      // <img src="/team.jpg" /> and a line's comment
      <Image src={hero} alt="IMG_2024.jpg" priority />
      <img
        className="team"
        src="/team.jpg"
      />
      <Image src="/logo.png" alt={t("logo")} fill />
      {count > 1 && <Card />}
    </main>
  );
}
""",
    "components/Card.jsx": """export function Card({ product }) {
  return <figure><img src={product.image} /><img src={'/badge.png'} /></figure>;
}
""",
    "src/pages/about.astro": """---
import { Image as Picture } from "astro:assets";
import cake from "../assets/cake.png";
---
<Picture src={cake} alt="cake.png" />
""",
    "components/Shop.vue": """<template>
  <NuxtImg :src="'/images/shop.jpg'" />
  <img :src="photo" :alt="caption" />
</template>
<script setup>
import photo from "~/assets/photo.jpg";
</script>
""",
    "src/lib/Banner.svelte": """<enhanced:img src="./banner.jpg" />
""",
    "package.json": '{"dependencies": {"next": "15.0.0"}}\n',
    "README.md": "# The bakery's site\n\n![The home page](/team.jpg)\n",  # documents a project: no page
    "node_modules/kit/index.jsx": """export const Team = () => <img src="/team.jpg" />;
""",
}

BUILT = {
    "/": """<html><head><meta name="generator" content="Next.js"></head><body><main>
<img alt="IMG_2024.jpg" fetchpriority="high" decoding="async"
  srcset="/_next/image?url=%2F_next%2Fstatic%2Fmedia%2Fhero.3f2a1b9c.jpg&amp;w=1080&amp;q=75 1x"
  src="/_next/image?url=%2F_next%2Fstatic%2Fmedia%2Fhero.3f2a1b9c.jpg&amp;w=1080&amp;q=75">
<img class="team" src="/team.jpg">
<img src="/_vercel/image?url=%2Flogo.png&amp;w=256&amp;q=75">
<figure><img src="/cdn/p/42.jpg"><img src="/badge.png"></figure>
</main></body></html>""",
    "/about": '<html><body><img src="/_astro/cake.BPJRj4tJ_1ZtH0c.webp" alt="cake.png"></body></html>',
    "/shop": """<html><body><img src="/_ipx/w_640&amp;f_webp/images/shop.jpg">
<img src="/_nuxt/photo.Ck3x9aB2.jpg" alt="IMG_0042.jpg"></body></html>""",
    "/banner": '<html><body><img src="/_app/immutable/assets/banner.D4f8kL2a.jpg"></body></html>',
}

IMAGES = {  # width (what the model "sees"), caption
    "/_next/image": (401, "a loaf of bread on a wooden table"),
    "/team.jpg": (402, "three bakers in a kitchen"),
    "/_vercel/image": (403, "a red logo"),
    "/cdn/p/42.jpg": (404, "a blue vase"),
    "/badge.png": (405, "a gold badge"),
    "/_astro/cake.BPJRj4tJ_1ZtH0c.webp": (406, "a chocolate cake with candles"),
    "/_ipx/w_640&f_webp/images/shop.jpg": (407, "a shop window"),
    "/_nuxt/photo.Ck3x9aB2.jpg": (408, "a woman at a counter"),
    "/_app/immutable/assets/banner.D4f8kL2a.jpg": (409, 'a sign that says "open {daily}" & more'),
}


def test_the_components_that_draw_the_audited_images_get_their_alts(
    fresh_server: FixtureServer, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    for name, text in PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    for path, page in BUILT.items():
        fresh_server.add(path, page)
    for path, (width, _) in IMAGES.items():
        fresh_server.add(path, make_image(width, 300, "JPEG", seed=width), content_type="image/jpeg")
    captions = dict(IMAGES.values())
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    report = run_audit([fresh_server.url(path) for path in BUILT], options, CaptionsByWidth(captions))
    suggested = {record.url.rsplit("/", 1)[-1]: record.suggested_alt for page in report.pages
                 for record in page.images}  # fmt: skip
    assert suggested["banner.D4f8kL2a.jpg"] == 'A sign that says "open {daily}" & more'

    result = write_fix_patch(report, project, tmp_path / "alt.patch")
    subprocess.run(["git", "-C", str(project), "apply", str(tmp_path / "alt.patch")], check=True, capture_output=True)
    page = (project / "app/page.tsx").read_text(encoding="utf-8")
    assert '<Image src={hero} alt="A loaf of bread on a wooden table" priority />' in page  # an imported asset
    assert '<img alt="Three bakers in a kitchen"\n        className="team"\n        src="/team.jpg"' in page  # public
    assert "{/* <img src=\"/team.jpg\"> an old team photo */}\n      // <img src=\"/team.jpg\" />" in page  # comments
    assert '<Image src="/logo.png" alt={t("logo")}' in page  # an expression: a person's
    assert (project / "components/Card.jsx").read_text() == PROJECT["components/Card.jsx"].replace(
        "<img src={'/badge.png'} />", "<img alt=\"A gold badge\" src={'/badge.png'} />"
    )  # a literal in braces; the expression src={product.image} is left
    assert (project / "src/pages/about.astro").read_text().endswith(
        '<Picture src={cake} alt="A chocolate cake with candles" />\n'
    )  # Astro's Image, imported under another name; converted to WebP
    assert (project / "components/Shop.vue").read_text() == PROJECT["components/Shop.vue"].replace(
        "<NuxtImg :src=\"'/images/shop.jpg'\" />", "<NuxtImg alt=\"A shop window\" :src=\"'/images/shop.jpg'\" />"
    )  # Nuxt's optimiser address; :alt="caption" is left
    assert (project / "src/lib/Banner.svelte").read_text() == (
        '<enhanced:img alt="A sign that says &quot;open &#123;daily&#125;&quot; &amp; more" src="./banner.jpg" />\n'
    )  # what Svelte reads back as the text ({ would start an expression)
    for untouched in ("node_modules/kit/index.jsx", "README.md"):
        assert (project / untouched).read_text(encoding="utf-8") == PROJECT[untouched]
    assert result.files == 5 and result.tags == 6 and result.note is None  # the project: nothing to say
    by_hand = sorted(line[line.index(" http") + 1 :] for line in result.by_hand)  # the image URL on (no selector)
    assert by_hand == [
        f"{fresh_server.url('/_nuxt/photo.Ck3x9aB2.jpg')}: Shop.vue: its alt is an expression (:alt=\"caption\")",
        f"{fresh_server.url('/_vercel/image?url=%2Flogo.png&w=256&q=75')}: page.tsx: its alt is an expression "
        '(alt={t("logo")})',
        f"{fresh_server.url('/cdn/p/42.jpg')}: no file in --source-dir serves or builds this page",
    ]


def test_a_bundlers_hash_and_an_optimisers_address_stand_for_the_asset() -> None:
    """What a tag names is the image at the built address: a content hash after "." or "-" (Vite's may hold "-"),
    a converted format, an optimiser's query; a word after "-" is part of the name, and another type is not it."""
    urls = {
        "https://s.example/_next/static/media/shoe.3f2a1b9c.jpg": "A",
        "https://s.example/assets/hero-Dp-fqz5N.png": "B",
        "https://s.example/img/team-members.jpg": "C",
        "https://s.example/_image?href=%2F_astro%2Fvase.Ab12Cd34.png&w=300": "D",
        "https://s.example/docs/manual.pdf.jpg": "E",
        "https://s.example/_next/image?url=%2F_next%2Fstatic%2Fmedia%2Fshoe.3f2a1b9c.jpg&w=640": "A, smaller",
    }
    records = {url: (ImageRecord(source=url, found_in=["img"]), text) for url, text in urls.items()}
    source = """import shoe from "./shoe.jpeg";
import hero from "../assets/hero.png";
<img src={shoe.src} />
<img src={hero} alt/>
<img src="~/img/team.jpg" />
<img src="./team-members.jpg" />
<img src="@/assets/vase.png" />
<img src="./hero.gif" />
<img src="~/img/team-members.jpg" [alt]="team.caption" />
<img src={`/img/team-members.jpg`} alt={"Old"} />
"""
    out, done, by_hand = patched_component(source, ComponentImages(records))
    assert out.splitlines()[2:] == [
        '<img alt="A" src={shoe.src} />',  # jpeg is jpg
        '<img src={hero} alt="B"/>',  # an alt with no value
        '<img src="~/img/team.jpg" />',  # "members" is no hash
        '<img alt="C" src="./team-members.jpg" />',
        '<img alt="D" src="@/assets/vase.png" />',
        '<img src="./hero.gif" />',  # another type
        '<img src="~/img/team-members.jpg" [alt]="team.caption" />',  # Angular's binding: an expression
        '<img src={`/img/team-members.jpg`} alt="C" />',  # a literal in braces, replaced by a string
    ]
    shoe, hero, team, vase, _, shoe_640 = urls
    assert done == {shoe: 1, shoe_640: 0, hero: 1, team: 2, vase: 1}  # one tag for both widths of the shoe
    assert by_hand == {team: 'its alt is an expression ([alt]="team.caption")'}


def test_an_image_on_many_pages_gets_the_words_most_pages_use() -> None:
    logo = ImageRecord(source="https://s.example/logo.png", found_in=["img"])
    css = ImageRecord(source="https://s.example/bg.jpg", found_in=["css"])  # no tag to set
    chosen = texts_by_url([(logo, "Home"), (logo, "Acme, home"), (logo, "Acme, home"), (css, "A field")])
    assert chosen == {logo.source: (logo, "Acme, home")}


def test_a_frameworks_built_html_is_said_not_to_last(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """Next.js writes no <meta name="generator">, but its images' addresses show it built the page: the patch of
    its exported HTML (out/) says the next build replaces it, and a folder that builds none of the pages says so."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text(BUILT["/"], encoding="utf-8")
    fresh_server.add("/", BUILT["/"])
    for path, (width, _) in IMAGES.items():
        fresh_server.add(path, make_image(width, 300, "JPEG", seed=width), content_type="image/jpeg")
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    report = run_audit([fresh_server.url("/")], options, CaptionsByWidth(dict(IMAGES.values())))
    result = write_fix_patch(report, out, tmp_path / "alt.patch")
    assert result.files == 1 and result.note == (
        "the patched pages say they are built by Next.js (its images are under /_next/): the patch edits built "
        "HTML, which the next build replaces; give --source-dir the project, and AltScout patches its Markdown or "
        "components"
    )
    (tmp_path / "elsewhere").mkdir()
    result = write_fix_patch(report, tmp_path / "elsewhere", tmp_path / "alt.patch")
    assert result.files == 0 and result.note is not None and result.note.startswith(
        "the audited pages say they are built by Next.js (its images are under /_next/), and no file in --source-dir"
    )


PIECES = [
    '<img src="/team.jpg" />', "<img src='/team.jpg'>", '<Image src={hero} alt="" />', "<img src={logo} alt />",
    "<img\n  src=\"/team.jpg\"\n  className={cn('a', b > c && 'd')}\n/>", '{/* <img src="/team.jpg"> */}',
    '// <img src="/team.jpg">\n', "<img src={`/team.jpg`} alt={'x'} />", '<img src={product.img} alt="" />',
    "<img src=\"/team.jpg\" alt={t('k')} />", "a < b && c > d", '{items.map(i => <img key={i} src="/team.jpg" />)}',
    "'<img src=\"/team.jpg\">'", "\"<img src='/team.jpg' class='x'>\"", '<img {...props} src="/team.jpg" />',
    '<img src="/team.jpg" onClick={() => { if (a) { b() } }} />', '<img src="/team.jpg', "<img src={", '{"}"}',
    "`${a}`", '<!-- <img src="/team.jpg"> -->', "<img src=/team.jpg alt=old>", "<Picture src={hero} alt='x' />",
    '<enhanced:img src="./logo.png" />', "\n", "<div>", "</div>",
]  # fmt: skip
ALT = re.compile(r"""\s?\balt(?:=(?:"[^"]*"|'[^']*'|\{[^}]*\}|[^\s>/]+))?""")


def test_generated_components_change_in_their_alts_alone() -> None:
    """Files made of tags, expressions, comments, strings and unclosed tags in any order: patching never fails,
    changes nothing but alts, and a second patch changes nothing."""
    urls = {"https://s.example/team.jpg": 'A "quoted" {brace} & more',
            "https://s.example/_next/static/media/hero.3f2a1b9c.jpg": "It's café",
            "https://s.example/assets/logo-Dp3fqz5N.png": "Plain"}  # fmt: skip
    images = ComponentImages({url: (ImageRecord(source=url, found_in=["img"]), text) for url, text in urls.items()})
    header = 'import Image from "next/image";\nimport hero from "./hero.jpg";\nimport logo from "../assets/logo.png";\n'
    generator = random.Random(7)
    changed = 0
    for _ in range(500):
        text = header + "".join(generator.choice(PIECES) for _ in range(generator.randint(1, 12)))
        once, _, _ = patched_component(text, images)
        assert ALT.sub("", once) == ALT.sub("", text), text
        assert patched_component(once, images)[0] == once, text
        changed += once != text
    assert changed > 400  # most files hold a tag to set


LOCALIZED = {
    "package.json": '{"dependencies": {"next": "15.0.0", "next-intl": "4.0.0"}}\n',
    "app/[locale]/page.tsx": """import Image from "next/image";
import { useTranslations } from "next-intl";
import hero from "./hero.jpg";

export default function Home() {
  const t = useTranslations("Home");
  return <main><Image src={hero} alt={t("hero.alt")} /><Team /></main>;
}
""",
    "components/Team.jsx": """import { useTranslation } from "react-i18next";

export function Team() {
  const { t } = useTranslation("about");
  return <img src="/team.jpg" alt={t('team')} />;
}
""",
    "messages/en.json": '{\n  "Home": {\n    "title": "Welcome",\n    "hero": {"alt": "IMG_2024.jpg"}\n  }\n}\n',
    "messages/de.json": '{\n  "Home": {\n    "title": "Willkommen",\n    "hero": {"alt": "IMG_2024.jpg"}\n  }\n}\n',
    "public/locales/en/about.json": '{"team": "IMG_7.jpg", "other": ["a", {"team": "not this one"}]}\n',
    "public/locales/de/about.json": '{"team": "IMG_7.jpg"}\n',
}


def test_a_translated_alt_is_set_in_each_languages_locale_file(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """alt={t("hero.alt")} under useTranslations("Home") is messages/<lang>.json's Home.hero.alt (next-intl);
    alt={t('team')} under useTranslation("about") is public/locales/<lang>/about.json's team (i18next). Each
    language's file gets its pages' words; only the strings change."""
    project = tmp_path / "project"
    for name, text in LOCALIZED.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    for lang, path in (("en", "/en/"), ("de-DE", "/de/")):
        fresh_server.add(path, f"""<html lang="{lang}"><body><main>
<img alt="IMG_2024.jpg" src="/_next/image?url=%2F_next%2Fstatic%2Fmedia%2Fhero.3f2a1b9c.jpg&amp;w=1080&amp;q=75">
<img src="/team.jpg" alt="IMG_7.jpg"></main></body></html>""")
    fresh_server.add("/_next/image", make_image(401, 300, "JPEG", seed=401), content_type="image/jpeg")
    fresh_server.add("/team.jpg", make_image(402, 300, "JPEG", seed=402), content_type="image/jpeg")
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    captions = {401: "a loaf of bread on a wooden table", 402: "three bakers in a kitchen"}
    report = run_audit([fresh_server.url("/en/"), fresh_server.url("/de/")], options, CaptionsByWidth(captions))
    german = {"bread": 'Ein "Laib" Brot auf einem Holztisch', "bakers": "Drei Bäcker in einer Küche"}
    for record in report.pages[1].images:  # as --lang auto words them
        record.suggested_alt = german["bread" if "hero" in record.source else "bakers"]
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    result = write_fix_patch(report, project, tmp_path / "alt.patch")
    subprocess.run(["git", "-C", str(project), "apply", str(tmp_path / "alt.patch")], check=True, capture_output=True)
    assert result.files == 4 and result.by_hand == [] and result.tags == 4
    read = {name: (project / name).read_text(encoding="utf-8") for name in LOCALIZED}
    assert read["messages/en.json"] == LOCALIZED["messages/en.json"].replace(
        '"alt": "IMG_2024.jpg"', '"alt": "A loaf of bread on a wooden table"')
    assert read["messages/de.json"] == LOCALIZED["messages/de.json"].replace(
        '"alt": "IMG_2024.jpg"', '"alt": "Ein \\"Laib\\" Brot auf einem Holztisch"')
    assert read["public/locales/en/about.json"] == LOCALIZED["public/locales/en/about.json"].replace(
        '"team": "IMG_7.jpg"', '"team": "Three bakers in a kitchen"')  # not the "team" inside "other"
    assert json.loads(read["public/locales/de/about.json"]) == {"team": "Drei Bäcker in einer Küche"}
    for component in ("app/[locale]/page.tsx", "components/Team.jsx"):
        assert read[component] == LOCALIZED[component]


def test_which_key_and_file_a_translation_is() -> None:
    text = 'const t = useTranslations("Shop");\n<img alt={t("a")} />\nconst { t: u } = useTranslation(["home", "x"]);\n'
    assert translation('t("hero.alt")', text, text.index("<img")) == Translation("hero.alt", "Shop", None)
    assert translation(" t('hero', { n: 1 }) ", text, len(text)) == Translation("hero", None, "home")
    assert translation("t('common:logo')", "", 0) == Translation("logo", None, "common")
    assert translation("$t('shop.photo')", "", 0) == Translation("shop.photo")
    assert translation("post.title", text, 0) is None and translation("t(key)", text, 0) is None
    files = [LocaleFile(Path("de.json"), "de", None), LocaleFile(Path("pt_BR.json"), "pt_BR", None),
             LocaleFile(Path("pt.json"), "pt", None)]  # fmt: skip
    assert for_language(files, "de-AT") == files[:1] and for_language(files, "pt-br") == files[1:2]
    assert for_language(files, None) == [] and for_language(files[:1], None) == files[:1]
    source = '{"a": {"b": "x", "c": [1, {"b": "y"}]}, "a.b": "flat", "n": null}'
    assert value_span(source, ["a", "b"]) == (source.index('"x"'), source.index('"x"') + 3)
    assert value_span(source, ["a.b"]) == (source.index('"flat"'), source.index('"flat"') + 6)
    assert value_span(source, ["a", "c"]) is None and value_span(source, ["n"]) is None
    assert value_span("{not json", ["a"]) is None


def test_value_span_finds_every_string_of_generated_json() -> None:
    """Locale files as JSON writes them, nested, indented or not, escaped or not: each string is found at its keys
    (json reads the span back as the value), and a missing key is none."""
    generator = random.Random(3)

    def value(depth: int) -> object:
        kind = generator.random()
        if depth > 3 or kind < 0.4:
            return generator.choice(["x", 'a "q" \\ é', "", 1, -2.5e3, True, None, "{}", "[,]"])
        if kind < 0.55:
            return [value(depth + 1) for _ in range(generator.randint(0, 3))]
        keys = ["a", "b", "a.b", "ü", 'k"q']
        return {generator.choice(keys): value(depth + 1) for _ in range(generator.randint(0, 4))}

    def strings(node: object, keys: list[str]) -> list[tuple[list[str], str]]:
        if isinstance(node, dict):
            return [found for key, inner in node.items() for found in strings(inner, [*keys, key])]
        return [(keys, node)] if isinstance(node, str) else []

    checked = 0
    for _ in range(300):
        document = {"root": value(0)}
        text = json.dumps(document, indent=generator.choice([None, 2]), ensure_ascii=generator.random() < 0.5)
        for keys, expected in strings(document, []):
            span = value_span(text, keys)
            assert span is not None and json.loads(text[span[0] : span[1]]) == expected, (text, keys)
            checked += 1
        assert value_span(text, ["root", "missing"]) is None
    assert checked > 150


def test_one_tag_on_pages_of_two_languages_and_another_on_one(tmp_path: Path) -> None:
    """Each language's file gets the words of that language's pages, however the images share tags (a crash
    once: a language one image was never shown in)."""
    from records import PageReport
    from reports.patch import _Left, _patch_locales

    (tmp_path / "messages").mkdir()
    for language in ("en", "de"):
        (tmp_path / "messages" / f"{language}.json").write_text('{"a": "", "b": ""}\n')
    shared, german = (ImageRecord(source=f"https://s.example/{name}.jpg", found_in=["img"]) for name in "ab")
    left = [_Left(PageReport(url="https://s.example/en/", lang="en"), shared, "Alpha", "why"),
            _Left(PageReport(url="https://s.example/de/", lang="de"), shared, "Alpha auf Deutsch", "why"),
            _Left(PageReport(url="https://s.example/de/", lang="de"), german, "Beta", "why")]  # fmt: skip
    translated = [([shared.source, german.source], Translation("a")), ([german.source], Translation("b"))]
    edited: dict[Path, tuple[str, str]] = {}
    done = _patch_locales(tmp_path, left, translated, edited)
    assert {(url, language) for url, language in done} >= {(shared.source, "en"), (shared.source, "de"),
                                                            (german.source, "de")}  # fmt: skip
    after = {path.name: json.loads(text) for path, (_, text) in edited.items()}
    assert after == {"en.json": {"a": "Alpha", "b": ""}, "de.json": {"a": "Alpha auf Deutsch", "b": "Beta"}}


def test_assets_of_one_name_are_told_apart_by_their_bytes_folders_and_shape(tmp_path: Path) -> None:
    """Two assets named cover.jpg (the team's and the blog's) build to two images named like cover: each tag gets
    its own image's words, found by the file's bytes, its folders or its shape; where none tells, a person sets it,
    told why, and no tag gets another image's words."""
    import hashlib

    files = {
        "src/team/cover.jpg": make_image(600, 400, "JPEG", seed=1),  # 3:2
        "src/blog/cover.jpg": make_image(400, 400, "JPEG", seed=2),  # square
        "src/team/logo.png": make_image(50, 50, seed=3),
        "src/blog/logo.png": make_image(50, 50, seed=4),
        "src/team/badge.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        "src/blog/badge.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    }
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    site = "https://s.example"
    audited = [  # url, text, width, height, sha256
        ("/_astro/cover.Ab12Cd34.webp", "Our team", 1200, 800, None),  # converted and resized: the shape tells
        ("/_astro/cover.Xy98Zw76.webp", "The blog", 800, 800, None),
        ("/assets/logo-Dp3fqz5N.png", "Team logo", 50, 50, hashlib.sha256(files["src/team/logo.png"]).hexdigest()),
        ("/assets/logo-Qq7rT2aB.png", "Blog logo", 50, 50, hashlib.sha256(files["src/blog/logo.png"]).hexdigest()),
        ("/img/team/photo.jpg", "Bakers", 640, 480, None),  # a copied folder: its folders tell
        ("/img/blog/photo.jpg", "Bread", 640, 480, None),
        ("/_astro/badge.Ab12Cd34.svg", "A gold badge", None, None, None),  # nothing tells
        ("/_astro/badge.Xy98Zw76.svg", "A silver badge", None, None, None),
    ]
    records = {}
    for path, text, width, height, digest in audited:
        record = ImageRecord(source=site + path, found_in=["img"], width=width, height=height, sha256=digest)
        records[record.source] = (record, text)
    index = ComponentImages(records, tmp_path)
    team = 'import cover from "./cover.jpg";\n<Image src={cover} />\n<img src="@/team/logo.png" />\n' \
           '<img src="../../img/team/photo.jpg" />\n<img src="./badge.svg" />\n'  # fmt: skip
    (tmp_path / "src/team/Team.astro").write_text(team)
    out, done, by_hand = patched_component(team, index, component=tmp_path / "src/team/Team.astro")
    assert out.splitlines()[1:] == [
        '<Image alt="Our team" src={cover} />',
        '<img alt="Team logo" src="@/team/logo.png" />',
        '<img alt="Bakers" src="../../img/team/photo.jpg" />',
        '<img src="./badge.svg" />',
    ]
    badges = [site + "/_astro/badge.Ab12Cd34.svg", site + "/_astro/badge.Xy98Zw76.svg"]
    assert set(done) == {site + "/_astro/cover.Ab12Cd34.webp", site + "/assets/logo-Dp3fqz5N.png",
                         site + "/img/team/photo.jpg"}  # fmt: skip
    assert set(by_hand) == set(badges)
    assert by_hand[badges[0]] == (
        "./badge.svg could be any of 2 audited images named like badge.svg (/_astro/badge.Ab12Cd34.svg, "
        "/_astro/badge.Xy98Zw76.svg), which its bytes, folders and shape do not tell apart"
    )
    blog = team.replace("team", "blog")
    out, done, _ = patched_component(blog, index, component=tmp_path / "src/blog/Blog.astro")
    assert [line.split('"')[1] for line in out.splitlines()[1:4]] == ["The blog", "Blog logo", "Bread"]
    out, done, by_hand = patched_component(blog, ComponentImages(records))  # no project: only the folders tell
    assert set(done) == {site + "/img/blog/photo.jpg"}
    assert set(by_hand) == {url for url in records if "/img/" not in url}
    assert by_hand[site + "/assets/logo-Qq7rT2aB.png"].startswith("@/blog/logo.png could be any of 2 audited images")
    from records import PageReport
    from reports.patch import _Left, _patch_components

    (tmp_path / "src/blog/Blog.astro").write_text(blog)
    page = PageReport(url=site + "/")
    left = [_Left(page, record, text, "no file serves the page") for record, text in records.values()]
    edited: dict[Path, tuple[str, str]] = {}
    lines: list[str] = []
    assert _patch_components(tmp_path, left, edited, lines) == 6  # the two projects' covers, logos and photos
    assert {item.record.source for item in left} == set(badges)
    assert lines == [f"{site}/ (no selector) {badge}: Blog.astro, Team.astro: ./badge.svg could be any of 2 "
                     "audited images named like badge.svg (/_astro/badge.Ab12Cd34.svg, /_astro/badge.Xy98Zw76.svg), "
                     "which its bytes, folders and shape do not tell apart" for badge in badges]  # fmt: skip


def bilingual_patch(server: FixtureServer, tmp_path: Path, files: dict[str, str], images: dict[str, tuple[int, str]],
                    body: str, german: dict[str, str]) -> tuple[PatchResult, Path]:  # fmt: skip
    """A project of ``files``, and /en/ and /de/ pages of ``body`` showing ``images`` (a path -> the width that
    chooses its caption, the caption), the German suggestions ``german``'s (by a word of the path): the patch,
    applied with git apply, and the project."""
    project = tmp_path / "project"
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    for lang, where in (("en", "/en/"), ("de", "/de/")):
        server.add(where, f'<html lang="{lang}"><body>{body}</body></html>')
    for where, (width, _) in images.items():
        server.add(where, make_image(width, 300, "JPEG", seed=width), content_type="image/jpeg")
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    captions = CaptionsByWidth(dict(images.values()))
    report = run_audit([server.url("/en/"), server.url("/de/")], options, captions)
    for record in report.pages[1].images:  # as --lang auto words them
        record.suggested_alt = next(text for word, text in german.items() if word in record.source)
    result = write_fix_patch(report, project, tmp_path / "alt.patch")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run(["git", "-C", str(project), "apply", str(tmp_path / "alt.patch")], check=True, capture_output=True)
    return result, project


VUE_YAML = {
    "components/Hero.vue": """<template>
  <img src="/hero.jpg" :alt="$t('home.hero.alt')" />
  <img src="/team.jpg" :alt="$t('home.team')" />
</template>
""",
    "locales/en.yml": """# English texts, kept by the shop's writers
home:
  title: Fresh every morning  # the page's title
  hero:
    alt: IMG_2024.jpg
  team:
""",
    "locales/de.yaml": """home:
  title: Jeden Morgen frisch
  hero:
    alt: |
      IMG_2024.jpg
  team: &same "IMG_7.jpg"
  other: *same
""",
}


def test_a_translated_alt_is_set_in_yaml_locale_files(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """vue-i18n's and Nuxt i18n's locales/<lang>.yml: the key's value is set in YAML's double quotes, whatever style
    it had (plain, a block, empty), comments and other keys kept; a value shared through an anchor is left to a
    person."""
    images = {"/hero.jpg": (401, "a loaf of bread on a wooden table"), "/team.jpg": (402, "three bakers in a kitchen")}
    body = '<img src="/hero.jpg" alt="IMG_2024.jpg"><img src="/team.jpg">'
    german = {"hero": 'Ein "Laib" Brot: frisch', "team": "Drei Bäcker"}
    result, project = bilingual_patch(fresh_server, tmp_path, VUE_YAML, images, body, german)
    read = {name: (project / name).read_text(encoding="utf-8") for name in VUE_YAML}
    assert read["locales/en.yml"] == VUE_YAML["locales/en.yml"].replace(
        "alt: IMG_2024.jpg", 'alt: "A loaf of bread on a wooden table"').replace(
        "  team:\n", '  team: "Three bakers in a kitchen"\n')  # fmt: skip
    assert read["locales/de.yaml"] == VUE_YAML["locales/de.yaml"].replace(
        "alt: |\n      IMG_2024.jpg\n", 'alt: "Ein \\"Laib\\" Brot: frisch"\n')
    assert result.tags == 3 and len(result.by_hand) == 1  # the German team text is an anchor's, shared
    assert result.by_hand[0].startswith(fresh_server.url("/de/")) and "$t('home.team')" in result.by_hand[0]
    assert read["components/Hero.vue"] == VUE_YAML["components/Hero.vue"]


def test_with_value_sets_a_yaml_string_that_yaml_reads_back() -> None:
    """Any text, set over a plain, quoted, block or empty value, reads back as itself (control characters, line
    separators and astral characters escaped as YAML needs), and nothing around it changes."""
    import yaml

    from reports.patch_locales import with_value

    rng = random.Random(26)
    alphabet = [*map(chr, range(0x20, 0x7F)), "\n", "\t", "\x00", "\x85", "\u2028", "\ufeff", "é", "😀", "'", '"']
    for case in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 20)))
        before = rng.choice(["old", "'old'", '"old"', "|\n    old\n", ">-\n    old\n", ""])
        source = f"# notes\na:\n  b: {before}\n  c: keep  # kept\n"
        after = with_value(source, ["a", "b"], text, "yaml")
        assert after is not None, case
        assert yaml.safe_load(after) == {"a": {"b": text, "c": "keep"}}, (case, text, after)
        assert after.endswith("  c: keep  # kept\n") and after.startswith("# notes\na:\n  b:")
    assert with_value("a: &x old\nb: *x\n", ["b"], "new", "yaml") is None  # shared: a person decides
    assert with_value("a: [old]\n", ["a"], "new", "yaml") is None
    assert with_value("a: :\n  - ]", ["a"], "new", "yaml") is None  # no YAML


VUE_BLOCKS = {
    "components/Hero.vue": """<template>
  <img src="/hero.jpg" :alt="$t('hero.alt')" />
  <img src="/team.jpg" :alt="t('team')" />
  <img src="/logo.png" />
</template>

<i18n>
{
  "en": { "hero": { "alt": "IMG_2024.jpg" }, "team": "" },
  "de-DE": { "hero": { "alt": "IMG_2024.jpg" } }
}
</i18n>

<i18n lang="yaml" locale="de">
team: IMG_7.jpg  # the German team photo
</i18n>
""",
    "locales/de.json": '{"team": "not this one: the component holds it"}\n',
}


def test_a_translated_alt_is_set_in_the_components_own_i18n_block(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """vue-i18n's <i18n> custom blocks hold a component's own messages, which come before the project's locale
    files: a JSON block whose top keys are the locales, and a YAML block of one locale (locale="de"); the same file's
    other tags are patched as well."""
    images = {"/hero.jpg": (401, "a loaf of bread on a wooden table"), "/team.jpg": (402, "three bakers in a kitchen"),
              "/logo.png": (403, "a red logo")}  # fmt: skip
    body = '<img src="/hero.jpg" alt="IMG_2024.jpg"><img src="/team.jpg"><img src="/logo.png">'
    german = {"hero": "Ein Laib Brot", "team": 'Drei "Bäcker"', "logo": "Ein rotes Logo"}
    result, project = bilingual_patch(fresh_server, tmp_path, VUE_BLOCKS, images, body, german)
    after = (project / "components/Hero.vue").read_text(encoding="utf-8")
    assert after == VUE_BLOCKS["components/Hero.vue"].replace(
        '<img src="/logo.png" />', '<img alt="A red logo" src="/logo.png" />').replace(
        '"en": { "hero": { "alt": "IMG_2024.jpg" }, "team": "" }',
        '"en": { "hero": { "alt": "A loaf of bread on a wooden table" }, '
        '"team": "Three bakers in a kitchen" }').replace(
        '"de-DE": { "hero": { "alt": "IMG_2024.jpg" } }', '"de-DE": { "hero": { "alt": "Ein Laib Brot" } }').replace(
        "team: IMG_7.jpg  # the German", 'team: "Drei \\"Bäcker\\""  # the German')  # fmt: skip
    assert (project / "locales/de.json").read_text() == VUE_BLOCKS["locales/de.json"]
    assert result.by_hand == [] and result.tags == 5  # the logo's tag, and four translations


def test_a_translated_alt_is_set_in_javascript_locale_modules(fresh_server: FixtureServer, tmp_path: Path) -> None:
    """Nuxt i18n's locales/<lang>.ts (defineI18nLocale) and a CommonJS module: the string at the key is set, in
    JSON's quotes, whatever quotes it had; comments, functions and templates around it stay."""
    files = {
        "components/Hero.vue": '<template><img src="/hero.jpg" :alt="$t(\'home.hero.alt\')" /></template>\n',
        "locales/en.ts": """// English
export default defineI18nLocale(async (locale) => ({
  home: {
    title: `Welcome`, // a template
    count: (n: number) => (n > 1 ? "many" : "one"),
    'hero': { alt: 'IMG_2024.jpg', }, /* the photo } of the day */
  },
}))
""",
        "locales/de.js": 'module.exports = { home: { hero: { alt: "IMG_2024.jpg" } } }\n',
    }
    images = {"/hero.jpg": (401, "a loaf of bread on a wooden table")}
    body = '<img src="/hero.jpg" alt="IMG_2024.jpg">'
    result, project = bilingual_patch(fresh_server, tmp_path, files, images, body, {"hero": "Ein 'Laib' Brot \u2028"})
    assert (project / "locales/en.ts").read_text() == files["locales/en.ts"].replace(
        "alt: 'IMG_2024.jpg'", 'alt: "A loaf of bread on a wooden table"')
    assert (project / "locales/de.js").read_text(encoding="utf-8") == files["locales/de.js"].replace(
        '"IMG_2024.jpg"', '"Ein \'Laib\' Brot \u2028"')  # JSON's string is JavaScript's (ES2019 reads U+2028)
    assert result.tags == 2 and result.by_hand == []


def test_js_value_span_reads_locale_modules_and_refuses_what_it_cannot() -> None:
    from reports.locale_js import js_value_span

    source = ('export default {\n  a: "1", // } and "\n  b: /* } */ \'2\',\n  c: `x${y}`,\n'
              '  "d.e": { f: [1, {g: "h"}] },\n}\n')
    assert source[slice(*js_value_span(source, ["b"]))] == "'2'"
    assert js_value_span(source, ["c"]) is None  # a template with ${}: not a text
    assert js_value_span(source, ["d.e", "f"]) is None and js_value_span(source, ["g"]) is None
    assert js_value_span("const x = {};\nexport default { ...x, a: 'y' }\n", ["a"]) is None  # a spread: by hand
    assert js_value_span("export default { [k]: 'y' }", ["k"]) is None
    assert js_value_span("export default { a: 'unterminated\n}", ["a"]) is None


def test_js_value_span_finds_every_string_of_generated_modules() -> None:
    """Locale modules as people write them (names or quoted keys, either quotes, escapes, comments, numbers, arrays,
    trailing commas): each string is found at its keys, and reads back as the value."""
    from reports.locale_js import _string, js_value_span

    rng = random.Random(7)
    alphabet = "ab }{,:/*'\"\\\né"

    def literal(text: str) -> str:
        quote = rng.choice("'\"")
        escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")
        return quote + escaped + quote

    def module(depth: int, path: list[str], leaves: list[tuple[list[str], str]]) -> str:
        members = []
        for n in range(rng.randrange(1, 4)):
            key = f"k{depth}{n}"
            written = rng.choice([key, f"'{key}'", f'"{key}"'])
            if depth < 3 and rng.random() < 0.4:
                value = module(depth + 1, [*path, key], leaves)
            elif rng.random() < 0.7:
                text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8)))
                leaves.append(([*path, key], text))
                value = literal(text)
            else:
                value = rng.choice(["42", "[1, 'x', {y: 2}]", "(n) => n > 1 ? 'a' : 'b'", "null"])
            comment = rng.choice(["", " // a } note\n", " /* , */"])
            members.append(f"{written}:{comment} {value}")
        trailing = rng.choice(["", ","])
        return "{\n" + ",\n".join(members) + trailing + "\n}"

    found = 0
    for _ in range(300):
        leaves: list[tuple[list[str], str]] = []
        text = "// generated\nexport default " + module(0, [], leaves) + "\n"
        for keys, value in leaves:
            span = js_value_span(text, keys)
            assert span is not None and _string(text[span[0] : span[1]]) == value, (keys, value, text)
            found += 1
    assert found > 500
