"""``--fix-patch`` for sites built from Markdown: the file that builds a page, found by its path or front matter,
gets each image's label set, so that the page the generator builds from it has the suggested alt texts; nothing
else in the file changes. The tests build pages from the Markdown with markdown-it-py, as a generator would."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import CaptionsByWidth, FixtureServer, make_image
from markdown_it import MarkdownIt
from test_cli import run_cli, tiny_cli_args

from options import AuditOptions
from pipeline import run_audit
from records import ImageRecord
from reports.patch import write_fix_patch
from reports.patch_hugo import patched_figures
from reports.patch_markdown import MarkdownPages, front_matter, markdown_text, patched_markdown

GENERATOR = MarkdownIt("commonmark").enable("table")


def build(markdown: str, theme: str = "") -> str:
    """The page a generator builds from a Markdown file: its front matter dropped, Hugo's figure shortcodes
    expanded, the rest rendered, inside the theme's markup."""
    _, skipped = front_matter(markdown)
    body = FIGURE.sub(figure, "".join(markdown.splitlines(keepends=True)[skipped:]))
    return f"<html><body>{theme}{GENERATOR.render(body)}</body></html>"


FIGURE = re.compile(r"\{\{< figure (?P<params>.*?) >\}\}")


def figure(call: re.Match[str]) -> str:
    """What Hugo's figure shortcode builds: the alt parameter, else the caption, as the img's alt."""
    params = {name: value.replace('\\"', '"') or raw for name, value, raw in
              re.findall(r'(\w+)=(?:"((?:\\.|[^"\\])*)"|`([^`]*)`)', call.group("params"))}  # fmt: skip
    alt = params.get("alt", params.get("caption"))
    alt_attr = "" if alt is None else f' alt="{html.escape(alt)}"'
    return f'<figure><img src="{html.escape(params["src"])}"{alt_attr}></figure>'


def alts(page: str) -> list[tuple[str, str | None]]:
    return [(str(img.get("src")), img.get("alt")) for img in BeautifulSoup(page, "lxml").find_all("img")]  # type: ignore[misc]


def record(url: str) -> ImageRecord:
    return ImageRecord(source=url, found_in=["img"])


DOCUMENT = """---
title: Shoes
description: "not an image: ![old](/img/shoe.jpg)"
---
# Our *shoes*

Intro ![IMG_1234.jpg](/img/shoe.jpg "The derby") and `![code](/img/shoe.jpg)` in a code span.

```html
![fenced](/img/shoe.jpg)
<img src="/img/vase.jpg">
```

> A quote ![image](../img/vase.jpg)

- a list item ![vase][]
- [![](/img/shoe.jpg)](/cart/)

| photo | name |
|---|---|
| ![photo][derby] | The derby |

<div class="gallery">
<img src="/img/vase.jpg" class="big">
</div>

![kept](/img/other.jpg)

[vase]: /img/vase.jpg
[derby]: </img/shoe.jpg> 'Derby'
"""
WANTED = {"http://h/img/shoe.jpg": "A *brown* derby_shoe [leather] & <laces>", "http://h/img/vase.jpg": "A blue vase"}


def test_every_image_of_the_markdown_and_nothing_else() -> None:
    records = {url: (record(url), text) for url, text in WANTED.items()}
    changed, done = patched_markdown(DOCUMENT, "http://h/shop/", "http://h/", records)
    assert done == {"http://h/img/shoe.jpg": 3, "http://h/img/vase.jpg": 3}  # the gallery's <img> is the third vase
    before, after = alts(build(DOCUMENT)), alts(build(changed))
    assert [src for src, _ in before] == [src for src, _ in after]  # the same images, in the same places
    for (src, old), (_, new) in zip(before, after, strict=True):
        wanted = WANTED.get("http://h" + src.replace("..", ""))
        assert new == (wanted if wanted and "fenced" not in str(old) else old), (src, old, new)
    assert "Intro ![A \\*brown\\* derby\\_shoe \\[leather\\] &amp; &lt;laces>](/img/shoe.jpg \"The derby\")" in changed
    assert "- a list item ![A blue vase][vase]" in changed  # the old label stays the reference
    assert "| ![A \\*brown" in changed and "][derby] | The derby |" in changed
    assert changed.startswith(DOCUMENT.split("# Our")[0])  # the front matter, the code span and the fence as they were
    assert "`![code](/img/shoe.jpg)`" in changed
    assert "```html\n![fenced](/img/shoe.jpg)\n<img src=\"/img/vase.jpg\">" in changed
    assert '<img alt="A blue vase" src="/img/vase.jpg" class="big">' in changed and "![kept](/img/other.jpg)" in changed


