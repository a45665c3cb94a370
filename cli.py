"""AltScout command line: ``python cli.py URL [URL ...]``.

Turns arguments into :class:`AuditOptions`, runs the shared pipeline, renders progress and
writes reports. Exit codes: 0 every page audited, 1 some pages failed, 2 usage or model error,
3 ``--fail-on`` found an issue at or above the given severity (takes precedence over 1).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auditing import ISSUES, severity_at_least
from auditing.compare import compare, new_at_least
from captioning import ModelLoadError, get_captioner
from library import apply_renames, write_rename_plan
from options import AuditOptions, OptionsError
from options.flags import add_flags
from options.table import CLI, apply
from pipeline import AuditEvent, AuditFinished, ImageFinished, PageFinished, PageStarted, audit, run_audit
from records import AuditReport
from reports.formats import FORMATS
from reports.sharded import ShardReports, build_reports
from scraper.browser import BrowserUnavailableError
from service.jobs import CLI_OWNER, DONE, JobError, JobStore
from service.runner import run_job
from service.submit import site_of
from state.shards import ShardError
from state.store import StateMismatchError

EXIT_OK, EXIT_PAGES_FAILED, EXIT_USAGE, EXIT_ISSUES = 0, 1, 2, 3
HTML_THUMBNAIL_PX = 160


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments: the URLs, a flag per report format, and every CLI option of the table."""
    parser = argparse.ArgumentParser(
        prog="altscout",
        description="Find every image on web pages, caption it with BLIP and write an alt-text audit.",
    )
    parser.add_argument("urls", nargs="*", metavar="URL", help="page URLs to audit, or local folders of images")
    reports = parser.add_argument_group("reports")
    for fmt in FORMATS.values():
        reports.add_argument(fmt.flag, dest=fmt.name, type=Path, default=fmt.default, help=fmt.help, metavar="FILE")
    add_flags(parser, CLI, {"reports": reports})
    return parser


def options_from_args(args: argparse.Namespace) -> AuditOptions:
    """The CLI's converter from parsed arguments to AuditOptions (the table's, plus what only the CLI does)."""
    thumbnails = HTML_THUMBNAIL_PX if args.html else 0
    return apply(vars(args), CLI, thumbnail_size=thumbnails, allow_local_folders=True)


