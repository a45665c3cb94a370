"""``--wp-cli``: a POSIX shell script of WP-CLI commands that sets the suggested alt texts of WordPress images.

WordPress keeps an image's alt in two places, and they never sync: the attachment's own
(``_wp_attachment_image_alt``, what the media library shows and every later insertion copies), and the copy in
each post's HTML, made when the image was inserted (``<img class="wp-image-12" alt="…">``, in a block or the
classic editor). Setting the first changes no page already published, so the script does both:

- ``wp eval-file -`` with a small PHP program (:data:`SET_ATTACHMENT_ALTS`) that sets each attachment's alt, with
  the suggestion without what one link does (:func:`reports.fixes.media_alt`): the attachment of its ID, or, for
  an image with no ID in its markup (a featured image, a WooCommerce product's, a theme's, any file of
  ``/wp-content/uploads/``), the one stored at its address (``attachment_url_to_postid``), whose alt WordPress
  draws wherever it shows it;
- for the audited pages, ``wp eval-file -`` with :data:`SET_POST_ALTS`, which finds the post at each page's address
  (``url_to_postid``), sets the alt of each of its ``<img>`` tags of class ``wp-image-ID`` to that page's text,
  and saves the post with ``wp_update_post`` (a revision keeps the old content). An ``<img>`` with no such class
  (markup pasted or imported from another system, an image inserted from its URL) is found by the path its
  ``src`` or ``srcset`` names, an upload's resized (``-1024x768``) or scaled copy too, on pages that show they
  are WordPress's (:func:`on_wordpress`). A page that is no single post or page (an archive, the blog's home) is
  said and skipped.

Before any change the script checks that ``wp`` is there and finds WordPress (``wp core is-installed``), else it
says so in one sentence. Each call loads WordPress once for up to 100 attachments or pages. Every value reaches
``wp`` as an argument quoted for the shell (:func:`shlex.quote`), and the PHP reads them from ``$args``, so no alt
text can run a command or code; each text follows ``alt=``, since WP-CLI reads any argument that starts with ``--``
as an option of its own, and ``--exec=…`` runs PHP.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from records import AuditReport, ImageRecord, PageReport
from reports.fixes import fixes, held, is_upload, media_alt, replaced_alt
from reports.patch_html import eligible
from reports.platform_scripts import write_script

# The PHP that `wp eval-file -` runs for pages: $args is, for each page, its URL, how many images, and that
# many pairs of a key and an alt text (after 'alt='). A key is an attachment ID (an <img> of class wp-image-ID),
# or an image's address: an <img> with no such class (pasted or imported markup, an image inserted from a URL)
# whose src or srcset names that path, an upload's resized or scaled copy too. WordPress loads once for them all.
SET_POST_ALTS = r"""<?php
$path_of = function ($address, $dir) {
    $path = rawurldecode((string) parse_url(trim(html_entity_decode($address, ENT_QUOTES)), PHP_URL_PATH));
    if ($path === '') {
        return '';
    }
    $path = $path[0] === '/' ? $path : $dir . $path;
    return strpos($path, '/wp-content/uploads/') === false ? $path
        : preg_replace('/(-\d+x\d+|-scaled)(?=\.[A-Za-z0-9]+$)/', '', $path);
};
while (count($args) >= 2) {
    $url = array_shift($args);
    $alts = array();
    $by_path = array();
    for ($left = (int) array_shift($args); $left > 0 && count($args) >= 2; $left--) {
        $key = array_shift($args);
        $alt = substr(array_shift($args), strlen('alt='));
        if (ctype_digit($key)) {
            $alts[(int) $key] = $alt;
        } else {
            $by_path[$path_of($key, '/')] = $alt;
        }
    }
    $post_id = url_to_postid($url);
    if (!$post_id) {
        WP_CLI::log("AltScout: $url is no single post or page (an archive shows its posts): skipped");
        continue;
    }
    $dir = preg_replace('~[^/]*$~', '', (string) parse_url($url, PHP_URL_PATH));
    $post = get_post($post_id);
    $count = 0;
    $content = preg_replace_callback('/<img\b[^>]*>/i', function ($tag) use ($alts, $by_path, $dir, $path_of, &$count) {
        $tag = $tag[0];
        $text = null;
        if (preg_match('/\bwp-image-(\d+)\b/', $tag, $id)) {
            $text = isset($alts[(int) $id[1]]) ? $alts[(int) $id[1]] : null;
        } elseif ($by_path && preg_match_all('/\ssrc(set)?\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|([^\s"\'>]+))/i', $tag,
                                             $found, PREG_SET_ORDER)) {
            foreach ($found as $attr) {
                $value = $attr[2] . ($attr[3] ?? '') . ($attr[4] ?? '');
                foreach ($attr[1] ? explode(',', $value) : array($value) as $candidate) {
                    $path = $path_of(preg_split('/\s+/', trim($candidate))[0], $dir);
                    if ($path !== '' && isset($by_path[$path])) {
                        $text = $by_path[$path];
                        break 2;
                    }
                }
            }
        }
        if ($text === null) {
            return $tag;
        }
        $value = 'alt="' . esc_attr($text) . '"';
        $count++;
        $pattern = '/(\s)alt\s*=\s*("[^"]*"|\'[^\']*\'|[^\s"\'>]+)/i';
        if (preg_match($pattern, $tag)) {
            return preg_replace_callback($pattern, function ($alt) use ($value) {
                return $alt[1] . $value;
            }, $tag, 1);
        }
        return preg_replace_callback('/^<img\b/i', function ($open) use ($value) {
            return $open[0] . ' ' . $value;
        }, $tag, 1);
    }, $post->post_content);
    if ($content === $post->post_content) {
        WP_CLI::log("AltScout: post $post_id ($url): no image to change");
        continue;
    }
    wp_update_post(wp_slash(array('ID' => $post_id, 'post_content' => $content)));
    WP_CLI::success("post $post_id ($url): alt text of $count image(s)");
}
"""


# The PHP for attachments: $args are pairs of a key and an alt. A key is an attachment ID (class wp-image-ID), or
# an image's address where its markup has none (a featured image, a WooCommerce product's, a theme's): the
# attachment WordPress stored at that address, its resized copy's (photo-1024x768.jpg) or its scaled original's
# (photo-scaled.jpg). WordPress loads once for them all.
SET_ATTACHMENT_ALTS = r"""<?php
$done = 0;
while (count($args) >= 2) {
    $key = array_shift($args);
    $alt = substr(array_shift($args), strlen('alt='));
    $id = 0;
    if (ctype_digit($key)) {
        $id = get_post_type((int) $key) === 'attachment' ? (int) $key : 0;
    } else {
        $bare = preg_replace('/-\d+x\d+(?=\.[A-Za-z0-9]+$)/', '', $key);
        foreach (array($key, $bare, preg_replace('/(\.[A-Za-z0-9]+)$/', '-scaled$1', $bare)) as $candidate) {
            $id = attachment_url_to_postid($candidate);
            if ($id) {
                break;
            }
        }
    }
    if (!$id) {
        WP_CLI::log("AltScout: $key is no attachment of this site: skipped");
        continue;
    }
    update_post_meta($id, '_wp_attachment_image_alt', wp_slash($alt));
    $done++;
}
WP_CLI::success("alt text of $done attachment(s)");
"""
# before any change, one sentence where the script cannot work: no WP-CLI, or no WordPress where it runs
_PREFLIGHT = [
    "command -v wp >/dev/null 2>&1 || { echo \"$0: WP-CLI (wp) is not installed here: see https://wp-cli.org, or run"
    " this where it manages the site\" >&2; exit 1; }",
    "wp core is-installed >/dev/null 2>&1 || { echo \"$0: wp finds no WordPress here: run this in the site's folder"
    " (where wp-config.php is), or set its path in wp-cli.yml\" >&2; exit 1; }",
]
_WORDPRESS = re.compile(r"WordPress(?![A-Za-z])", re.IGNORECASE)
_REST_SCRIPT = Path(__file__).with_name("wordpress_apply.py")
_BATCH = 100  # pages or attachments per `wp eval-file` (WordPress loads once a call; a command line stays short)


def write_wp_cli(report: AuditReport, path: str | Path) -> Path:
    """The script (see the module): each attachment's alt (the first suggestion for it), then each page's post."""
    target = Path(path)
    lines = [
        "#!/bin/sh",
        "# Alt texts from AltScout for WordPress images. Review, then run it where `wp` works:",
        "#   sh " + shlex.quote(target.name),
        "# It sets each attachment's alt (what the media library shows and later insertions copy), then the alt",
        "# each post's HTML holds (copied when the image was inserted; a revision keeps the old content).",
        "# Each alt text follows 'alt=', so that WP-CLI never reads one as an option of its own (--exec=…).",
        "set -e",
        *_PREFLIGHT,
        *_shell_function("set_post_alts", SET_POST_ALTS),
        *_shell_function("set_attachment_alts", SET_ATTACHMENT_ALTS),
    ]
    targets = wordpress_targets(report)
    attachments = {key: alt for key, (_, _, alt) in targets.attachments.items()}
    per_page = {url: {key: text for key, (_, text) in alts.items()} for url, alts in targets.posts.items()}
    for key, (page, record, _) in targets.attachments.items():
        lines.append(f"# attachment {key}: {_comment(record.url)} ({_comment(page.url)})" if isinstance(key, int)
                     else f"# attachment at {_comment(record.url)} ({_comment(page.url)})")  # fmt: skip
    lines += _calls("set_attachment_alts", "each attachment's alt: by its ID, or by its address where its markup has "
                    "none (featured, product, theme images)",
                    [f"{_argument(key)} {_argument('alt=' + alt)}" for key, alt in attachments.items()])  # fmt: skip
    pages = [f"{_argument(url)} {len(alts)} " + " ".join(f"{_argument(key)} {_argument('alt=' + text)}"
                                                      for key, text in alts.items())
             for url, alts in per_page.items()]  # fmt: skip
    lines += _calls("set_post_alts", "the alt each post's HTML holds, page by page", pages)
    lines += held_notes(report, targets)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


@dataclass
class WordPressTargets:
    """What a WordPress export sets: each attachment's alt (by its ID, or an upload's address where its markup has
    none; the first suggestion for it, :func:`media_alt`), and each page's post's image alts (by the same keys, in
    that page's words)."""

    attachments: dict[int | str, tuple[PageReport, ImageRecord, str]] = field(default_factory=dict)
    posts: dict[str, dict[int | str, tuple[ImageRecord, str]]] = field(default_factory=lambda: defaultdict(dict))


def wordpress_targets(report: AuditReport) -> WordPressTargets:
    """The attachments and posts a WordPress export sets (see :class:`WordPressTargets`)."""
    targets = WordPressTargets()
    for page, record, text in fixes(report):
        attachment = record.wp_attachment_id
        key: int | str = attachment if attachment is not None else _address(record.url)
        if in_post(page, record):
            targets.posts[page.final_url or page.url].setdefault(key, (record, text))
        if (attachment is not None or (is_upload(record.url) and text)) and key not in targets.attachments:
            targets.attachments[key] = (page, record, media_alt(page, record, text))
    return targets


def held_notes(report: AuditReport, targets: WordPressTargets) -> list[str]:
    """A comment line for each WordPress image whose suggestion is held for review (a review that accepts it adds
    it), as the fix patch lists them."""
    listed: set[int | str] = set(targets.attachments)
    lines = []
    for page, record in held(report):
        key = record.wp_attachment_id if record.wp_attachment_id is not None else record.url
        if key not in listed and (in_post(page, record) or is_upload(record.url)):
            listed.add(key)
            which = f"attachment {record.wp_attachment_id}, " if record.wp_attachment_id is not None else ""
            replaced = replaced_alt(_comment(record.alt or ""))
            lines.append(f"# held for review (accept it with --decisions): {which}"
                         f"{_comment(page.url)}: {_comment(record.url)} would replace {replaced} "
                         f"with {_comment(record.suggested_alt or '')!r}")  # fmt: skip
    return lines


def in_post(page: PageReport, record: ImageRecord) -> bool:
    """Whether the script looks for an image in the post at its page's address: by its ``wp-image-ID``, or, on a page
    that shows it is WordPress's, by its address (an ``<img>`` on the web, not inlined as a ``data:`` URL)."""
    if record.wp_attachment_id is not None:
        return True
    return eligible(record) and urlsplit(record.url).scheme in ("http", "https") and on_wordpress(page)


def on_wordpress(page: PageReport) -> bool:
    """Whether a page shows it is WordPress's: its ``<meta name="generator">``, or an image of its media library,
    theme or plugins (``/wp-content/``), or of class ``wp-image-ID``."""
    return bool(_WORDPRESS.match(page.generator or "")) or any(
        record.wp_attachment_id is not None or "/wp-content/" in urlsplit(record.url).path for record in page.images
    )


def _address(url: str) -> str:
    """An image's address as the script names it: without its query and fragment (the PHP compares paths)."""
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))