def test_a_relative_image_is_read_from_the_page_or_from_the_file_folder() -> None:
    """Jekyll and Hugo leave a relative link as written (it resolves against the page); MkDocs rewrites it from
    the file's folder to the page. Either way the image is found."""
    records = {"http://h/img/a.png": (record("http://h/img/a.png"), "A chart")}
    mkdocs = patched_markdown("See ![](img/a.png)\n", "http://h/guide/setup/", "http://h/", records)
    bundle = patched_markdown("See ![](a.png)\n", "http://h/img/", "http://h/posts/", records)
    assert mkdocs == ("See ![A chart](img/a.png)\n", {"http://h/img/a.png": 1})
    assert bundle == ("See ![A chart](a.png)\n", {"http://h/img/a.png": 1})


def test_a_copy_hugo_made_of_the_image_is_the_image() -> None:
    """A render hook that resizes page resources shows cake_hu…_800x0_resize_q75_box.jpg for ![](cake.jpg): the one
    copy beside the image, named after it, stands for it; two such copies are too many to choose from."""
    resized = "http://h/posts/hello/cake_hu3d03a01dcc18bc5be0e67db3d8d209a6_12345_800x0_resize_q75_box.jpg"
    newer = "http://h/img/shop_hu_7c1e2f0a9b.webp"
    fingerprinted = "http://h/img/logo.3ef0e068ae956523362daaab41a5c194.png"
    records = {url: (record(url), text) for url, text in ((resized, "A cake"), (newer, "A shop"),
                                                          (fingerprinted, "Logo"))}  # fmt: skip
    text = ("![](cake.jpg)\n\n![](/img/shop.jpg)\n\n![](/img/cake.jpg)\n\n{{< figure src=\"cake.jpg\" >}}\n\n"
            "![](/img/logo.png)\n")  # fmt: skip
    changed, done = patched_markdown(text, "http://h/posts/hello/", "http://h/posts/hello/", records)
    assert changed == ('![A cake](cake.jpg)\n\n![A shop](/img/shop.jpg)\n\n![](/img/cake.jpg)\n\n'
                       '{{< figure alt="A cake" src="cake.jpg" >}}\n\n![Logo](/img/logo.png)\n')  # fmt: skip
    assert done == {resized: 2, newer: 1, fingerprinted: 1}
    other = resized.replace("800x0", "400x0")
    records[other] = (record(other), "A cake")
    assert patched_markdown("![](cake.jpg)\n", "http://h/posts/hello/", "http://h/", records)[1] == {}


def test_text_reads_as_written_once_rendered() -> None:
    text = "Joe's *best* [bakery] & café <3 under_score `tick` back\\slash"
    rendered = alts(build(f"![{markdown_text(text)}](/a.jpg)\n\n![{markdown_text(text, ascii_only=True)}](/a.jpg)"))
    assert rendered == [("/a.jpg", text), ("/a.jpg", text)]
    assert markdown_text("café", ascii_only=True) == "caf&#233;"


