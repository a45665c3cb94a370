"""AltScout web app (Gradio): paste a URL, watch progress, read and download the audit.

A thin front end: it turns form input into :class:`AuditOptions` (``options_from_form``),
runs the shared pipeline, and renders its records. ``build_app`` is a factory so tests can
build the app with a tiny model; ``launch`` happens only under ``__main__``.

    python app.py [--host 127.0.0.1] [--port 7860] [--model base] [--device auto] [--share]
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gradio as gr

from auditing import ISSUES
from captioning import Captioner, ModelLoadError, get_captioner, resolve_model_id
from captioning.blip import DEFAULT_MODEL
from captioning.translate import supported_languages
from options import DEVICES, DTYPES, RENDER_MODES, AuditOptions, OptionsError, parse_translation_models
from pipeline import ImageFinished, PageStarted, audit, caption_image
from records import CAPTIONED, AuditReport, ImageRecord
from reports import write_captions_txt, write_csv, write_html, write_json
from scraper.browser import BrowserUnavailableError

log = logging.getLogger("altscout.app")

TABLE_HEADERS = ["image", "status", "reason", "existing alt", "suggested alt", "issues", "caption", "size"]
THUMBNAIL_PX = 256
MAX_UPLOAD = "10mb"
QUEUE_SIZE = 16

# What a person is told for each failure code: no internal addresses, no tracebacks.
FRIENDLY_ERRORS = {
    "blocked_address": "This address is refused for safety: it points to a private, local or internal network.",
    "unsupported_scheme": "Only http:// and https:// addresses can be audited.",
    "bad_url": "That does not look like a valid web address.",
    "robots_disallowed": "The site's robots.txt does not allow AltScout to read this page.",
    "dns_error": "The site's name could not be found. Check the address.",
    "connection_error": "The page could not be reached.",
    "timeout": "The page took too long to answer.",
    "too_large": "The page is larger than AltScout reads.",
    "too_many_redirects": "The page redirects too many times.",
    "incomplete": "The connection broke while reading the page.",
    "not_html": "That address is an image, not a web page: use the Single image tab.",
}


class AppError(Exception):
    """A message for the person using the form."""


def friendly(code: str | None, detail: str | None = None) -> str:
    """One sentence for a person, for a pipeline error code."""
    if code == "http_error" and detail:
        status = detail.split()[1] if detail.startswith("HTTP ") else "an error"
        return f"The page answered with HTTP {status}."
    return FRIENDLY_ERRORS.get(code or "", "The page could not be audited.")


def normalise_url(text: str | None) -> str:
    """Trim the URL, add https:// when no scheme is given, reject what cannot be a page URL."""
    url = (text or "").strip()
    if not url:
        raise AppError("Please enter the address of a web page.")
    if "://" not in url and not url.lower().startswith(("javascript:", "data:", "file:", "about:", "mailto:")):
        url = "https://" + url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise AppError(FRIENDLY_ERRORS["bad_url"]) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise AppError(FRIENDLY_ERRORS["unsupported_scheme"])
    if not parts.hostname or " " in url:
        raise AppError(FRIENDLY_ERRORS["bad_url"])
    return url


def options_from_form(
    defaults: AuditOptions,
    min_size: float | None,
    max_images: float | None,
    model: str | None,
    num_beams: float | None,
    max_new_tokens: float | None,
    prompt: str | None,
    allowed_models: Sequence[str],
    lang: str | None = None,
    render: str | None = None,
) -> AuditOptions:
    """The web form's converter: server defaults overridden by the form's fields."""
    chosen = (model or defaults.model).strip()
    if chosen not in allowed_models:
        raise AppError("That model is not offered by this server.")

    def whole(value: float | None, fallback: int) -> int:
        return fallback if value is None else int(value)

    try:
        return dataclasses.replace(
            defaults,
            model=chosen,
            min_width=whole(min_size, defaults.min_width),
            min_height=whole(min_size, defaults.min_height),
            max_images=whole(max_images, defaults.max_images),
            num_beams=whole(num_beams, defaults.num_beams),
            max_new_tokens=whole(max_new_tokens, defaults.max_new_tokens),
            prompt=(prompt or "").strip() or None,
            lang=lang or defaults.lang,
            render=render or defaults.render,
            thumbnail_size=THUMBNAIL_PX,
        )
    except OptionsError as exc:
        raise AppError(f"Invalid option: {exc}.") from exc