def run_apply_renames(plan: Path, quiet: bool) -> int:
    """The --apply-renames mode: carry out a reviewed plan and report what happened."""
    try:
        outcomes, undo = apply_renames(plan)
    except (OSError, ValueError) as exc:
        print(f"altscout: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    counts = Counter(outcome.status for outcome in outcomes)
    if not quiet:
        for outcome in outcomes:
            if outcome.status != "renamed":
                print(f"altscout: {outcome.status}: {outcome.source}: {outcome.detail}", file=sys.stderr)
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "nothing to do"
    print(f"altscout: renames: {summary}; undo plan: {undo}", file=sys.stderr)
    return EXIT_OK


def read_urls(args: argparse.Namespace) -> list[str]:
    """URLs from the command line and --urls-file, in order."""
    urls = list(args.urls)
    if args.urls_file is not None:
        for line in args.urls_file.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                urls.append(line)
    return urls


class Progress:
    """Two tqdm bars on stderr: pages and the current page's images."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._pages = None
        self._images = None

    def __call__(self, event: AuditEvent) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if isinstance(event, PageStarted):
            if self._pages is None:
                self._pages = tqdm(total=event.total, desc="pages", unit="page", position=0, file=sys.stderr)
            elif self._pages.total != event.total:  # a crawl keeps discovering pages
                self._pages.total = event.total
                self._pages.refresh()
            if self._images is None:
                self._images = tqdm(total=0, desc="images", unit="img", position=1, file=sys.stderr)
            self._images.reset(total=0)
            self._images.set_postfix_str(event.url[-40:])
        elif isinstance(event, ImageFinished) and self._images is not None:
            if self._images.total != event.total:
                self._images.reset(total=event.total)
                self._images.update(event.done)
            else:
                self._images.update(1)
        elif isinstance(event, PageFinished) and self._pages is not None:
            self._pages.update(1)

    def close(self) -> None:
        for bar in (self._images, self._pages):
            if bar is not None:
                bar.close()


def write_reports(report: AuditReport, args: argparse.Namespace) -> list[Path]:
    """Write every report the arguments ask for (the default one, captions.txt, first)."""
    formats = sorted(FORMATS.values(), key=lambda fmt: fmt.default is None)
    return [fmt.write(report, getattr(args, fmt.name)) for fmt in formats if getattr(args, fmt.name)]


def run_as_job(
    urls: list[str], options: AuditOptions, data_dir: Path, progress: Progress, compared_with: str | None
) -> tuple[AuditReport, str | None]:
    """``--data-dir``: the audit as a job of the service's store, run here; the report and what it was compared with.

    Raises JobError (one sentence) when the job did not finish.
    """
    if options.state_path:
        raise JobError("--data-dir keeps the audit's state in the job store; leave out --state")
    if any(Path(url).is_dir() for url in urls):
        raise JobError("--data-dir audits web pages and sites; folders are audited without it")
    store = JobStore(data_dir)
    stored = options.to_dict()
    stored.pop("state_path", None)
    job = store.start_here(urls, options.crawl, stored, site_of(urls[0]), CLI_OWNER)
    outcome = run_job(store, job, lambda o: get_captioner(o.captioner_spec), on_event=progress)
    if outcome.state != DONE or outcome.report is None:
        raise JobError(outcome.error or f"the audit ended {outcome.state}")
    report = outcome.report
    if report.comparison and not compared_with:
        compared_with = f"the previous audit of {job.site} in {data_dir} (job {report.comparison['previous_job']})"
    print(f"altscout: job {job.id} in {data_dir}", file=sys.stderr)
    return report, compared_with


def worst_issue_at_least(summary: dict[str, Any], threshold: str) -> bool:
    """True when the report's summary counts an issue of ``threshold`` severity or worse."""
    issues = summary["issues"]
    return any(severity_at_least(ISSUES[slug].severity, threshold) for slug, count in issues.items() if count)


def shard_outputs(args: argparse.Namespace, folder: Path) -> ShardReports:
    """--shard-dir: every report in the folder, unless a report's own flag names another path."""
    outputs = ShardReports.in_folder(folder)
    for name, fmt in FORMATS.items():
        path = getattr(args, name)
        if path and path != fmt.default and name in outputs.paths:
            outputs.paths[name] = path
    return outputs


def run_sharded(urls: list[str], options: AuditOptions, args: argparse.Namespace, progress: Progress) -> int:
    """--shard-dir: the audit's pages go to shards; the reports are built from them, streaming."""
    shard_dir = None
    for event in audit(urls, options):
        progress(event)
        if isinstance(event, AuditFinished):
            shard_dir = event.shard_dir
    progress.close()
    assert shard_dir is not None
    outputs = shard_outputs(args, Path(shard_dir))
    summary = build_reports(shard_dir, outputs)
    if not args.quiet:
        print(
            f"altscout: {summary['pages']} page(s), {summary['images']} images: {summary['captioned']} captioned, "
            f"{summary['skipped']} skipped, {summary['failed']} failed -> {', '.join(map(str, outputs.written()))}",
            file=sys.stderr,
        )
    if args.fail_on and worst_issue_at_least(summary, args.fail_on):
        if not args.quiet:
            print(f"altscout: issues of severity {args.fail_on} or worse found (--fail-on)", file=sys.stderr)
        return EXIT_ISSUES
    return EXIT_PAGES_FAILED if summary["pages_failed"] else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL, format="%(levelname)s %(message)s")
    if args.apply_renames:
        return run_apply_renames(args.apply_renames, args.quiet)
    try:
        urls = read_urls(args)
        if not urls:
            parser.print_usage(sys.stderr)
            print("altscout: error: give at least one URL or --urls-file", file=sys.stderr)
            return EXIT_USAGE
        options = options_from_args(args)
        if args.fail_on_new and not (args.fail_on and args.compare):
            raise OptionsError("--fail-on-new needs --fail-on and --compare")
        if args.shard_dir and (args.compare or args.data_dir or args.rename_plan):
            raise OptionsError("--shard-dir cannot be combined with --compare, --data-dir or --rename-plan")
        previous = json.loads(args.compare.read_text(encoding="utf-8")) if args.compare else None
    except (OptionsError, OSError, ValueError) as exc:
        print(f"altscout: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    progress = Progress(enabled=not args.quiet)
    compared_with = str(args.compare) if args.compare else None
    try:
        if args.shard_dir:
            return run_sharded(urls, options, args, progress)
        if args.data_dir:
            report, compared_with = run_as_job(urls, options, args.data_dir, progress, compared_with)
        else:
            report = run_audit(urls, options, on_event=progress)
    except (ModelLoadError, BrowserUnavailableError, StateMismatchError, JobError, ShardError, OptionsError) as exc:
        progress.close()
        if args.debug:
            traceback.print_exc()
        print(f"altscout: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        progress.close()
    if previous is not None:
        report.comparison = compare(report, previous)
    written = write_reports(report, args)
    if args.rename_plan:
        folders = [page for page in report.pages if page.kind == "folder"]
        if not folders:
            print("altscout: --rename-plan needs a folder to audit; no plan written", file=sys.stderr)
        else:
            rows = write_rename_plan(folders[0], args.rename_plan)
            written.append(args.rename_plan)
            if len(folders) > 1 and not args.quiet:
                print("altscout: --rename-plan covers the first folder only", file=sys.stderr)
            if not args.quiet:
                print(f"altscout: rename plan with {rows} row(s) -> {args.rename_plan}", file=sys.stderr)
    summary = report.summary()
    for page in report.pages:  # even with --quiet: a page missing what JavaScript adds must not pass silently
        for warning in page.warnings:
            print(f"altscout: warning: {page.url}: {warning}", file=sys.stderr)
    if not args.quiet:
        for page in report.pages:
            if page.status != "ok":
                print(f"altscout: page failed: {page.url}: {page.error}", file=sys.stderr)
        print(
            f"altscout: {summary['pages']} page(s), {summary['images']} images: {summary['captioned']} captioned, "
            f"{summary['skipped']} skipped, {summary['failed']} failed -> {', '.join(map(str, written))}",
            file=sys.stderr,
        )
    if report.comparison is not None and not args.quiet:
        counts = report.comparison["counts"]
        print(
            f"altscout: compared with {compared_with}: {counts['new']} new, {counts['fixed']} fixed, "
            f"{counts['persisting']} persisting, {counts['not_comparable']} not comparable",
            file=sys.stderr,
        )
    gate = new_at_least(report.comparison, args.fail_on) if args.fail_on_new and report.comparison else None
    if gate is None and args.fail_on:
        gate = worst_issue_at_least(summary, args.fail_on)
    if gate:
        if not args.quiet:
            print(f"altscout: issues of severity {args.fail_on} or worse found (--fail-on)", file=sys.stderr)
        return EXIT_ISSUES
    return EXIT_PAGES_FAILED if summary["pages_failed"] else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
