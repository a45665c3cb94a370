"""AltScout server: the web form (Gradio) and the REST API on one FastAPI app, over one job store.

A thin front end. The form turns its fields into an :class:`service.submit.AuditRequest` and hands
it to :class:`service.Service`, which queues a job; the job page (``/?job=ID``) polls the store,
so progress survives a reload, another browser or a server restart. ``build_app`` is a factory so
tests can build the app with a tiny model; the server starts only under ``__main__``.

    python app.py [--data-dir ./altscout-data] [--host 127.0.0.1] [--port 7860] [--workers 1] ...
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from captioning import resolve_model_id
from options import OptionsError
from options.flags import OneSentenceParser, add_flags
from options.preflight import InputError, browser_path, folder, listening_socket
from options.table import CLI, SERVER, apply
from service import Service
from service.form import FORM_OPTIONS, PAGE, SITE, FormCallbacks, control
from service.jobs import Limits
from service.keys import KeyFileError, KeyRing, read_key_file
from service.views import TABLE_HEADERS

log = logging.getLogger("altscout.app")

MAX_UPLOAD = "10mb"
QUEUE_SIZE = 64
POLL_S = 1.0


def build_app(service: Service) -> gr.Blocks:
    """The Blocks app over a service (its store, runner and limits)."""
    calls = FormCallbacks(service)
    with gr.Blocks(title="AltScout") as demo:
        gr.Markdown(
            "# AltScout\nFind every image on a page or a whole site, describe it with BLIP, audit its alt text."
        )
        with gr.Tab("Audit"):
            model_choice, job_box, shown = _audit_tab(calls, service.max_site_pages)
            demo.load(calls.open_job, None, [job_box, *shown], api_name=False)
        with gr.Tab("Single image"):
            with gr.Row():
                # A file, not gr.Image: Gradio's Image decodes and converts a non-RGB upload itself, outside the
                # guarded decoder's format list and pixel limits, and meets a non-image with its generic error.
                upload = gr.File(label="Upload an image", file_types=["image"], type="filepath", elem_id="upload")
                with gr.Column():
                    image_url = gr.Textbox(label="…or an image URL", elem_id="image-url")
                    single_button = gr.Button("Caption", variant="primary", elem_id="caption")
                    caption_out = gr.Textbox(label="Caption", elem_id="caption-out")
                    size_out = gr.Textbox(label="Image", elem_id="size-out")
            single_button.click(
                calls.caption_one, [upload, image_url, model_choice], [caption_out, size_out], api_name="caption"
            )
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=8)
    return demo


def _audit_tab(calls: FormCallbacks, ceiling: int) -> tuple[Any, Any, list[Any]]:
    """The Audit tab: the URL, page or site, the options from the table, the job's results. Returns the
    model control (the Single image tab uses it too), the job id box and what shows a job."""
    with gr.Row():
        url_box = gr.Textbox(label="Page or site URL", placeholder="https://example.com/", scale=4, elem_id="url")
        run_button = gr.Button("Run", variant="primary", scale=1, elem_id="run")
    with gr.Row():
        what = gr.Radio([PAGE, SITE], value=PAGE, label="Audit", elem_id="what")
        site_pages = gr.Slider(
            1, ceiling, value=min(50, ceiling), step=1, elem_id="site-pages",
            label=f"Whole site: up to this many pages (this server allows {ceiling})",
        )  # fmt: skip
    controls: dict[str, Any] = {}
    with gr.Accordion("Options", open=False):
        for row in sorted({option.control.place[0] for option in FORM_OPTIONS if option.control}):
            with gr.Row():
                for option in FORM_OPTIONS:
                    if option.control and option.control.place[0] == row:
                        controls[option.name] = control(option, calls.base, calls.models)
    job_box = gr.Textbox(visible="hidden", elem_id="job-id", label="job")
    with gr.Row():
        progress_box = gr.Markdown(elem_id="progress")
        cancel_button = gr.Button("Cancel this audit", visible=False, scale=0, elem_id="cancel")
    summary = gr.Markdown(elem_id="summary")
    gallery = gr.Gallery(label="Captioned images", columns=6, height="auto", elem_id="gallery")
    report = gr.HTML(elem_id="results")
    files = gr.File(
        label="Downloads: the HTML report, JSON, CSV, XLSX, captions.txt (pages.csv for a site), and for a "
        "Shopify, WordPress or Webflow site the Shopify CSV and files script, the WP-CLI and REST API scripts or the "
        "Webflow script that apply the suggestions",
        file_count="multiple",
        interactive=False,
        elem_id="files",
    )
    with gr.Accordion("Review the suggestions before export", open=False, elem_id="review"):
        review_image = gr.Dropdown(label="Image (its suggestion)", choices=[], elem_id="review-image")
        review_decision = gr.Radio(["accept", "edit", "reject"], value="accept", label="Decision",
                                   elem_id="review-decision")  # fmt: skip
        review_text = gr.Textbox(label="Alt text to export", elem_id="review-text")
        review_save = gr.Button("Save the decision and update the downloads", elem_id="review-save")
        review_sheet = gr.File(label="Or upload the reviewed spreadsheet: the CSV or XLSX report with its decision "
                               "column filled (accept, edit, reject) and suggested_alt changed where edited",
                               file_types=[".csv", ".xlsx"], elem_id="review-sheet")  # fmt: skip
        review_status = gr.Markdown(elem_id="review-status")
    with gr.Accordion("Recent audits", open=True):
        recent_box = gr.Markdown(elem_id="recent")
    table = gr.Dataframe(headers=TABLE_HEADERS, visible=False, interactive=False)
    api_button = gr.Button(visible=False)
    timer = gr.Timer(POLL_S, active=False)
    form = [url_box, what, site_pages, *(controls[option.name] for option in FORM_OPTIONS)]
    shown = [progress_box, summary, gallery, report, files, cancel_button, timer, recent_box]
    remember = "(job) => { if (job) { window.history.replaceState(null, '', '?job=' + job); } }"
    for trigger in (run_button.click, url_box.submit):
        trigger(calls.start_job, form, [job_box, *shown], api_name=False).then(None, [job_box], None, js=remember)
    timer.tick(calls.poll, [job_box], shown, api_name=False, show_progress="hidden")
    cancel_button.click(calls.cancel, [job_box], [progress_box], api_name=False)
    review_image.focus(calls.review_choices, [job_box], [review_image], api_name=False)
    review_image.input(calls.review_pick, [job_box, review_image], [review_text, review_decision], api_name=False)
    review_save.click(calls.save_decision, [job_box, review_image, review_decision, review_text],
                      [review_status, files], api_name=False)  # fmt: skip
    review_sheet.upload(calls.save_sheet, [job_box, review_sheet], [review_status, files], api_name=False)
    api_names = ["min_size", "max_images", "model", "num_beams", "max_new_tokens", "prompt", "lang", "render"]
    api_inputs = [url_box, *(controls[name] for name in api_names)]
    api_button.click(calls.run_audit_form, api_inputs, [summary, gallery, table, files], api_name="audit")
    return controls["model"], job_box, shown


# Gradio's gallery makes as many columns as it has images, so one captioned image filled the page's width,
# cropped, above 450 px of empty grid: thumbnails keep their column's size, and the grid its content's height.
FORM_CSS = """
#gallery .grid-container { --grid-cols: 6 !important; }
#gallery .grid-wrap.fixed-height { min-height: 0 !important; height: auto !important; }
"""


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
        css=FORM_CSS,
    )


def build_parser() -> argparse.ArgumentParser:
    """The server's flags: every SERVER option of the table."""
    parser = OneSentenceParser(prog="altscout-app", description="The AltScout web form and REST API.")
    add_flags(parser, SERVER)
    return parser


