"""The web form's half of the server: its option controls (from the options table), the request it
makes, and its callbacks over the job store. ``app.py`` lays the form out and serves it.

A thin front end: the form's fields become an :class:`service.submit.AuditRequest`, exactly what
the REST API takes, and :class:`service.Service` does the rest.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from captioning import ModelLoadError
from captioning.translate import supported_languages
from options import AuditOptions
from options.table import FORM, Option, options_for
from pipeline import caption_image
from records import CAPTIONED
from reports.decisions import DECISIONS, Decision, DecisionsError
from service import Service
from service.jobs import DONE, FINAL_STATES, WEB_OWNER, Job, JobError, shown_on_form
from service.review import ReviewError, review_items, save_review, save_review_file
from service.submit import FRIENDLY_ERRORS, AuditRequest, JobOptionsIn, SubmitError, friendly, typed_target
from service.views import (
    gallery_items,
    progress_line,
    recent_markdown,
    report_frame,
    report_paths,
    summary_markdown,
    table_rows,
)

PAGE, SITE = "This page", "Whole site"
RECENT = 15
FORM_OPTIONS: list[Option] = sorted(options_for(FORM), key=lambda option: option.control.place)  # type: ignore[union-attr]


class AppError(Exception):
    """A message for the person using the form."""


def form_value(option: Option, base: AuditOptions) -> Any:
    """An option's starting value in the form: the server's default."""
    if option.name == "min_size":
        return base.min_width
    value = getattr(base, str(option.target or option.name), None)
    return ", ".join(value) if isinstance(value, tuple) else value  # keywords: one line of text


def control(option: Option, base: AuditOptions, models: Sequence[str]) -> Any:
    """The Gradio component that shows one option."""
    spec = option.control
    assert spec is not None
    value = form_value(option, base)
    common: dict[str, Any] = {"label": spec.label, "elem_id": spec.elem_id, "info": spec.info}
    if spec.widget == "number":
        return gr.Number(value, precision=0, minimum=option.minimum, **common)
    if spec.widget == "slider":
        return gr.Slider(option.minimum, option.maximum, value=value, step=1, **common)
    if spec.widget == "text":
        return gr.Textbox(placeholder=spec.placeholder, **common)
    if spec.widget == "checkbox":
        return gr.Checkbox(bool(value), **common)
    choices = {"model": list(models), "lang": ["en", "auto", *supported_languages()]}.get(option.name)
    return gr.Dropdown(choices or list(option.choices or ()), value=value, **common)


def job_request(url: str | None, what: str | None, site_pages: float | None, values: dict[str, Any]) -> AuditRequest:
    """The web form's converter: its fields (by option name) as the request the API also takes."""
    crawl = what == SITE
    given = {name: value.strip() if isinstance(value, str) else value for name, value in values.items()}
    given = {name: value for name, value in given.items() if value not in (None, "")}
    for option in FORM_OPTIONS:
        if option.type is int and given.get(option.name) is not None:
            given[option.name] = int(given[option.name])
    if crawl and site_pages is not None:
        given["max_pages"] = int(site_pages)
    try:
        options = JobOptionsIn(**given)
    except ValueError as exc:
        raise AppError(f"Invalid option: {str(exc).splitlines()[-1].strip()}.") from None
    return AuditRequest(urls=[url or ""], crawl=crawl, options=options)  # checked, in the form's words, by submit


