"""AltScout server: the web form (Gradio) and the REST API on one FastAPI app, over one job store.

A thin front end. The form turns its fields into an :class:`service.submit.AuditRequest` and hands
it to :class:`service.Service`, which queues a job; the job page (``/?job=ID``) polls the store,
so progress survives a reload, another browser or a server restart. ``build_app`` is a factory so
tests can build the app with a tiny model; the server starts only under ``__main__``.

    python app.py [--data-dir ./altscout-data] [--host 127.0.0.1] [--port 7860] [--workers 1] ...
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from captioning import ModelLoadError, resolve_model_id
from captioning.blip import DEFAULT_MODEL
from captioning.runtimes import BACKENDS, QUANTIZE
from captioning.translate import supported_languages
from options import DEVICES, DTYPES, OCR_MODES, RENDER_MODES, AuditOptions, OptionsError, parse_translation_models
from pipeline import caption_image
from records import CAPTIONED
from service import Service
from service.jobs import DONE, FINAL_STATES, WEB_OWNER, Job, JobError, Limits
from service.keys import KeyFileError, KeyRing, read_key_file
from service.submit import (
    FRIENDLY_ERRORS,
    AuditRequest,
    JobOptionsIn,
    SubmitError,
    friendly,
    normalise_url,
)
from service.views import (
    TABLE_HEADERS,
    gallery_items,
    progress_line,
    recent_markdown,
    report_frame,
    report_paths,
    summary_markdown,
    table_rows,
)

log = logging.getLogger("altscout.app")

MAX_UPLOAD = "10mb"
QUEUE_SIZE = 64
POLL_S = 1.0
RECENT = 15
PAGE, SITE = "This page", "Whole site"


class AppError(Exception):
    """A message for the person using the form."""


def job_request(
    url: str | None,
    what: str | None,
    site_pages: float | None,
    min_size: float | None,
    max_images: float | None,
    model: str | None,
    num_beams: float | None,
    max_new_tokens: float | None,
    prompt: str | None,
    lang: str | None = None,
    render: str | None = None,
    ocr: str | None = None,
) -> AuditRequest:
    """The web form's converter: its fields as the request the API also takes."""

    def whole(value: float | None) -> int | None:
        return None if value is None else int(value)

    crawl = what == SITE
    try:
        options = JobOptionsIn(
            min_size=whole(min_size),
            max_images=whole(max_images),
            model=(model or "").strip() or None,
            num_beams=whole(num_beams),
            max_new_tokens=whole(max_new_tokens),
            prompt=prompt or None,
            lang=lang or None,
            render=render or None,
            ocr=ocr or None,
            max_pages=whole(site_pages) if crawl else None,
        )
    except ValueError as exc:
        raise AppError(f"Invalid option: {str(exc).splitlines()[-1].strip()}.") from None
    return AuditRequest(urls=[normalise_url(url)], crawl=crawl, options=options)