def test_which_markdown_file_builds_a_page(tmp_path: Path) -> None:
    content = tmp_path / "content"
    files = {
        "_index.md": "# Home",
        "about.md": "---\ntitle: About\nurl: /about-us/\n---\n",
        "posts/_index.md": "\ufeff+++\ntitle = 'Posts'\nurl = '/all-posts/'\n+++\n",  # with a byte-order mark
        "posts/hello/index.md": "# Hello",
        "posts/second.md": "---\nslug: the-second-post\n---\n",
        "guide/README.md": "# Guide",
        "guide/Setup.markdown": "# Setup",
        "_posts/2024-05-01-opening.md": "---\nlayout: post\n---\n",
        "news/_posts/2024-06-02-summer.md": "---\ncategories: [Offers, bread]\n---\n",
        "templated.md": "---\npermalink: /:title/\n---\n",
        ".drafts/secret.md": "# Draft",
        "node_modules/pkg/readme.md": "# Package",
    }
    for name, text in files.items():
        (content / name).parent.mkdir(parents=True, exist_ok=True)
        (content / name).write_text(text, encoding="utf-8")
    (tmp_path / "outside.md").write_text("# Outside")
    (content / "linked.md").symlink_to(tmp_path / "outside.md")
    pages = MarkdownPages(content)
    found = {url: pages.find("http://h" + url) for url in (
        "/", "/about-us/", "/about/", "/posts/", "/all-posts/", "/posts/hello/", "/posts/the-second-post/",
        "/posts/second/", "/guide/", "/guide/setup/", "/2024/05/01/opening.html", "/_posts/2024-05-01-opening/",
        "/news/offers/bread/2024/06/02/summer.html", "/templated/", "/.drafts/secret/", "/node_modules/pkg/",
        "/linked/", "/missing/")}  # fmt: skip
    root = content.resolve()
    assert {url: path.relative_to(root).as_posix() if path else None for url, path in found.items()} == {
        "/": "_index.md",
        "/about-us/": "about.md",
        "/about/": None,  # its front matter names another address
        "/posts/": None,  # its front matter names another address
        "/all-posts/": "posts/_index.md",
        "/posts/hello/": "posts/hello/index.md",
        "/posts/the-second-post/": "posts/second.md",
        "/posts/second/": None,
        "/guide/": "guide/README.md",
        "/guide/setup/": "guide/Setup.markdown",
        "/2024/05/01/opening.html": "_posts/2024-05-01-opening.md",
        "/_posts/2024-05-01-opening/": "_posts/2024-05-01-opening.md",
        "/news/offers/bread/2024/06/02/summer.html": "news/_posts/2024-06-02-summer.md",  # its categories
        "/templated/": "templated.md",  # a permalink with placeholders names no one page: its path does
        "/.drafts/secret/": None,
        "/node_modules/pkg/": None,
        "/linked/": None,  # a symbolic link out of the folder is not followed
        "/missing/": None,
    }
    assert pages.folder_url(root / "posts/hello/index.md", "http://h/posts/hello/") == "http://h/posts/hello/"
    project = MarkdownPages(tmp_path)  # the project given, not its content folder: the content folder's routes
    assert project.find("http://h/posts/hello/") == root / "posts/hello/index.md"
    assert project.find("http://h/content/posts/hello/") == root / "posts/hello/index.md"
    assert project.folder_url(root / "posts/hello/index.md", "http://h/posts/hello/") == "http://h/posts/hello/"
    astro = tmp_path / "astro" / "src" / "content" / "blog"
    astro.mkdir(parents=True)
    (astro / "first-post.md").write_text("# First")
    assert MarkdownPages(tmp_path / "astro").find("http://h/blog/first-post/") == astro.resolve() / "first-post.md"
    assert MarkdownPages(tmp_path / "astro").folder_url(astro.resolve() / "first-post.md", "http://h/") == "http://h/blog/"
    assert pages.folder_url(root / "_index.md", "http://h/") == "http://h/"