class FormCallbacks:
    """What the form's buttons, timer and page load do, over one service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.store = service.store
        self.base = service.defaults
        self.models = list(service.allowed_models)

    def job_outputs(self, job: Job | None, first: bool = False) -> tuple[Any, ...]:
        """progress, summary, gallery, report, files, cancel button, timer, recent (skip what has not changed)."""
        if job is None:
            return ("", "", [], "", None, gr.update(visible=False), gr.Timer(active=False), self.recent())
        progress = progress_line(job, self.store.queued_ahead(job))
        if job.state not in FINAL_STATES:
            shown = ("", [], "", None) if first else (gr.skip(),) * 4
            return (progress, *shown, gr.update(visible=True), gr.Timer(active=True), gr.skip())
        folder = self.store.job_dir(job.id)
        if job.state == DONE:
            results = (summary_markdown(job), gallery_items(folder), report_frame(job), report_paths(folder))
        else:
            results = ("", [], "", None)
        return (progress, *results, gr.update(visible=False), gr.Timer(active=False), self.recent())

    def recent(self) -> str:
        """The recent audits list."""
        return recent_markdown(self.store.list(owner=WEB_OWNER, limit=RECENT))

    def find(self, job_id: str | None) -> Job | None:
        """A job by its link's id (None: none): the form's, the CLI's and the open API's jobs open here."""
        try:
            job = self.store.get(job_id.strip()) if job_id and job_id.strip() else None
        except JobError:
            return None
        return job if job is None or shown_on_form(job) else None

    def start_job(self, url: str, what: str, site_pages: float, *values: Any) -> tuple[Any, ...]:
        """Queue an audit from the form; the job page follows it from here."""
        try:
            fields = {option.name: value for option, value in zip(FORM_OPTIONS, values, strict=True)}
            request = job_request(url, what, site_pages, fields)
            job = self.service.submit(request, WEB_OWNER)
        except (AppError, SubmitError, JobError) as exc:
            raise gr.Error(str(exc)) from None
        return (job.id, *self.job_outputs(job, first=True))

    def open_job(self, request: gr.Request) -> tuple[Any, ...]:
        """A page load: show the job named by ``?job=ID`` (a reload, a link, another browser)."""
        job_id = request.query_params.get("job") if request else None
        job = self.find(job_id)
        if job_id and job is None:
            return ("", "There is no audit with that id (it may have expired).", *self.job_outputs(None)[1:])
        return (job.id if job else "", *self.job_outputs(job, first=True))

    def poll(self, job_id: str) -> tuple[Any, ...]:
        """The timer's tick: progress, then the results once the job is final."""
        return self.job_outputs(self.find(job_id))

    def cancel(self, job_id: str) -> str:
        """The cancel button."""
        job = self.find(job_id)
        if job is None:
            raise gr.Error("There is no audit to cancel.")
        return progress_line(self.store.cancel(job.id))

    def run_audit_form(
        self,
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
        values = {"min_size": min_size, "max_images": max_images, "model": model, "num_beams": num_beams,
                  "max_new_tokens": max_new_tokens, "prompt": prompt, "lang": lang, "render": render}  # fmt: skip
        try:
            job = self.service.submit(job_request(url, PAGE, None, values), WEB_OWNER)
        except (AppError, SubmitError, JobError) as exc:
            raise gr.Error(str(exc)) from None
        progress(0, desc="Waiting to start")
        while not job.finished:
            time.sleep(0.2)
            job = self.store.get(job.id)
            if job.images_known:
                progress((job.images_done, job.images_known), desc="images", unit="images")
        if job.state != DONE:
            raise gr.Error(job.error or "The audit did not finish.")
        folder = self.store.job_dir(job.id)
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        page = report["pages"][0]
        if page["status"] != "ok":
            raise gr.Error(friendly(page.get("error_code"), page.get("error")))
        files = [path for path in report_paths(folder) if not path.endswith("pages.csv")]
        return summary_markdown(job), gallery_items(folder), table_rows(page["images"]), files

    def review_choices(self, job_id: str) -> Any:
        """The review's image list: every exportable suggestion of the finished job."""
        job = self.find(job_id)
        items = review_items(self.store, job) if job is not None and job.state == DONE else []
        choices = [(_choice_label(item), item["key"]) for item in items]
        return gr.update(choices=choices, value=None)

    def review_pick(self, job_id: str, key: str | None) -> tuple[str, str]:
        """One suggestion's current text and decision."""
        job = self.find(job_id)
        items = review_items(self.store, job) if job is not None and key else []
        item = next((item for item in items if item["key"] == key), None)
        if item is None:
            return "", "accept"
        return item["text"], {"rejected": "reject", "edited": "edit"}.get(item["decision"] or "", "accept")

    def save_decision(self, job_id: str, key: str | None, decision: str, text: str) -> tuple[str, list[str]]:
        """Save one decision with the job; the job's reports and exports are written again."""
        job = self.find(job_id)
        item = next((item for item in review_items(self.store, job) if item["key"] == key), None) if job else None
        if job is None or not key:
            raise gr.Error("Choose an image of a finished audit first.")
        text = " ".join((text or "").split())
        if decision == "accept" and item is not None and text and text != item["text"]:
            decision = "edit"  # the text was changed: that is an edit
        entry = {"url": item["url"] if item else key, "decision": decision, "text": text,
                 "suggestion_basis": item["basis"] if item else None}  # fmt: skip
        try:
            decisions = save_review(self.store, job, [entry])
        except (ReviewError, DecisionsError) as exc:
            raise gr.Error(str(exc)) from None
        return _saved(decisions), report_paths(self.store.job_dir(job.id))

    def save_sheet(self, job_id: str, upload: str | None) -> tuple[str, list[str]]:
        """A reviewed sheet (the job's CSV or XLSX report, its decision column filled) saved as the review."""
        job = self.find(job_id)
        if job is None or not upload:
            raise gr.Error("Open a finished audit, then upload its reviewed CSV or XLSX report.")
        try:
            decisions = save_review_file(self.store, job, Path(upload).read_bytes())
        except (ReviewError, DecisionsError) as exc:
            raise gr.Error(_sentence(str(exc))) from None
        return _saved(decisions), report_paths(self.store.job_dir(job.id))

    def caption_one(self, upload: str | None, image_url: str, model: str) -> tuple[str, str]:
        """Caption an uploaded image, or an image URL: caption and a status line."""
        try:
            chosen = (model or self.base.model).strip()
            if chosen not in self.models:
                raise AppError("That model is not offered by this server.")
            options = AuditOptions(**{**self.base.to_dict(), "model": chosen, "min_width": 1, "min_height": 1})
            captioner = self.service.captioner_for(options)
            if upload:
                record = caption_image(Path(upload).read_bytes(), options, captioner)
            elif image_url and image_url.strip():
                target = typed_target(image_url, FORM)
                record = caption_image(target.url, options, captioner, typed=target.added_scheme)
            else:
                raise AppError("Upload an image or enter an image address.")
        except (AppError, SubmitError, ModelLoadError) as exc:
            raise gr.Error(str(exc)) from None
        if record.status != CAPTIONED:
            known = record.reason == "http_error" or record.reason in FRIENDLY_ERRORS
            unreadable = "That file is not an image AltScout can read."
            raise gr.Error(friendly(record.reason, record.detail) if known else unreadable)
        return record.caption or "", f"{record.width}x{record.height} {record.format}"


def _saved(decisions: dict[str, Decision]) -> str:
    """The status line after a review was saved."""
    counts = Counter(d.decision for d in decisions.values())
    said = ", ".join(f"{counts[k]} {v}" for k, v in DECISIONS.items() if counts[k])
    return f"Saved: {said}. The downloads now follow the review."


def _sentence(text: str) -> str:
    """A message as a sentence: a capital first, a period last."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else f"{text}."


def _choice_label(item: dict[str, Any]) -> str:
    """A review item as the form lists it; a suggestion that would replace a person's alt says so."""
    named = " (the name of its link)" if item["key"] != item["url"] else ""
    label = f"{item['url'].rsplit('/', 1)[-1][:60]}{named}: {item['text'][:70]}"
    if item["replaces"] is None:
        return label
    replaced = 'alt="", which marks it decorative' if item["replaces"] == "" else f"“{item['replaces'][:40]}”"
    return f"{label} (replaces {replaced}: exported once accepted)"
