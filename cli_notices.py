"""The CLI's lines about a finished or stopped run: the review a ``--decisions`` file made, the
suggestions held for one, a platform's export that holds nothing for the site, the ``--fail-on``
gate's why and the first images that fail it, why a crawl audited nothing, and what Ctrl-C kept.
Each is one line on stderr; the ones that explain an exit code or a decision that did nothing are
said even with ``--quiet``. In a GitHub Actions job the failing images are annotations too
(``::error``), and the counts go to the job's summary page (``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from auditing import ISSUES, at_least
from auditing.compare import NEW, new_findings, page_key
from auditing.registry import severity_at_least
from captioning.cache import cli_cache_folder
from records import AuditReport
from reports.decisions import DECISIONS, Decision, apply_decisions
from reports.fixes import fixes, held
from reports.formats import FORMATS, STDOUT, shown


def apply_review(report: AuditReport, decisions: dict[str, Decision], args: argparse.Namespace) -> None:
    """--decisions: the review applied; one line says what it did, and (even with --quiet) what it could not use."""
    used = apply_decisions(report, decisions)
    unused = [url for url in decisions if url not in used]
    counts = Counter(used.values())
    done = ", ".join(f"{counts[word]} {word}" for word in DECISIONS.values() if counts[word])
    if not decisions:
        line = f"altscout: the review {args.decisions} decides nothing: fill its decision column (accept, edit, reject)"
    else:
        line = f"altscout: review {args.decisions}: {len(used)} suggestion(s) decided ({done or 'none'})"
    if unused:
        line += f"; {len(unused)} decision(s) name no image with a suggestion in this audit, e.g. {unused[0]}"
    if unused or not decisions or not args.quiet:
        print(line, file=sys.stderr)


def export_notices(report: AuditReport, args: argparse.Namespace, written: list[Path]) -> None:
    """What the CLI says of the exports that apply the suggestions: the held ones, those that set nothing, and
    what to do next with each."""
    held_notice(report, args)
    blank_exports(report, args)
    next_steps(report, args, written)


def held_notice(report: AuditReport, args: argparse.Namespace) -> None:
    """--shopify-csv, --wp-cli, --webflow: how many suggestions wait for a review because they replace a person's
    alt."""
    if args.fix_patch or not any(getattr(args, fmt.name, None) for fmt in FORMATS.values() if fmt.applies):
        return  # the fix patch's line already counts them (the same held suggestions), or nothing is exported
    waiting = sum(1 for _ in held(report))
    if waiting and not args.quiet:
        print(f"altscout: {waiting} suggestion(s) would replace alt text a person wrote; the exports carry them "
              "once a review accepts them (--decisions)", file=sys.stderr)  # fmt: skip


def blank_exports(report: AuditReport, args: argparse.Namespace) -> None:
    """--shopify-csv, --wp-cli, --webflow for a site not on that platform: the file is written (a script may expect it),
    and one line says why it is empty, even with --quiet."""
    for fmt in FORMATS.values():
        path = getattr(args, fmt.name, None)
        if path and (why := fmt.nothing_for(report)) is not None:
            print(f"altscout: {fmt.flag} {shown(path)} sets no alt text: {why}", file=sys.stderr)


def next_steps(report: AuditReport, args: argparse.Namespace, written: list[Path]) -> None:
    """What to do with each written export that applies the suggestions (run the script, import the CSV), where
    the audit has a suggestion to carry and the site is on its platform; not with --quiet."""
    if args.quiet or next(fixes(report), None) is None:
        return
    for fmt in FORMATS.values():
        path = getattr(args, fmt.name, None)
        if fmt.next_step and path != STDOUT and path in written and fmt.nothing_for(report) is None:
            print(f"altscout: {fmt.flag}: next, {fmt.next_step.format(path=shlex.quote(str(path)))}", file=sys.stderr)


def nothing_audited(pages: int, urls: Iterable[dict[str, Any]]) -> bool:
    """A crawl that audited no page says why, even with --quiet, one line per start URL (a robots.txt that
    disallows the site, a start URL that is no page); True when it did, and the exit code is then 1, so a
    CI gate never passes on a site it could not read."""
    if pages:
        return False
    starts = [row for row in urls if row.get("via") == "start"]
    for row in starts:
        why = f"{row['reason']}: {row['detail']}" if row.get("detail") else row.get("reason") or row["status"]
        print(f"altscout: no page was audited: {row['url']} was {row['status']} ({why})", file=sys.stderr)
    return bool(starts)


def gate(summary: dict[str, Any], comparison: dict[str, Any] | None, args: argparse.Namespace) -> bool:
    """--fail-on (and --fail-on-new): True when the audit fails the gate, which then says why, even with --quiet."""
    if not args.fail_on:
        return False
    if args.fail_on_new and comparison is not None:
        found, what, flag = new_findings(comparison, args.fail_on), "new issues", "--fail-on-new"
    else:
        found, what, flag = at_least(summary["issues"], args.fail_on), "issues", "--fail-on"
    if found:
        listed = ", ".join(f"{slug} ({count}, {ISSUES[slug].severity})" for slug, count in found.items())
        print(f"altscout: {what} of severity {args.fail_on} or worse ({flag}): {listed}", file=sys.stderr)
    return bool(found)


SHOWN_OFFENDERS = 10  # failing images named on stderr (and as GitHub annotations, which shows 10 a step)
ANNOTATION = {"critical": "error", "serious": "error", "moderate": "warning", "minor": "notice"}


def offenders(report: AuditReport, args: argparse.Namespace) -> list[tuple[str, str, str, str]]:
    """(issue, page, element, image) for every finding that fails the gate: of ``--fail-on`` severity or
    worse, and with ``--fail-on-new`` new since ``--compare``; in page order."""
    new = None
    if args.fail_on_new and report.comparison is not None:
        rows = report.comparison["findings"]
        new = {(row["page"], row["image"], row["check"]) for row in rows if row["state"] == NEW}
    found = []
    for page in report.pages:
        key = page_key(page.url)
        for record in page.images:
            for slug in [*record.alt_issues, *record.seo_issues]:
                if slug not in ISSUES or not severity_at_least(ISSUES[slug].severity, args.fail_on):
                    continue
                if new is None or (key, record.url, slug) in new:
                    element = record.primary
                    found.append((slug, page.url, element.selector or "" if element else "", record.url))
    return found


def _where(page: str, element: str, image: str) -> str:
    return " · ".join(part for part in (page, element, image) if part)


def name_offenders(report: AuditReport, args: argparse.Namespace) -> None:
    """After a failed gate: the first failing images, where they are (and GitHub annotations, a summary)."""
    found = offenders(report, args)
    for slug, page, element, image in found[:SHOWN_OFFENDERS]:
        print(f"altscout:   {slug} ({ISSUES[slug].severity}): {_where(page, element, image)}", file=sys.stderr)
    if len(found) > SHOWN_OFFENDERS:
        print(f"altscout:   … and {len(found) - SHOWN_OFFENDERS} more: the --csv, --html or --json report lists "
              "every one", file=sys.stderr)  # fmt: skip
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    asked = [getattr(args, fmt.name, None) for fmt in FORMATS.values()] + [getattr(args, "fix_patch", None)]
    if not any(str(path) == str(STDOUT) for path in asked if path is not None):
        for slug, page, element, image in found[:SHOWN_OFFENDERS]:  # stdout is GitHub's, not a report's
            issue = ISSUES[slug]
            print(f"::{ANNOTATION[issue.severity]} title=AltScout: {issue.title}::{_where(page, element, image)}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        counts = Counter(slug for slug, *_ in found)
        rows = "".join(f"| {ISSUES[s].title} | {ISSUES[s].severity} | {n} |\n" for s, n in counts.most_common())
        with open(summary, "a", encoding="utf-8") as out:
            out.write(f"### AltScout: {len(found)} finding(s) of severity {args.fail_on} or worse\n\n"
                      f"| issue | severity | images |\n|---|---|---|\n{rows}\n")  # fmt: skip


def kept(args: argparse.Namespace) -> str:
    """What an interrupted run keeps, and how to go on."""
    if args.state:
        return f"what finished is kept in {args.state}: run the same command to continue"
    if args.shard_dir:
        return f"the finished shards are kept in {args.shard_dir}: run the same command to continue"
    if args.data_dir:
        return f"the job's state is kept in {args.data_dir}"
    cache = cli_cache_folder(args.cache)
    if cache is not None:
        return (f"the captions made so far are kept in {cache}: the same command reuses them (with --state FILE "
                "it would also continue where it stopped)")  # fmt: skip
    return "nothing was kept (with --state FILE, the same command continues where it stopped)"