def build_app(service: Service) -> gr.Blocks:
    """The Blocks app over a service (its store, runner and limits)."""
    base = service.defaults
    models = list(service.allowed_models)
    store = service.store

    def job_outputs(job: Job | None, first: bool = False) -> tuple[Any, ...]:
        """progress, summary, gallery, report, files, cancel button, timer, recent (skip what has not changed)."""
        if job is None:
            return ("", "", [], "", None, gr.update(visible=False), gr.Timer(active=False), recent())
        progress = progress_line(job, store.queued_ahead(job))
        if job.state not in FINAL_STATES:
            shown = ("", [], "", None) if first else (gr.skip(),) * 4
            return (progress, *shown, gr.update(visible=True), gr.Timer(active=True), gr.skip())
        folder = store.job_dir(job.id)
        if job.state == DONE:
            results = (summary_markdown(job), gallery_items(folder), report_frame(job), report_paths(folder))
        else:
            results = ("", [], "", None)
        return (progress, *results, gr.update(visible=False), gr.Timer(active=False), recent())

    def recent() -> str:
        return recent_markdown(store.list(owner=WEB_OWNER, limit=RECENT))

    def find(job_id: str | None) -> Job | None:
        try:
            return store.get(job_id.strip(), WEB_OWNER) if job_id and job_id.strip() else None
        except JobError:
            return None

    def start_job(*fields: Any) -> tuple[Any, ...]:
        """Queue an audit from the form; the job page follows it from here."""
        try:
            request = job_request(*fields)
            job = service.submit(request, WEB_OWNER)
        except (AppError, SubmitError, JobError) as exc:
            raise gr.Error(str(exc)) from None
        return (job.id, *job_outputs(job, first=True))

    def open_job(request: gr.Request) -> tuple[Any, ...]:
        """A page load: show the job named by ``?job=ID`` (a reload, a link, another browser)."""
        job_id = request.query_params.get("job") if request else None
        job = find(job_id)
        if job_id and job is None:
            return ("", "There is no audit with that id (it may have expired).", *job_outputs(None)[1:])
        return (job.id if job else "", *job_outputs(job, first=True))

    def poll(job_id: str) -> tuple[Any, ...]:
        """The timer's tick: progress, then the results once the job is final."""
        job = find(job_id)
        return job_outputs(job)

    def cancel(job_id: str) -> str:
        job = find(job_id)
        if job is None:
            raise gr.Error("There is no audit to cancel.")
        return progress_line(store.cancel(job.id))

    def run_audit_form(
        url: str,
        min_size: float,
        max_images: float,
        model: str,
        num_beams: float,
        max_new_tokens: float,
        prompt: str,
        lang: str,
        render: str = "auto",
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
    ) -> tuple[str, list[tuple[str, str]], list[list[Any]], list[str]]:
        """The Gradio API's ``/audit``: one page, as a job, waited for; summary, gallery, rows, files."""
        try:
            request = job_request(
                url, PAGE, None, min_size, max_images, model, num_beams, max_new_tokens, prompt, lang, render
            )
            job = service.submit(request, WEB_OWNER)
        except (AppError, SubmitError, JobError) as exc:
            raise gr.Error(str(exc)) from None
        progress(0, desc="Waiting to start")
        while not job.finished:
            time.sleep(0.2)
            job = store.get(job.id)
            if job.images_known:
                progress((job.images_done, job.images_known), desc="images", unit="images")
        if job.state != DONE:
            raise gr.Error(job.error or "The audit did not finish.")
        folder = store.job_dir(job.id)
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        page = report["pages"][0]
        if page["status"] != "ok":
            raise gr.Error(friendly(page.get("error_code"), page.get("error")))
        files = [path for path in report_paths(folder) if not path.endswith("pages.csv")]
        return summary_markdown(job), gallery_items(folder), table_rows(page["images"]), files

    def caption_one(upload: str | None, image_url: str, model: str) -> tuple[str, str]:
        """Caption an uploaded image, or an image URL: caption and a status line."""
        try:
            chosen = (model or base.model).strip()
            if chosen not in models:
                raise AppError("That model is not offered by this server.")
            options = AuditOptions(**{**base.to_dict(), "model": chosen, "min_width": 1, "min_height": 1})
            captioner = service.captioner_for(options)
            if upload:
                record = caption_image(Path(upload).read_bytes(), options, captioner)
            elif image_url and image_url.strip():
                record = caption_image(normalise_url(image_url), options, captioner)
            else:
                raise AppError("Upload an image or enter an image address.")
        except (AppError, SubmitError) as exc:
            raise gr.Error(str(exc)) from None
        except ModelLoadError as exc:
            raise gr.Error(str(exc)) from None
        if record.status != CAPTIONED:
            known = record.reason == "http_error" or record.reason in FRIENDLY_ERRORS
            raise gr.Error(
                friendly(record.reason, record.detail) if known else "That file is not an image AltScout can read."
            )
        return record.caption or "", f"{record.width}x{record.height} {record.format}"

    ceiling = service.max_site_pages
    with gr.Blocks(title="AltScout") as demo:
        gr.Markdown(
            "# AltScout\nFind every image on a page or a whole site, describe it with BLIP, audit its alt text."
        )
        with gr.Tab("Audit"):
            with gr.Row():
                url_box = gr.Textbox(
                    label="Page or site URL", placeholder="https://example.com/", scale=4, elem_id="url"
                )
                run_button = gr.Button("Run", variant="primary", scale=1, elem_id="run")
            with gr.Row():
                what = gr.Radio([PAGE, SITE], value=PAGE, label="Audit", elem_id="what")
                site_pages = gr.Slider(
                    1, ceiling, value=min(50, ceiling), step=1, elem_id="site-pages",
                    label=f"Whole site: up to this many pages (this server allows {ceiling})",
                )  # fmt: skip
            with gr.Accordion("Options", open=False):
                with gr.Row():
                    min_size = gr.Number(base.min_width, label="Minimum image size (px)", precision=0, minimum=0)
                    max_images = gr.Number(base.max_images, label="Maximum images per page", precision=0, minimum=1)
                    model_choice = gr.Dropdown(models, value=base.model, label="Model")
                with gr.Row():
                    beams = gr.Slider(1, 8, value=base.num_beams, step=1, label="Beams")
                    tokens = gr.Slider(5, 100, value=base.max_new_tokens, step=1, label="Max new tokens")
                    prompt = gr.Textbox(label="Prompt (optional)", placeholder="a photograph of")
                    language = gr.Dropdown(
                        ["en", "auto", *supported_languages()], value=base.lang, label="Caption language"
                    )
                    render = gr.Dropdown(
                        list(RENDER_MODES),
                        value=base.render,
                        label="Run JavaScript (headless browser)",
                        info="auto: when the server has a browser; never: read the HTML only",
                        elem_id="render",
                    )
                    ocr_choice = gr.Dropdown(
                        list(OCR_MODES),
                        value=base.ocr,
                        label="Read text in images (OCR)",
                        info="auto: when the server has the OCR engine; off: captions only",
                        elem_id="ocr",
                    )
            job_box = gr.Textbox(visible="hidden", elem_id="job-id", label="job")
            with gr.Row():
                progress_box = gr.Markdown(elem_id="progress")
                cancel_button = gr.Button("Cancel this audit", visible=False, scale=0, elem_id="cancel")
            summary = gr.Markdown(elem_id="summary")
            gallery = gr.Gallery(label="Captioned images", columns=6, height="auto", elem_id="gallery")
            report = gr.HTML(elem_id="results")
            files = gr.File(
                label="Downloads: captions.txt, JSON, CSV, HTML report (and pages.csv for a site)",
                file_count="multiple",
                interactive=False,
                elem_id="files",
            )
            with gr.Accordion("Recent audits", open=True):
                recent_box = gr.Markdown(elem_id="recent")
            table = gr.Dataframe(headers=TABLE_HEADERS, visible=False, interactive=False)
            api_button = gr.Button(visible=False)
            timer = gr.Timer(POLL_S, active=False)

            form = [
                url_box,
                what,
                site_pages,
                min_size,
                max_images,
                model_choice,
                beams,
                tokens,
                prompt,
                language,
                render,
                ocr_choice,
            ]
            shown = [progress_box, summary, gallery, report, files, cancel_button, timer, recent_box]
            remember = "(job) => { if (job) { window.history.replaceState(null, '', '?job=' + job); } }"
            for trigger in (run_button.click, url_box.submit):
                trigger(start_job, form, [job_box, *shown], api_name=False).then(None, [job_box], None, js=remember)
            timer.tick(poll, [job_box], shown, api_name=False, show_progress="hidden")
            cancel_button.click(cancel, [job_box], [progress_box], api_name=False)
            demo.load(open_job, None, [job_box, *shown], api_name=False)
            api_inputs = [url_box, min_size, max_images, model_choice, beams, tokens, prompt, language, render]
            api_button.click(run_audit_form, api_inputs, [summary, gallery, table, files], api_name="audit")
        with gr.Tab("Single image"):
            with gr.Row():
                upload = gr.Image(type="filepath", label="Upload an image", sources=["upload"], elem_id="upload")
                with gr.Column():
                    image_url = gr.Textbox(label="…or an image URL", elem_id="image-url")
                    single_button = gr.Button("Caption", variant="primary", elem_id="caption")
                    caption_out = gr.Textbox(label="Caption", elem_id="caption-out")
                    size_out = gr.Textbox(label="Image", elem_id="size-out")
            single_button.click(
                caption_one, [upload, image_url, model_choice], [caption_out, size_out], api_name="caption"
            )
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=8)
    return demo