def test_languages_and_a_site_under_a_path(tmp_path: Path) -> None:
    """Hugo's translations by file name (about.fr.md at /fr/about/; about.en.md at /about/ where no about.md is),
    and a site the generator's configuration puts under a path (Jekyll's baseurl, Hugo's baseURL)."""
    hugo = tmp_path / "hugo"
    for name in ("content/about.md", "content/about.fr.md", "content/contact.en.md", "content/_index.fr.md",
                 "content/jquery.ui.md"):  # fmt: skip
        (hugo / name).parent.mkdir(parents=True, exist_ok=True)
        (hugo / name).write_text("# Page")
    (hugo / "hugo.toml").write_text("baseURL = 'https://example.com/shop/'\n")
    pages, content = MarkdownPages(hugo / "content"), (hugo / "content").resolve()
    assert pages.base == "/shop"
    found = {url: pages.find("https://example.com" + url) for url in
             ("/shop/about/", "/shop/fr/about/", "/shop/contact/", "/shop/en/contact/", "/shop/fr/", "/shop/jquery.ui")}
    assert {url: path.name if path else None for url, path in found.items()} == {
        "/shop/about/": "about.md", "/shop/fr/about/": "about.fr.md", "/shop/contact/": "contact.en.md",
        "/shop/en/contact/": "contact.en.md", "/shop/fr/": "_index.fr.md",
        "/shop/jquery.ui": "jquery.ui.md"}  # fmt: skip
    assert pages.folder_url(content / "about.md", "https://example.com/shop/about/") == "https://example.com/shop/"
    jekyll = tmp_path / "jekyll"
    jekyll.mkdir()
    (jekyll / "_config.yml").write_text("title: Blog\nbaseurl: /blog\n")
    (jekyll / "about.md").write_text("# About")
    assert MarkdownPages(jekyll).find("https://example.com/blog/about.html") == jekyll.resolve() / "about.md"
    (tmp_path / "mkdocs").mkdir()
    (tmp_path / "mkdocs" / "mkdocs.yml").write_text("site_name: x\nsite_url: !!python/name:os.getcwd\n")
    assert MarkdownPages(tmp_path / "mkdocs").base == ""  # a configuration this does not read is none


HUGO = {
    "_index.md": "---\ntitle: Home\n---\n# Welcome\n\n[![](/img/shop.jpg)](/shop/)\n\n![photo.jpg](/img/team.jpg)\n",
    "about.md": "---\ntitle: About\nurl: /about-us/\n---\nWe bake.\n\n![bread](bread.jpg)\n\n"
    "![A loaf on a board](/img/kept.jpg)\n",
    "posts/hello/index.md": "+++\ntitle = 'Hello'\n+++\nOpening day!\n\n![image](cake.jpg \"Cake\")\n"
    '{{< figure src="/img/fig.jpg" >}}\n',
}
ROUTES = {"_index.md": "/", "about.md": "/about-us/", "posts/hello/index.md": "/posts/hello/"}
PICTURES = {"/img/shop.jpg": 601, "/img/team.jpg": 602, "/about-us/bread.jpg": 603, "/img/kept.jpg": 604,
            "/posts/hello/cake.jpg": 605, "/img/fig.jpg": 606, "/img/theme.png": 607}  # fmt: skip
CAPTIONS = {601: "a shop window", 602: "three bakers smiling", 603: "a loaf of bread", 604: "a loaf on a board",
            605: "a chocolate cake", 606: "a bakery's \"open\" sign", 607: "a bakery logo"}  # fmt: skip


def serve_hugo(server: FixtureServer, content: Path) -> list[str]:
    for name, path in ROUTES.items():
        server.add(path, build((content / name).read_text(encoding="utf-8"), theme='<img src="/img/theme.png">'))
    for path, width in PICTURES.items():
        server.add(path, make_image(width, 300, "JPEG", seed=width), content_type="image/jpeg")
    return [server.url(path) for path in ROUTES.values()]