def _argument(value: int | str) -> str:
    """A value as one shell word. No argument starts with ``--`` (WP-CLI would read it as an option: ``--exec=`` runs
    PHP): keys are IDs and addresses, pages' addresses, counts, and each text follows ``alt=``."""
    word = str(value)
    if word.startswith("-"):
        raise ValueError(f"an argument of wp would be read as an option: {word!r}")
    return shlex.quote(word)


def _calls(function: str, what: str, arguments: list[str]) -> list[str]:
    """Calls of a shell function, ``_BATCH`` argument groups each (WordPress loads once a call), one a line."""
    lines: list[str] = []
    for start in range(0, len(arguments), _BATCH):
        lines += [f"# {what}", f"{function} \\"]
        lines += [f"  {group} \\" for group in arguments[start : start + _BATCH]]
        lines[-1] = lines[-1].removesuffix(" \\")
    return lines


def _shell_function(name: str, php: str) -> list[str]:
    """A shell function that runs ``php`` with its arguments (``wp eval-file -``; the here-document is quoted)."""
    return [f"{name}() {{", "  wp eval-file - \"$@\" <<'PHP'", php.rstrip("\n"), "PHP", "}"]


def _comment(text: str) -> str:
    """Text safe on a comment line (no line breaks)."""
    return " ".join(text.split())


def write_wp_rest(report: AuditReport, path: str | Path) -> Path:
    """``--wp-rest``: the Python script (:mod:`reports.wordpress_apply`) that sets what the WP-CLI script sets, through
    the REST API with an application password, for a site with no shell: the same attachments and posts
    (:func:`wordpress_targets`), the held suggestions listed at its top."""
    targets = wordpress_targets(report)
    images = [{"key": str(key), "url": record.url, "was": record.alt, "alt": alt}
              for key, (_, record, alt) in targets.attachments.items()]  # fmt: skip
    posts = [{"url": url, "images": [{"key": str(key), "url": record.url, "was": record.alt, "alt": text}
                                     for key, (record, text) in alts.items()]}
             for url, alts in targets.posts.items()]  # fmt: skip
    first = next((page.final_url or page.url for page in report.pages if on_wordpress(page)), None)
    site = urlunsplit(urlsplit(first)._replace(path="/", query="", fragment="")) if first else ""
    return write_script(Path(path), _REST_SCRIPT, images, held_notes(report, targets), POSTS=posts, SITE=site)