def create_app(service: Service) -> Any:
    """The whole server: REST API and report routes, with the Gradio app mounted at ``/``."""
    from service.api import create_server

    server = create_server(service)
    demo = build_app(service)
    return gr.mount_gradio_app(
        server,
        demo,
        path="/",
        # Only the job folders (a job's id, 128 random bits, is needed to name a file there); never jobs.db.
        allowed_paths=[str(service.store.jobs_dir.resolve())],
        show_error=False,
        max_file_size=MAX_UPLOAD,
        footer_links=["api"],
    )


def build_parser() -> argparse.ArgumentParser:
    """Server flags; generation flags set the form's defaults, as in the CLI."""
    d = AuditOptions()
    p = argparse.ArgumentParser(prog="altscout-app", description="Serve the AltScout web app and REST API.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--data-dir", type=Path, default=Path("altscout-data"), help="job database and report files")
    p.add_argument("--workers", type=int, default=1, help="audits run at once (sharing the one model)")
    p.add_argument("--queue-size", type=int, default=20, help="audits that may wait; beyond it, refused at once")
    p.add_argument("--max-site-pages", type=int, default=200, help="the most pages one audit may cover")
    p.add_argument("--keep-days", type=float, default=30.0, help="finished audits are deleted after this many days")
    p.add_argument("--api-key-file", type=Path, help="lines 'NAME KEY [running=N] [queued=N]': the API needs a key")
    p.add_argument("--key-running", type=int, default=1, help="audits one API key may run at once")
    p.add_argument("--key-queued", type=int, default=5, help="audits one API key may have waiting")
    p.add_argument("--model", default=DEFAULT_MODEL, help="hub id, local folder, or alias 'base'/'large'")
    p.add_argument("--extra-models", nargs="*", default=[], help="other models the form may offer")
    p.add_argument("--device", choices=DEVICES, default=d.device)
    p.add_argument("--dtype", choices=DTYPES, default=d.dtype)
    p.add_argument("--backend", choices=BACKENDS, default=d.backend, help="CPU runtime (auto: measured fastest exact)")
    p.add_argument("--quantize", choices=QUANTIZE, default=d.quantize, help="int8: opt-in quantised encoder")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens)
    p.add_argument("--min-new-tokens", type=int, default=None)
    p.add_argument("--num-beams", type=int, default=d.num_beams)
    p.add_argument("--min-size", type=int, default=d.min_width)
    p.add_argument("--max-images", type=int, default=d.max_images)
    p.add_argument("--lang", default=d.lang, help="the form's default caption language (en, auto or a code)")
    p.add_argument(
        "--translation-model",
        action="append",
        default=[],
        metavar="LANG=MODEL",
        help="MarianMT hub id or folder for a language; repeatable",
    )
    p.add_argument(
        "--allow-private",
        action="store_true",
        help="let audits reach loopback/private addresses (intranet deployments, tests)",
    )
    p.add_argument("--render", choices=RENDER_MODES, default=d.render, help="the default rendering mode")
    p.add_argument("--browser", default=None, metavar="PATH", help="Chromium/Chrome executable to render with")
    p.add_argument("--render-timeout", type=float, default=d.render_timeout_s, help="seconds per rendered page")
    p.add_argument("--per-host", type=int, default=d.per_host_pages, help="page requests in flight per site")
    p.add_argument("--ocr", choices=OCR_MODES, default=d.ocr, help="the default for reading the text in images")
    return p


