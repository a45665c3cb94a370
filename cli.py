"""AltScout command line: ``python cli.py URL [URL ...]``.

Checks everything first (:func:`preflight`: addresses, report paths, the model folder), turns
arguments into :class:`AuditOptions`, runs the shared pipeline, renders progress and writes the
reports, each atomically. Exit codes: 0 every page audited, 1 some pages failed, 2 usage or model
error (before anything is fetched), 3 ``--fail-on`` found an issue at or above the given severity
(takes precedence over 1), 4 a report could not be written (the others were; the sentence says
which and why).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from auditing.compare import compare, previous_report
from captioning import ModelLoadError, get_captioner
from captioning.cache import OFF, cli_cache_folder
from cli_notices import apply_review, export_notices, gate, kept, name_offenders, nothing_audited
from cli_progress import progress_for
from library import apply_renames, write_rename_plan
from options import AuditOptions, OptionsError
from options.flags import OneSentenceParser, add_flags
from options.preflight import (
    InputError,
    browser_path,
    check_reachable_safely,
    folder,
    model_folder,
    page_url,
    processes_here,
    standard_output,
    state_file,
    writable,
)
from options.table import CLI, apply, error_sentence, idle_option, needs_sentence
from options.url_lists import read_url_list
from pipeline import AuditFinished, audit, run_audit
from pipeline.engine import Engine
from records import AuditReport
from reports.decisions import Decision, DecisionsError, read_decisions
from reports.formats import FORMATS, STDOUT, WriteFailure, copy_to_stdout, report_path, shown, write_all
from reports.patch import apply_command, write_fix_patch
from reports.sharded import STREAMED, ShardReports, build_reports
from scraper.browser import BrowserUnavailableError
from service.jobs import CLI_OWNER, JobError, JobStore
from service.runner import run_job
from service.submit import site_of
from state.run_files import url_rows
from state.shards import ShardError
from state.store import StateMismatchError

EXIT_OK, EXIT_PAGES_FAILED, EXIT_USAGE, EXIT_ISSUES, EXIT_REPORTS = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
HTML_THUMBNAIL_PX = 160


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments: the URLs, a flag per report format, and every CLI option of the table."""
    parser = OneSentenceParser(
        prog="altscout",
        description="Find every image on web pages, caption it with BLIP and write an alt-text audit.",
    )
    parser.add_argument("urls", nargs="*", metavar="URL", help="page URLs to audit, or local folders of images")
    reports = parser.add_argument_group("reports")
    for fmt in FORMATS.values():
        reports.add_argument(fmt.flag, dest=fmt.name, type=partial(report_path, fmt.file_name), default=fmt.default,
                             help=fmt.help, metavar="FILE")  # fmt: skip
    add_flags(parser, CLI, {"reports": reports})
    return parser


def options_from_args(args: argparse.Namespace) -> AuditOptions:
    """The CLI's converter from parsed arguments to AuditOptions (the table's, plus what only the CLI does)."""
    thumbnails = HTML_THUMBNAIL_PX if args.html else 0
    cache = cli_cache_folder(args.cache)
    return apply(
        vars(args), CLI, thumbnail_size=thumbnails, allow_local_folders=True, cache_dir=str(cache) if cache else None
    )


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
        listed = read_url_list(args.urls_file)
        urls += listed.urls
        if (left_out := listed.left_out(f"--urls-file {args.urls_file}")) and not args.quiet:
            print(f"altscout: {left_out}", file=sys.stderr)
    return urls


@dataclass
class Plan:
    """What the checks before any work settled: the targets, the options, a previous report."""

    urls: list[str]
    options: AuditOptions
    previous: dict[str, Any] | None = None
    decisions: dict[str, Decision] | None = None  # --decisions, read before any page is fetched


def check_folder_flags(args: argparse.Namespace, folders: list[str]) -> None:
    """A folder is captioned, not crawled; the folder-only flags need one."""
    for flag, asked in (("--crawl", args.crawl), ("--dry-run", args.dry_run)):
        if folders and asked:
            raise InputError(f"{flag} reads web pages, and {folders[0]} is a local folder",
                             {CLI: f"audit the folder without {flag}"})  # fmt: skip
    for flag, value in (("--rename-plan", args.rename_plan), ("--glob", args.glob)):
        if value and not folders:
            raise InputError(f"{flag} works on a local folder of images, and none is given",
                             {CLI: "give the folder to audit, e.g. ./photos"})  # fmt: skip