def service_from_args(args: argparse.Namespace) -> Service:
    """The server's converter: flags to defaults, limits and keys."""
    for name in ("workers", "queue_size", "max_site_pages", "key_running", "key_queued"):
        if getattr(args, name) < 1:
            raise OptionsError(f"--{name.replace('_', '-')} must be at least 1")
    defaults = apply(vars(args), SERVER, model=resolve_model_id(args.model))
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
        browser_path(args.browser)
        folder(Path(args.data_dir), "--data-dir")
        listening = listening_socket(args.host, args.port)
        service = service_from_args(args)
    except InputError as exc:
        print(f"altscout-app: error: {exc.sentence(CLI)}", file=sys.stderr)
        return 2
    except (OptionsError, KeyFileError, OSError) as exc:
        print(f"altscout-app: error: {exc}", file=sys.stderr)
        return 2
    recovered = service.start()
    if recovered:
        log.info("continuing %d audit(s) interrupted by the last stop", len(recovered))
    log.info("AltScout on http://%s:%d/ (API docs at /docs), data in %s", args.host, args.port, args.data_dir)
    config = uvicorn.Config(create_app(service), host=args.host, port=args.port, log_level="warning")
    uvicorn.Server(config).run(sockets=[listening])
    return 0


if __name__ == "__main__":
    sys.exit(main())