def test_a_site_built_from_markdown_gets_a_patch_of_its_markdown(fresh_server: FixtureServer, tmp_path: Path) -> None:
    content = tmp_path / "site" / "content"
    for name, text in HUGO.items():
        (content / name).parent.mkdir(parents=True, exist_ok=True)
        (content / name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(tmp_path / "site")], check=True)
    options = AuditOptions(render="never", allow_private=True, ocr="off")
    report = run_audit(serve_hugo(fresh_server, content), options, CaptionsByWidth(CAPTIONS))
    result = write_fix_patch(report, content, tmp_path / "alt.patch")
    assert (result.files, result.tags) == (3, 5)
    with pytest.MonkeyPatch.context() as patch:  # a file this user may not read: the others are still patched
        read_bytes = Path.read_bytes

        def refuse(path: Path) -> bytes:
            if path.name == "about.md":
                raise PermissionError(13, "Permission denied")
            return read_bytes(path)

        patch.setattr(Path, "read_bytes", refuse)
        unread = write_fix_patch(report, content, tmp_path / "unread.patch")
    assert "about.md cannot be read (Permission denied)" in "\n".join(unread.by_hand) and unread.files == 2
    assert [line.split(": ", 1)[1] for line in result.by_hand] == [
        "no image of the Markdown names it (a shortcode's or a template's, CSS, or built by JavaScript)"
    ] * 3 and all("theme.png" in line for line in result.by_hand)  # the theme's logo, on each page
    patch = (tmp_path / "alt.patch").read_text(encoding="utf-8")
    assert "diff --git a/content/posts/hello/index.md b/content/posts/hello/index.md" in patch
    subprocess.run(["git", "-C", str(content), "apply", str(tmp_path / "alt.patch")], check=True, capture_output=True)
    home = (content / "_index.md").read_text(encoding="utf-8")
    assert "[![A shop window (link to the shop page)](/img/shop.jpg)](/shop/)" in home
    assert "![Three bakers smiling](/img/team.jpg)" in home
    about = (content / "about.md").read_text(encoding="utf-8")
    assert "![A loaf of bread](bread.jpg)\n\n![A loaf on a board](/img/kept.jpg)" in about
    post = (content / "posts/hello/index.md").read_text(encoding="utf-8")
    assert '![A chocolate cake](cake.jpg "Cake")' in post
    assert '{{< figure alt="A bakery\'s \\"open\\" sign" src="/img/fig.jpg" >}}' in post
    fresh_server.routes.clear()
    again = run_audit(serve_hugo(fresh_server, content), options, CaptionsByWidth(CAPTIONS))
    fixed = {"shop.jpg", "team.jpg", "bread.jpg", "cake.jpg", "fig.jpg"}
    for page in again.pages:
        for image in page.images:
            if image.source.rsplit("/", 1)[-1] in fixed:
                assert not {"missing_alt", "filename_alt", "placeholder_alt", "linked_image_no_text"} & set(
                    image.alt_issues
                ), (image.source, image.alt, image.alt_issues)


def test_hugos_shortcodes_get_their_alt_parameter() -> None:
    texts = {"http://h/img/a.jpg": 'A "quoted" sign', "http://h/post/b.jpg": "A cake", "http://h/img/c.jpg": "A shop"}
    records = {url: (record(url), text) for url, text in texts.items()}
    text = """{{< figure src="/img/a.jpg" caption="Our sign" >}}
{{% figure src=b.jpg alt=`old` %}}
{{< figure alt="IMG_1.jpg" src="/img/c.jpg" >}}
How to write one: {{</* figure src="/img/a.jpg" */>}}
{{< figure src="/img/other.jpg" >}}
{{< theme/img class="wide" image="/img/c.jpg" alt="" >}}
{{< gallery src="/img/a.jpg" >}}
"""
    changed, done = patched_figures(text, ("http://h/post/", "http://h/"), records)
    assert done == {"http://h/img/a.jpg": 1, "http://h/post/b.jpg": 1, "http://h/img/c.jpg": 2}
    assert changed.splitlines() == [
        '{{< figure alt="A \\"quoted\\" sign" src="/img/a.jpg" caption="Our sign" >}}',
        "{{% figure src=b.jpg alt=`A cake` %}}",
        '{{< figure alt="A shop" src="/img/c.jpg" >}}',
        'How to write one: {{</* figure src="/img/a.jpg" */>}}',
        '{{< figure src="/img/other.jpg" >}}',
        '{{< theme/img class="wide" image="/img/c.jpg" alt="A shop" >}}',  # a theme's shortcode with an alt
        '{{< gallery src="/img/a.jpg" >}}',  # none: what it does with another parameter is its own
    ]
    built = FIGURE.sub(figure, changed.splitlines()[0])  # as Hugo reads it: the text, quotes and all
    assert built == '<figure><img src="/img/a.jpg" alt="A &quot;quoted&quot; sign"></figure>'