def service_from_args(args: argparse.Namespace) -> Service:
    """The server's converter: flags to defaults, limits and keys."""
    for name in ("workers", "queue_size", "max_site_pages", "key_running", "key_queued"):
        if getattr(args, name) < 1:
            raise OptionsError(f"--{name.replace('_', '-')} must be at least 1")
    defaults = AuditOptions(
        model=resolve_model_id(args.model),
        device=args.device,
        dtype=args.dtype,
        backend=args.backend,
        quantize=args.quantize,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        min_new_tokens=args.min_new_tokens,
        num_beams=args.num_beams,
        min_width=args.min_size,
        min_height=args.min_size,
        max_images=args.max_images,
        lang=args.lang,
        translation_models=parse_translation_models(args.translation_model, args.lang),
        allow_private=args.allow_private,
        render=args.render,
        browser_path=args.browser,
        render_timeout_s=args.render_timeout,
        per_host_pages=args.per_host,
        ocr=args.ocr,
    )
    limits = Limits(max_queued=args.queue_size, per_key_queued=args.key_queued, per_key_running=args.key_running)
    keys = KeyRing(read_key_file(args.api_key_file, limits) if args.api_key_file else None)
    return Service(
        defaults=defaults,
        data_dir=args.data_dir,
        allowed_models=[resolve_model_id(m) for m in args.extra_models],
        max_site_pages=args.max_site_pages,
        workers=args.workers,
        keep_days=args.keep_days,
        limits=limits,
        keys=keys,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, resume interrupted jobs, serve."""
    import uvicorn

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        service = service_from_args(args)
    except (OptionsError, KeyFileError, OSError) as exc:
        print(f"altscout-app: error: {exc}", file=sys.stderr)
        return 2
    recovered = service.start()
    if recovered:
        log.info("continuing %d audit(s) interrupted by the last stop", len(recovered))
    log.info("AltScout on http://%s:%d/ (API docs at /docs), data in %s", args.host, args.port, args.data_dir)
    uvicorn.run(create_app(service), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