def table_rows(records: Sequence[ImageRecord]) -> list[list[Any]]:
    """One row per image for the results table."""
    rows = []
    for record in records:
        size = f"{record.width}x{record.height}" if record.width and record.height else ""
        alt = "(none)" if record.alt is None else (record.alt or '(empty: "")')
        issues = ", ".join(f"{slug} ({ISSUES[slug].severity})" for slug in [*record.alt_issues, *record.seo_issues])
        suggested = "" if record.suggested_alt is None else (record.suggested_alt or '""')
        caption = record.caption or ""
        if record.caption_translated:
            caption += f"\n[{record.translation_lang}] {record.caption_translated}"
        if record.suggested_alt_translated:
            suggested += f"\n[{record.translation_lang}] {record.suggested_alt_translated}"
        rows.append([record.url, record.status, record.detail or "", alt, suggested, issues, caption, size])
    return rows


def summary_line(report: AuditReport) -> str:
    """found / captioned / skipped / failed, how the page was read, and every page warning."""
    s = report.summary()
    line = f"**{s['images']} images found**: {s['captioned']} captioned, {s['skipped']} skipped, {s['failed']} failed."
    pages = [page for page in report.pages if page.status == "ok"]
    if pages:
        how = "as a headless browser shows it" if all(p.rendered for p in pages) else "from its HTML (no browser)"
        line += f" Read {how}."
    warnings = [warning for page in report.pages for warning in page.warnings]
    return line + "".join(f"\n\n⚠ {html.escape(warning)}" for warning in warnings)


def _write_files(report: AuditReport) -> tuple[list[tuple[str, str]], list[str]]:
    """Gallery items from thumbnails, and the three report files, in a fresh temp folder."""
    folder = Path(tempfile.mkdtemp(prefix="altscout-run-"))
    gallery: list[tuple[str, str]] = []
    for page in report.pages:
        for index, record in enumerate(page.images):
            if record.status == CAPTIONED and record.thumbnail:
                path = folder / f"thumb-{index:04d}.jpg"
                path.write_bytes(record.thumbnail)
                gallery.append((str(path), record.caption or ""))
    files = [
        str(write_captions_txt(report, folder / "captions.txt")),
        str(write_json(report, folder / "report.json")),
        str(write_csv(report, folder / "report.csv")),
        str(write_html(report, folder / "report.html")),
    ]
    return gallery, files