def test_a_liquid_include_gets_its_alt_parameter() -> None:
    """Jekyll's and Eleventy's includes hand the alt to a template: set where the include names the image and has
    an alt parameter, in quotes the text does not hold (Liquid strings have no escapes)."""
    texts = {"http://h/img/a.jpg": "A bakery's sign", "http://h/post/b.jpg": 'A "cake"', "http://h/img/c.jpg": "A shop",
             "http://h/img/d.jpg": "It's \"both\""}  # fmt: skip
    records = {url: (record(url), text) for url, text in texts.items()}
    text = """{% include image.html src="/img/a.jpg" alt="IMG_1.jpg" caption="Our sign" %}
{%- render 'image', image: 'b.jpg', alt: '' -%}
{% include figure.html url="/img/c.jpg" %}
{% include image.html src=page.hero alt="old" %}
{% include image.html src="{{ site.baseurl }}/img/a.jpg" alt="old" %}
{% include image.html src="/img/c.jpg" alt=page.title %}
{% include image.html src="/img/d.jpg" alt="old" %}
{% raw %}{% include image.html src="/img/a.jpg" alt="shown in the docs" %}{% endraw %}
"""
    changed, done = patched_markdown(text, "http://h/post/", "http://h/post/", records)
    assert done == {"http://h/img/a.jpg": 1, "http://h/post/b.jpg": 1}
    assert changed.splitlines() == [
        """{% include image.html src="/img/a.jpg" alt="A bakery's sign" caption="Our sign" %}""",
        """{%- render 'image', image: 'b.jpg', alt: 'A "cake"' -%}""",
        '{% include figure.html url="/img/c.jpg" %}',  # no alt parameter: its template's own
        '{% include image.html src=page.hero alt="old" %}',  # a variable
        '{% include image.html src="{{ site.baseurl }}/img/a.jpg" alt="old" %}',  # an expression
        "{% include image.html src=\"/img/c.jpg\" alt=page.title %}",  # the alt is a variable
        '{% include image.html src="/img/d.jpg" alt="old" %}',  # both quotes: no Liquid string holds it
        '{% raw %}{% include image.html src="/img/a.jpg" alt="shown in the docs" %}{% endraw %}',
    ]


def test_a_patch_of_a_generators_built_html_says_it_will_not_last(
    fresh_server: FixtureServer, tiny_blip_dir: Path, tmp_path: Path
) -> None:
    """Given Hugo's output folder (public/), the patch edits HTML the next build replaces: the CLI says so, even
    with --quiet, and the patch's header too. Given the project, it patches the Markdown and says nothing."""
    project = tmp_path / "bakery"
    (project / "content").mkdir(parents=True)
    (project / "public").mkdir()
    markdown = "---\ntitle: Home\n---\n![IMG_0042.jpg](/img/shop.jpg)\n"
    (project / "content" / "_index.md").write_text(markdown, encoding="utf-8")
    page = build(markdown).replace("<html>", '<html><head><meta name="generator" content="Hugo 0.121.0"></head>')
    (project / "public" / "index.html").write_text(page, encoding="utf-8")
    fresh_server.add("/", page)
    fresh_server.add("/img/shop.jpg", make_image(401, 300, "JPEG", seed=4), content_type="image/jpeg")
    args = [fresh_server.url("/"), *tiny_cli_args(tiny_blip_dir), "--fix-patch", str(tmp_path / "alt.patch")]
    built = run_cli(*args, "--source-dir", str(project / "public"), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    note = ("altscout: --fix-patch: the patched pages say they are built by Hugo 0.121.0 (<meta name=\"generator\">): "
            "the patch edits built HTML, which the next build replaces; give --source-dir the project, and AltScout "
            "patches its Markdown or components")  # fmt: skip
    assert built.stderr.strip() == note
    assert (tmp_path / "alt.patch").read_text(encoding="utf-8").splitlines()[1] == "# note: " + note.split(": ", 2)[2]
    source = run_cli(*args, "--source-dir", str(project), "--json", str(tmp_path / "r.json"), cwd=tmp_path)
    assert source.returncode == 0 and source.stderr == "", source.stderr
    assert "+++ b/content/_index.md" in (tmp_path / "alt.patch").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "r.json").read_text())["pages"][0]["generator"] == "Hugo 0.121.0"
    (tmp_path / "elsewhere").mkdir()  # a folder with neither the built HTML nor the Markdown: what to give instead
    elsewhere = run_cli(*args, "--source-dir", str(tmp_path / "elsewhere"), cwd=tmp_path)
    assert elsewhere.returncode == 0 and elsewhere.stderr.strip() == (
        "altscout: --fix-patch: the audited pages say they are built by Hugo 0.121.0 (<meta name=\"generator\">), "
        "and no file in --source-dir serves or builds them; give --source-dir the project, whose Markdown or "
        "components AltScout patches"
    )