def preflight(args: argparse.Namespace) -> Plan:
    """Every check before anything is loaded or fetched; InputError or OptionsError (exit 2) when one fails."""
    texts = read_urls(args)
    if not texts:
        raise InputError("there is nothing to audit", {CLI: "give a page's URL, a folder, or --urls-file FILE"})
    urls: list[str] = []
    added: list[str] = []
    for text in texts:
        if text.strip() and Path(text.strip()).is_dir():
            urls.append(text.strip())  # a local folder of images
            continue
        target = page_url(text)
        check_reachable_safely(target.url, args.allow_private)
        urls.append(target.url)
        added += [target.url] if target.added_scheme else []
    check_folder_flags(args, [url for url in urls if "://" not in url])
    options = replace(options_from_args(args), scheme_added=tuple(added))
    if idle := idle_option(vars(args), CLI):
        sentence, fix = needs_sentence(*idle)
        raise InputError(sentence, {CLI: fix})
    if args.fail_on_new and not (args.fail_on and args.compare):
        raise InputError("--fail-on-new needs --fail-on and --compare")
    if args.translation_model and options.lang == "en":
        raise InputError("--translation-model is used only when captions are translated, and --lang is en",
                         {CLI: "add --lang with the language (e.g. --lang de), or --lang auto"})  # fmt: skip
    if args.shard_dir and (args.compare or args.data_dir or args.rename_plan or args.reports_only):
        raise InputError("--shard-dir cannot be combined with --compare, --data-dir, --rename-plan or --reports-only")
    if args.dry_run and args.data_dir:
        raise InputError("a dry run keeps nothing, so it is no job of --data-dir", {CLI: "leave out --data-dir"})
    if args.source_dir and not Path(args.source_dir).is_dir():
        what = "is a file, not a folder" if Path(args.source_dir).exists() else "there is no such folder"
        raise InputError(f"--source-dir {args.source_dir}: {what}",
                         {CLI: "give the folder the site is served from, or its project (Hugo, Next.js)"})  # fmt: skip
    unstreamed = [fmt.flag for name, fmt in FORMATS.items() if name not in STREAMED and getattr(args, name)]
    unstreamed += ["--fix-patch"] if args.fix_patch else []
    if args.shard_dir and unstreamed:
        raise InputError(f"{unstreamed[0]} is not written for --shard-dir runs, whose reports are built from the "
                         "shards (JSON, CSV, HTML, captions.txt, pages.csv)",
                         {CLI: "run without --shard-dir for it, or leave it out"})  # fmt: skip
    if args.reports_only and not args.state:
        raise InputError("--reports-only writes the reports of an audit kept in a state file",
                         {CLI: "add --state FILE, the file the audit ran with"})  # fmt: skip
    if args.reports_only and not Path(args.state).is_file():
        raise InputError(f"--state {args.state}: there is no such file", {CLI: "give the file the audit ran with"})
    if not options.dry_run:  # a dry run loads no model
        model_folder(options.model)
    browser_path(args.browser)
    processes_here(options.processes)
    if args.state:
        state_file(Path(args.state))
    for flag, path in (("--cache", args.cache), ("--data-dir", args.data_dir), ("--shard-dir", args.shard_dir)):
        if path and str(path) != OFF:
            folder(Path(path), flag)
    outputs = [(fmt.flag, getattr(args, fmt.name)) for fmt in FORMATS.values()] + [("--fix-patch", args.fix_patch)]
    standard_output(outputs, bool(args.shard_dir), sys.stdout.isatty())
    names = {fmt.flag: fmt.file_name for fmt in FORMATS.values()} | {"--fix-patch": "alt.patch"}
    for flag, path in [] if args.shard_dir else outputs:
        if path:
            writable(Path(path), flag, stdout_ok=True, example=names[flag])
    for flag, path in (("--rename-plan", args.rename_plan), ("--state", args.state)):
        if path:
            writable(Path(path), flag)
    previous = None
    if args.compare:
        try:
            previous = previous_report(json.loads(args.compare.read_text(encoding="utf-8-sig")))
        except OSError as exc:
            raise InputError(f"--compare {args.compare} cannot be read: {exc.strerror or exc}") from None
        except ValueError as exc:  # not JSON, or JSON that is no audit
            why = "it is not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise InputError(f"--compare {args.compare} is not an AltScout JSON report: {why}",
                             {CLI: "give the --json file of an earlier audit"}) from None  # fmt: skip
    try:
        decisions = read_decisions(Path(args.decisions)) if args.decisions else None
    except DecisionsError as exc:
        raise InputError(str(exc)) from None
    return Plan(urls, options, previous, decisions)