def build_app(
    defaults: AuditOptions | None = None,
    captioner: Captioner | None = None,
    allowed_models: Sequence[str] | None = None,
) -> gr.Blocks:
    """Build the Blocks app. ``captioner`` overrides model loading (tests); the model loads lazily."""
    base = defaults or AuditOptions()
    models = list(dict.fromkeys([base.model, *(allowed_models or [])]))

    def captioner_for(options: AuditOptions) -> Captioner:
        if captioner is not None:
            return captioner
        return get_captioner(options.model, options.device, options.dtype)

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
        """Audit one page URL: summary, gallery, table rows, report files."""
        try:
            page_url = normalise_url(url)
            options = options_from_form(
                base, min_size, max_images, model, num_beams, max_new_tokens, prompt, models, lang, render
            )
            progress(0, desc="Fetching the page")
            report = None
            for event in audit([page_url], options, captioner_for(options)):
                if isinstance(event, PageStarted):
                    progress(0, desc="Reading the page")
                elif isinstance(event, ImageFinished):
                    progress((event.done, event.total), desc=f"{event.done} of {event.total} images", unit="images")
                elif hasattr(event, "report"):
                    report = event.report
        except AppError as exc:
            raise gr.Error(str(exc)) from None
        except ModelLoadError:
            log.exception("model load failed")
            raise gr.Error("The captioning model could not be loaded on this server.") from None
        except BrowserUnavailableError:
            log.exception("no browser")
            raise gr.Error("This server has no browser to render pages; choose 'never' or 'auto' rendering.") from None
        assert report is not None
        page = report.pages[0]
        if page.status != "ok":
            raise gr.Error(friendly(page.error_code, page.error))
        gallery, files = _write_files(report)
        return summary_line(report), gallery, table_rows(page.images), files

    def caption_one(upload: str | None, image_url: str, model: str) -> tuple[str, str]:
        """Caption an uploaded image, or an image URL: caption and a status line."""
        try:
            options = options_from_form(base, 1, None, model, None, None, None, models, "en")
            if upload:
                record = caption_image(Path(upload).read_bytes(), options, captioner_for(options))
            elif image_url and image_url.strip():
                record = caption_image(normalise_url(image_url), options, captioner_for(options))
            else:
                raise AppError("Upload an image or enter an image address.")
        except AppError as exc:
            raise gr.Error(str(exc)) from None
        except ModelLoadError:
            log.exception("model load failed")
            raise gr.Error("The captioning model could not be loaded on this server.") from None
        if record.status != CAPTIONED:
            known = record.reason == "http_error" or record.reason in FRIENDLY_ERRORS
            raise gr.Error(
                friendly(record.reason, record.detail) if known else "That file is not an image AltScout can read."
            )
        return record.caption or "", f"{record.width}x{record.height} {record.format}"

    with gr.Blocks(title="AltScout") as demo:
        gr.Markdown("# AltScout\nFind every image on a page, describe it with BLIP, and audit its alt text.")
        with gr.Tab("Page audit"):
            with gr.Row():
                url_box = gr.Textbox(label="Page URL", placeholder="https://example.com/", scale=4, elem_id="url")
                run_button = gr.Button("Run", variant="primary", scale=1, elem_id="run")
            with gr.Accordion("Options", open=False):
                with gr.Row():
                    min_size = gr.Number(base.min_width, label="Minimum image size (px)", precision=0, minimum=0)
                    max_images = gr.Number(base.max_images, label="Maximum images", precision=0, minimum=1)
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
            summary = gr.Markdown(elem_id="summary")
            gallery = gr.Gallery(label="Captioned images", columns=4, height="auto", elem_id="gallery")
            table = gr.Dataframe(
                headers=TABLE_HEADERS,
                label="All images",
                wrap=True,
                interactive=False,
                column_widths=["20%", "8%", "13%", "10%", "13%", "15%", "14%", "7%"],
                elem_id="table",
            )
            files = gr.File(
                label="Downloads: captions.txt, JSON, CSV, HTML report", file_count="multiple", elem_id="files"
            )
            inputs = [url_box, min_size, max_images, model_choice, beams, tokens, prompt, language, render]
            outputs = [summary, gallery, table, files]
            run_button.click(run_audit_form, inputs, outputs, api_name="audit")
            url_box.submit(run_audit_form, inputs, outputs, api_name=False)
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
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=1)
    return demo


def build_parser() -> argparse.ArgumentParser:
    """Server flags; generation flags set the form's defaults, as in the CLI."""
    d = AuditOptions()
    p = argparse.ArgumentParser(prog="altscout-app", description="Serve the AltScout web app.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="create a public Gradio share link (off by default)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="hub id, local folder, or alias 'base'/'large'")
    p.add_argument("--extra-models", nargs="*", default=[], help="other models the form may offer")
    p.add_argument("--device", choices=DEVICES, default=d.device)
    p.add_argument("--dtype", choices=DTYPES, default=d.dtype)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens)
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
        help="let the form reach loopback/private addresses (intranet deployments, tests)",
    )
    p.add_argument("--render", choices=RENDER_MODES, default=d.render, help="the form's default rendering mode")
    p.add_argument("--browser", default=None, metavar="PATH", help="Chromium/Chrome executable to render with")
    p.add_argument("--render-timeout", type=float, default=d.render_timeout_s, help="seconds per rendered page")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags and serve."""
    args = build_parser().parse_args(argv)
    defaults = AuditOptions(
        model=resolve_model_id(args.model),
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
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
    )
    demo = build_app(defaults, allowed_models=[resolve_model_id(m) for m in args.extra_models])
    demo.launch(
        server_name=args.host, server_port=args.port, share=args.share, show_error=False, max_file_size=MAX_UPLOAD
    )


if __name__ == "__main__":
    main()
