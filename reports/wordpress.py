"""``--wp-cli``: a POSIX shell script of WP-CLI commands that sets the suggested alt texts of WordPress images.

WordPress keeps an image's alt in two places, and they never sync: the attachment's own
(``_wp_attachment_image_alt``, what the media library shows and every later insertion copies), and the copy in
each post's HTML, made when the image was inserted (``<img class="wp-image-12" alt="…">``, in a block or the
classic editor). Setting the first changes no page already published, so the script does both:

- ``wp post meta update ID _wp_attachment_image_alt '…'`` per attachment, with the suggestion without what one
  link does (:func:`reports.fixes.media_alt`);
- per audited page, ``wp eval-file -`` with a small PHP program (:data:`SET_POST_ALTS`) that finds the post at
  the page's address (``url_to_postid``), sets the alt of each of its ``<img>`` tags of class ``wp-image-ID``
  to that page's text, and saves the post with ``wp_update_post`` (a revision keeps the old content). A page
  that is no single post or page (an archive, the blog's home) is said and skipped.

Every value reaches ``wp`` as an argument quoted for the shell (:func:`shlex.quote`), and the PHP reads them from
``$args``, so no alt text can run a command or code.
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from pathlib import Path

from records import AuditReport
from reports.fixes import fixes, held, media_alt, replaced_alt

# The PHP that `wp eval-file -` runs for one page: $args is the page's URL, then attachment IDs and alt texts.
SET_POST_ALTS = r"""<?php
$url = array_shift($args);
$alts = array();
while (count($args) >= 2) {
    $id = (int) array_shift($args);
    $alts[$id] = array_shift($args);
}
$post_id = url_to_postid($url);
if (!$post_id) {
    WP_CLI::log("AltScout: $url is no single post or page (an archive shows its posts): skipped");
    return;
}
$post = get_post($post_id);
$count = 0;
$content = preg_replace_callback('/<img\b[^>]*>/i', function ($tag) use ($alts, &$count) {
    $tag = $tag[0];
    if (!preg_match('/\bwp-image-(\d+)\b/', $tag, $id) || !isset($alts[(int) $id[1]])) {
        return $tag;
    }
    $value = 'alt="' . esc_attr($alts[(int) $id[1]]) . '"';
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
    return;
}
wp_update_post(wp_slash(array('ID' => $post_id, 'post_content' => $content)));
WP_CLI::success("post $post_id ($url): alt text of $count image(s)");
"""


def write_wp_cli(report: AuditReport, path: str | Path) -> Path:
    """The script (see the module): each attachment's alt (the first suggestion for it), then each page's post."""
    target = Path(path)
    lines = [
        "#!/bin/sh",
        "# Alt texts from AltScout for WordPress images. Review, then run it where `wp` works:",
        "#   sh " + shlex.quote(target.name),
        "# It sets each attachment's alt (what the media library shows and later insertions copy), then the alt",
        "# each post's HTML holds (copied when the image was inserted; a revision keeps the old content).",
        "set -e",
        "set_post_alts() {",
        "  wp eval-file - \"$@\" <<'PHP'",
        SET_POST_ALTS.rstrip("\n"),
        "PHP",
        "}",
    ]
    done: set[int] = set()
    per_page: dict[str, dict[int, str]] = defaultdict(dict)
    for page, record, text in fixes(report):
        attachment = record.wp_attachment_id
        if attachment is None:
            continue
        per_page[page.final_url or page.url].setdefault(attachment, text)
        if attachment in done:
            continue
        done.add(attachment)
        lines.append(f"# {_comment(page.url)}: {_comment(record.url)}")
        alt = shlex.quote(media_alt(page, record, text))
        lines.append(f"wp post meta update {attachment} _wp_attachment_image_alt {alt}")
    for page_url, alts in per_page.items():
        pairs = " ".join(f"{attachment} {shlex.quote(text)}" for attachment, text in alts.items())
        lines.append(f"set_post_alts {shlex.quote(page_url)} {pairs}")
    for page, record in held(report):  # listed, as the fix patch lists them: a review that accepts them adds them
        if record.wp_attachment_id is not None and record.wp_attachment_id not in done:
            done.add(record.wp_attachment_id)
            replaced = replaced_alt(_comment(record.alt or ""))
            lines.append(f"# held for review (accept it with --decisions): attachment {record.wp_attachment_id}, "
                         f"{_comment(page.url)}: {_comment(record.url)} would replace {replaced} "
                         f"with {_comment(record.suggested_alt or '')!r}")  # fmt: skip
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _comment(text: str) -> str:
    """Text safe on a comment line (no line breaks)."""
    return " ".join(text.split())