def write_reports(report: AuditReport, args: argparse.Namespace) -> tuple[list[Path], list[WriteFailure]]:
    """Every report the arguments ask for (captions.txt first), each on its own and atomically."""
    formats = sorted(FORMATS.values(), key=lambda fmt: fmt.default is None)
    asked = [(fmt, getattr(args, fmt.name)) for fmt in formats if getattr(args, fmt.name)]
    written, failures = write_all(report, asked)
    if failures and not any(path.suffix == ".json" for path in written):  # keep the audit somewhere
        rescue = Path(tempfile.gettempdir()) / f"altscout-report-{os.getpid()}.json"
        saved, _ = write_all(report, [(FORMATS["json"], rescue)])
        if saved:
            print(f"altscout: the JSON report was saved to {rescue} instead", file=sys.stderr)
    return written, failures


def run_as_job(
    urls: list[str], options: AuditOptions, data_dir: Path, progress: Any, compared_with: str | None
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
    if outcome.report is None:  # a job whose pages all failed still has its report
        raise JobError(outcome.error or f"the audit ended {outcome.state}")
    report = outcome.report
    if report.comparison and not compared_with:
        compared_with = f"the previous audit of {job.site} in {data_dir} (job {report.comparison['previous_job']})"
    print(f"altscout: job {job.id} in {data_dir}", file=sys.stderr)
    return report, compared_with


def shard_outputs(args: argparse.Namespace, folder: Path) -> ShardReports:
    """--shard-dir: every report in the folder, unless a report's own flag names another path."""
    outputs = ShardReports.in_folder(folder)
    for name, fmt in FORMATS.items():
        path = getattr(args, name)
        if path and path != fmt.default and name in outputs.paths:
            outputs.paths[name] = path
    return outputs


def run_sharded(urls: list[str], options: AuditOptions, args: argparse.Namespace, progress: Any) -> int:
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
    if gate(summary, None, args):
        return EXIT_ISSUES
    nothing = nothing_audited(summary["pages"], url_rows(Path(shard_dir)))
    return EXIT_PAGES_FAILED if summary["pages_failed"] or nothing else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL, format="%(levelname)s %(message)s")
    if args.apply_renames:
        return run_apply_renames(args.apply_renames, args.quiet)
    try:
        plan = preflight(args)
    except InputError as exc:
        return usage_error(exc.sentence(CLI))
    except OptionsError as exc:
        return usage_error(error_sentence(exc, CLI))
    progress = progress_for(not args.quiet)
    try:
        if args.reports_only:
            report = Engine(plan.urls, plan.options).stored_report()
        elif args.shard_dir:
            announce(plan.options, args)
            return run_sharded(plan.urls, plan.options, args, progress)
        else:
            announce(plan.options, args)
            report = run(plan, args, progress)
    except (ModelLoadError, BrowserUnavailableError, StateMismatchError, JobError, ShardError, OptionsError) as exc:
        progress.close()
        if args.debug:
            traceback.print_exc()
        return usage_error(error_sentence(exc, CLI) if isinstance(exc, OptionsError) else str(exc))
    except KeyboardInterrupt:  # Ctrl-C: one line that says what is kept, not a traceback from a worker's wait
        progress.close()
        print(f"altscout: interrupted; {kept(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        progress.close()
    return finish(report, plan, args)


def usage_error(sentence: str) -> int:
    """One sentence on stderr (ended with a period whatever raised it), exit 2."""
    ended = sentence if sentence.endswith((".", "?", "!")) else f"{sentence}."
    print(f"altscout: error: {ended}", file=sys.stderr)
    return EXIT_USAGE


def announce(options: AuditOptions, args: argparse.Namespace) -> None:
    """The first line, at once: loading a model takes seconds."""
    if args.quiet:
        return
    if options.dry_run:
        print("altscout: dry run: reading the pages only; no image is downloaded or captioned", file=sys.stderr)
    elif options.engine == "ray":  # the driver loads no model: the caption actors do
        print(f"altscout: starting the Ray engine; its caption actors load {options.model} …", file=sys.stderr,
              flush=True)  # fmt: skip
    else:
        print(f"altscout: loading the captioning model {options.model} …", file=sys.stderr, flush=True)


def run(plan: Plan, args: argparse.Namespace, progress: Any) -> AuditReport:
    """The audit, here or as a job of the service's store (--data-dir)."""
    if args.data_dir:
        compared = str(args.compare) if args.compare else None
        report, args.compared_with = run_as_job(plan.urls, plan.options, args.data_dir, progress, compared)
        return report
    return run_audit(plan.urls, plan.options, on_event=progress)


def finish(report: AuditReport, plan: Plan, args: argparse.Namespace) -> int:
    """Reports, warnings, the summary and the exit code."""
    if plan.previous is not None:
        report.comparison = compare(report, plan.previous)
    if plan.decisions is not None:
        apply_review(report, plan.decisions, args)
    written, failures = write_reports(report, args)
    patched, unpatched = fix_patch(report, args)
    written += rename_plan(report, args) + patched
    export_notices(report, args, written)
    summary = report.summary()
    for page in report.pages:  # even with --quiet: a failed page (exit 1) or one missing what JavaScript adds
        for warning in page.warnings:
            print(f"altscout: warning: {page.url}: {warning}", file=sys.stderr)
        if page.status != "ok":
            print(f"altscout: page failed: {page.url}: {page.error}", file=sys.stderr)
    if not args.quiet:
        print(
            f"altscout: {summary['pages']} page(s), {summary['images']} images: {summary['captioned']} captioned, "
            f"{summary['skipped']} skipped, {summary['failed']} failed -> {', '.join(map(shown, written))}",
            file=sys.stderr,
        )
    left_out = (report.site or {}).get("skipped_by_reason") or {}
    if left_out and not args.quiet:  # a crawl's cap or scope must not pass unnoticed
        why = ", ".join(f"{reason}: {count}" for reason, count in left_out.items())
        where = args.pages_csv or "--pages-csv FILE"
        print(f"altscout: {sum(left_out.values())} URL(s) found were not audited ({why}); {where} lists them "
              "with the reason", file=sys.stderr)  # fmt: skip
    if report.comparison is not None and not args.quiet:
        counts = report.comparison["counts"]
        compared_with = getattr(args, "compared_with", None) or str(args.compare)
        print(
            f"altscout: compared with {compared_with}: {counts['new']} new, {counts['fixed']} fixed, "
            f"{counts['persisting']} persisting, {counts['not_comparable']} not comparable",
            file=sys.stderr,
        )
    again = " (rerun with --reports-only to write it from the state)" if args.state else ""
    for sentence in [failure.sentence(CLI) for failure in failures] + ([unpatched] if unpatched else []):
        print(f"altscout: error: {sentence}{again}", file=sys.stderr)
    if failures or unpatched:
        return EXIT_REPORTS
    if gate(summary, report.comparison, args):
        name_offenders(report, args)
        return EXIT_ISSUES
    nothing = report.site is not None and nothing_audited(len(report.pages), report.site.get("urls") or [])
    return EXIT_PAGES_FAILED if summary["pages_failed"] or nothing else EXIT_OK


def fix_patch(report: AuditReport, args: argparse.Namespace) -> tuple[list[Path], str | None]:
    """--fix-patch: the suggested alt texts as a patch of --source-dir's HTML, Markdown or component files; the
    patch written, or the sentence that says why it was not (the other reports are written all the same)."""
    if not args.fix_patch:
        return [], None
    source, target = Path(args.source_dir), Path(args.fix_patch)
    try:
        if target == STDOUT:  # `--fix-patch - | git apply`
            results = []
            copy_to_stdout(lambda part: results.append(write_fix_patch(report, source, part)), "alt.patch")
            result = results[0]
        else:
            result = write_fix_patch(report, source, target)
    except OSError as exc:  # the disk filled, a folder went away: one sentence, and the exit code says so
        return [], f"--fix-patch {target} was not written: {exc.strerror or exc}"
    if not args.quiet:
        apply = "" if target == STDOUT or not result.files else f"; apply it: {apply_command(source, target)}"
        print(f"altscout: fix patch: alt text for {result.tags} image(s) in {result.files} file(s), "
              f"{len(result.by_hand)} to apply by hand, {len(result.held)} held for review (listed at its top) -> "
              f"{shown(target)}{apply}", file=sys.stderr)  # fmt: skip
    if result.note:  # even with --quiet: the patch would not last, or patches nothing
        print(f"altscout: --fix-patch: {result.note}", file=sys.stderr)
    return [target], None


def rename_plan(report: AuditReport, args: argparse.Namespace) -> list[Path]:
    """--rename-plan: descriptive file names for the first folder audited."""
    if not args.rename_plan:
        return []
    folders = [page for page in report.pages if page.kind == "folder"]  # preflight saw to it that there is one
    rows = write_rename_plan(folders[0], args.rename_plan)
    if len(folders) > 1 and not args.quiet:
        print("altscout: --rename-plan covers the first folder only", file=sys.stderr)
    if not args.quiet:
        print(f"altscout: rename plan with {rows} row(s) -> {args.rename_plan}", file=sys.stderr)
    return [args.rename_plan]


if __name__ == "__main__":
    sys.exit(main())
