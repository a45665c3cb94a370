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

from auditing import ISSUES, SEVERITIES, severity_at_least
from auditing.compare import compare, new_at_least
from captioning import ModelLoadError, get_captioner
from captioning.blip import DEFAULT_MODEL
from captioning.runtimes import BACKENDS, QUANTIZE
from captioning.translate import supported_languages
from library import apply_renames, write_rename_plan
from options import (
    DEVICES,
    DTYPES,
    ENGINES,
    MB,
    OCR_MODES,
    RENDER_MODES,
    SCOPES,
    AuditOptions,
    OptionsError,
    parse_translation_models,
)
from pipeline import AuditEvent, AuditFinished, ImageFinished, PageFinished, PageStarted, audit, run_audit
from records import AuditReport
from reports import write_captions_txt, write_csv, write_html, write_json, write_pages_csv
from reports.sharded import ShardReports, build_reports
from scraper.browser import BrowserUnavailableError
from service.jobs import CLI_OWNER, DONE, JobError, JobStore
from service.runner import run_job
from service.submit import site_of
from shards import ShardError
from store import StateMismatchError

EXIT_OK, EXIT_PAGES_FAILED, EXIT_USAGE, EXIT_ISSUES = 0, 1, 2, 3
HTML_THUMBNAIL_PX = 160


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments; defaults come from AuditOptions."""
    d = AuditOptions()
    p = argparse.ArgumentParser(
        prog="altscout",
        description="Find every image on web pages, caption it with BLIP and write an alt-text audit.",
    )
    p.add_argument("urls", nargs="*", metavar="URL", help="page URLs to audit, or local folders of images")
    p.add_argument("--urls-file", type=Path, help="file with one URL per line (# comments allowed)")
    out = p.add_argument_group("reports")
    out.add_argument("--out", type=Path, default=Path("captions.txt"), help="captions file (default: %(default)s)")
    out.add_argument("--json", type=Path, help="write the JSON report here")
    out.add_argument("--csv", type=Path, help="write the CSV report here (one row per image)")
    out.add_argument(
        "--pages-csv", type=Path, help="write one row per page URL here (a crawl: every URL met, with its status)"
    )
    out.add_argument("--html", type=Path, help="write the self-contained HTML audit report here")
    out.add_argument(
        "--compare",
        type=Path,
        metavar="PREVIOUS.json",
        help="mark every finding new, fixed, persisting or not comparable against a previous JSON report",
    )
    out.add_argument(
        "--fail-on-new",
        action="store_true",
        help="with --fail-on and --compare: exit 3 only for new findings (regressions)",
    )
    out.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        default=None,
        help="exit 3 when an issue of this severity or worse is found (CI gate)",
    )
    lang = p.add_argument_group("languages")
    lang.add_argument(
        "--lang",
        default=d.lang,
        help=f"translate captions and suggested alt: en (none), auto (<html lang>), or one of "
        f"{', '.join(supported_languages())}",
    )
    lang.add_argument(
        "--translation-model",
        action="append",
        default=[],
        metavar="[LANG=]MODEL",
        help="MarianMT hub id or folder to use (for --lang, or for LANG=); repeatable",
    )
    folders = p.add_argument_group("local folders")
    folders.add_argument("--glob", default=None, help="folder mode: only files matching this pattern, e.g. '*.jpg'")
    folders.add_argument("--rename-plan", type=Path, help="folder mode: write suggested descriptive file names here")
    folders.add_argument(
        "--apply-renames",
        type=Path,
        metavar="PLAN",
        help="carry out a reviewed rename plan (no captioning); writes PLAN.undo.csv",
    )
    checks = p.add_argument_group("audit checks")
    checks.add_argument("--max-alt-length", type=int, default=d.max_alt_length, help="flag longer alt text")
    checks.add_argument(
        "--max-image-kb",
        type=float,
        default=d.large_image_bytes / 1024,
        help="flag image files over this size (default %(default)s KB)",
    )
    checks.add_argument(
        "--mismatch-threshold",
        type=float,
        default=d.mismatch_threshold,
        help="flag alt text whose word overlap with the caption is below this (0-1)",
    )
    model = p.add_argument_group("captioning")
    model.add_argument(
        "--model", default=DEFAULT_MODEL, help="hub id, local folder, or alias 'base'/'large' (default: %(default)s)"
    )
    model.add_argument("--device", choices=DEVICES, default=d.device)
    model.add_argument(
        "--dtype",
        choices=DTYPES,
        default=d.dtype,
        help="auto: fp16 on CUDA; on a CPU float32, or bf16 where it is measured faster here",
    )
    model.add_argument(
        "--backend",
        choices=BACKENDS,
        default=d.backend,
        help="CPU runtime for the vision encoder; auto: the fastest exact one measured on this machine",
    )
    model.add_argument(
        "--quantize",
        choices=QUANTIZE,
        default=d.quantize,
        help="int8: quantised encoder on ONNX Runtime (opt-in; effect on caption quality not measured)",
    )
    model.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="images per batch (default: 8 CPU, 16 CPU bfloat16, fitted to the GPU on CUDA)",
    )
    model.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens)
    model.add_argument(
        "--min-new-tokens",
        type=int,
        default=None,
        help="force at least this many tokens (benchmarks set it to --max-new-tokens)",
    )
    model.add_argument("--num-beams", type=int, default=d.num_beams)
    model.add_argument("--prompt", default=None, help="conditional captioning prefix, e.g. 'a photograph of'")
    scrape = p.add_argument_group("scraping")
    scrape.add_argument(
        "--min-size", type=int, default=None, help=f"minimum width and height in px (default {d.min_width})"
    )
    scrape.add_argument("--min-width", type=int, default=None)
    scrape.add_argument("--min-height", type=int, default=None)
    scrape.add_argument("--max-images", type=int, default=d.max_images, help="images per page (default %(default)s)")
    scrape.add_argument("--max-page-mb", type=float, default=d.page_max_bytes / MB)
    scrape.add_argument("--max-image-mb", type=float, default=d.image_max_bytes / MB)
    scrape.add_argument(
        "--timeout",
        type=float,
        default=d.image_deadline_s,
        help="total seconds allowed per page and per image download",
    )
    scrape.add_argument(
        "--allow-private",
        action="store_true",
        help="allow loopback and private addresses (intranet audits); link-local stays blocked",
    )
    scrape.add_argument("--ignore-robots", action="store_true", help="do not obey robots.txt")
    site = p.add_argument_group("whole sites")
    site.add_argument("--crawl", action="store_true", help="audit the site: sitemaps and same-site links")
    site.add_argument("--max-pages", type=int, default=d.max_pages, help="pages to audit at most (default %(default)s)")
    site.add_argument("--max-depth", type=int, default=None, help="links away from a start URL")
    site.add_argument(
        "--scope", choices=SCOPES, default=d.scope, help="host: the start URLs' hosts; domain: all their subdomains"
    )
    site.add_argument("--include", action="append", default=[], metavar="REGEX", help="crawl only matching URLs")
    site.add_argument("--exclude", action="append", default=[], metavar="REGEX", help="never crawl matching URLs")
    site.add_argument(
        "--per-host", type=int, default=d.per_host_pages, help="page requests in flight per host (default %(default)s)"
    )
    site.add_argument(
        "--state",
        type=Path,
        default=None,
        metavar="DB",
        help="SQLite file keeping the crawl: rerun the same command to continue after a stop or crash",
    )
    site.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="run the audit as a job in the service's job store (app.py --data-dir): its reports stay there, "
        "it is compared with the site's previous audit there, and rerunning the same command continues it",
    )
    render = p.add_argument_group("rendering (JavaScript-built pages)")
    render.add_argument(
        "--render",
        choices=RENDER_MODES,
        default=d.render,
        help="read pages as a headless Chromium shows them: auto (when a browser is found), always, never",
    )
    render.add_argument(
        "--browser", default=None, metavar="PATH", help="Chromium/Chrome executable (else $ALTSCOUT_CHROMIUM, PATH)"
    )
    render.add_argument(
        "--render-timeout",
        type=float,
        default=d.render_timeout_s,
        help="seconds per rendered page: load, scroll, settle (default %(default)s)",
    )
    engine = p.add_argument_group("engine (past one machine)")
    engine.add_argument(
        "--engine",
        choices=ENGINES,
        default=d.engine,
        help="local: threads in this process; ray: the stages on Ray Data (requirements-ray.txt)",
    )
    engine.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="the Ray cluster (default: $RAY_ADDRESS, else a local Ray)",
    )
    engine.add_argument(
        "--caption-actors", type=int, default=d.caption_actors, help="--engine ray: captioning actors (one GPU each)"
    )
    engine.add_argument(
        "--shard-dir",
        type=Path,
        metavar="DIR",
        help="big runs: finished pages stream to shard files in DIR (its state.db unless --state), the reports are"
        " built from them into DIR, and a rerun continues without recomputing a completed shard",
    )
    engine.add_argument(
        "--shard-pages", type=int, default=d.shard_pages, help="--shard-dir: pages per shard (default %(default)s)"
    )
    p.add_argument(
        "--ocr",
        choices=OCR_MODES,
        default=d.ocr,
        help="read the text in images (RapidOCR, PP-OCRv5): auto (when installed) or off (default %(default)s)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="on-disk caption cache: re-audits of unchanged images skip captioning",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def options_from_args(args: argparse.Namespace) -> AuditOptions:
    """The CLI's converter from parsed arguments to AuditOptions."""
    min_width = args.min_width if args.min_width is not None else args.min_size
    min_height = args.min_height if args.min_height is not None else args.min_size
    defaults = AuditOptions()
    return AuditOptions(
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        backend=args.backend,
        quantize=args.quantize,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        min_new_tokens=args.min_new_tokens,
        num_beams=args.num_beams,
        prompt=args.prompt,
        min_width=defaults.min_width if min_width is None else min_width,
        min_height=defaults.min_height if min_height is None else min_height,
        max_images=args.max_images,
        allow_private=args.allow_private,
        ignore_robots=args.ignore_robots,
        page_max_bytes=int(args.max_page_mb * MB),
        image_max_bytes=int(args.max_image_mb * MB),
        page_deadline_s=args.timeout,
        image_deadline_s=args.timeout,
        max_alt_length=args.max_alt_length,
        large_image_bytes=int(args.max_image_kb * 1024),
        mismatch_threshold=args.mismatch_threshold,
        thumbnail_size=HTML_THUMBNAIL_PX if args.html else 0,
        lang=args.lang,
        translation_models=parse_translation_models(args.translation_model, args.lang),
        allow_local_folders=True,
        cache_dir=str(args.cache) if args.cache else None,
        glob=args.glob,
        render=args.render,
        browser_path=args.browser,
        render_timeout_s=args.render_timeout,
        ocr=args.ocr,
        engine=args.engine,
        ray_address=args.ray_address,
        caption_actors=args.caption_actors,
        crawl=args.crawl,
        max_pages=args.max_pages,
        max_depth=args.max_depth,
        scope=args.scope,
        include=tuple(args.include),
        exclude=tuple(args.exclude),
        per_host_pages=args.per_host,
        state_path=str(args.state) if args.state else None,
        shard_dir=str(args.shard_dir) if args.shard_dir else None,
        shard_pages=args.shard_pages,
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
    """Write every report the arguments ask for."""
    written = [write_captions_txt(report, args.out)]
    if args.json:
        written.append(write_json(report, args.json))
    if args.csv:
        written.append(write_csv(report, args.csv))
    if args.pages_csv:
        written.append(write_pages_csv(report, args.pages_csv))
    if args.html:
        written.append(write_html(report, args.html))
    return written


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
    outcome = run_job(store, job, lambda o: get_captioner(*o.captioner_args), on_event=progress)
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
    if args.out != Path("captions.txt"):
        outputs.captions_txt = args.out
    for name in ("json", "csv", "pages_csv", "html"):
        if getattr(args, name):
            setattr(outputs, name, getattr(args, name))
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
