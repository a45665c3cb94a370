"""The REST API (``/api/v1``) and the one FastAPI server that also carries the Gradio app.

Handlers only turn HTTP into calls on :class:`service.Service` and jobs into JSON; every error is
``{"error": "one sentence"}`` with a 4xx status (401 without a valid key when keys are set, 404 for
an unknown job, 409 for a report not ready, 429 for a full queue), never a traceback. FastAPI
documents it all at ``/docs`` (OpenAPI at ``/openapi.json``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from options.table import API as TABLE_API
from options.table import options_for
from reports.decisions import DecisionsError, to_entries
from service import Service
from service.jobs import (
    DONE,
    FINAL_STATES,
    OPEN_API_OWNER,
    RUNNING,
    WEB_OWNER,
    Job,
    JobError,
    JobNotFoundError,
    QueueFullError,
    shown_on_form,
)
from service.keys import ApiKey
from service.review import (
    MAX_SHEET_BYTES,
    ReviewError,
    review_items,
    save_review,
    save_review_file,
    saved_decisions,
)
from service.runner import REPORT_FILES
from service.submit import AuditRequest, SubmitError, friendly, sentence

log = logging.getLogger("altscout.api")

API = "/api/v1"
DELETE_WAIT_S = 15.0
DOCS_ASSETS = "/docs-assets"


def public_options(stored: dict[str, Any]) -> dict[str, Any]:
    """A job's options under the names a request gives them (``min_size``, not ``min_width``)."""
    shown: dict[str, Any] = {}
    for option in options_for(TABLE_API):
        field = option.target or (option.sets[0] if option.sets else None)
        if field is not None:
            shown[option.name] = stored.get(field)
    return shown


class ApiError(Exception):
    """An answer other than success: a status and one sentence."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds") if timestamp else None


def job_links(job: Job, base: str = "") -> dict[str, str]:
    """Where to read a job and its reports."""
    root = f"{base}{API}/audits/{job.id}"
    links = {"self": root, "cancel": f"{root}/cancel", "suggestions": f"{root}/suggestions",
             "decisions": f"{root}/decisions"}  # fmt: skip
    left_out = (job.summary or {}).get("not_written") or {}  # a finished audit's files: what it wrote
    for name in REPORT_FILES:
        if (name != "pages.csv" or job.crawl) and name not in left_out:
            links[name.replace(".", "_")] = f"{root}/{name}"
    if job.owner == WEB_OWNER:
        links["page"] = f"{base}/?job={job.id}"
    return links


def job_json(job: Job) -> dict[str, Any]:
    """A job as the API shows it (no internal paths, no owner key)."""
    summary = dict(job.summary or {})
    page_error = summary.pop("page_error", None)
    if page_error:
        summary["page_error"] = friendly(page_error.get("code"), page_error.get("detail"))
    return {
        "id": job.id,
        "state": job.state,
        "site": job.site,
        "urls": job.urls,
        "crawl": job.crawl,
        "progress": {
            "pages_done": job.pages_done,
            "pages_known": job.pages_known,
            "images_done": job.images_done,
            "images_known": job.images_known,
        },
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "resumed_after_restart": job.resumes,
        "cancel_requested": job.cancel_requested and job.state == RUNNING,
        "options": public_options(job.options),
        "summary": summary or None,
        "error": job.error,
        "links": job_links(job),
    }


def api_caller(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer API key")] = None,
    x_api_key: Annotated[str | None, Header(description="or the API key alone")] = None,
) -> ApiKey | None:
    """The caller's key; None when the API is open; 401 when keys are set and none matches."""
    service: Service = request.app.state.service
    if not service.keys.required:
        return None
    presented = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        presented = authorization[7:].strip()
    key = service.keys.find(presented)
    if key is None:
        raise ApiError(401, "An API key is required: send 'Authorization: Bearer KEY'.", {"WWW-Authenticate": "Bearer"})
    return key


Caller = Annotated[ApiKey | None, Depends(api_caller)]


def build_router(service: Service) -> APIRouter:
    """The ``/api/v1`` routes over one service."""
    router = APIRouter(prefix=API, tags=["audits"])

    def owner_of(key: ApiKey | None) -> str | None:
        """Whose jobs a caller sees: a key sees its own; without keys the API sees every job."""
        return key.name if key else None

    def find(job_id: str, key: ApiKey | None) -> Job:
        try:
            return service.store.get(job_id, owner_of(key))
        except JobNotFoundError as exc:
            raise ApiError(404, str(exc)) from None

    @router.post("/audits", status_code=202, summary="Start an audit (a page list or a whole site)")
    def create_audit(body: AuditRequest, request: Request, key: Caller) -> JSONResponse:
        try:
            job = service.submit(body, key.name if key else OPEN_API_OWNER, key.limits if key else None)
        except QueueFullError as exc:
            raise ApiError(429, str(exc), {"Retry-After": "60"}) from None
        except SubmitError as exc:
            raise ApiError(400, str(exc)) from None
        return JSONResponse(job_json(job), status_code=202, headers={"Location": job_links(job)["self"]})

    @router.get("/audits", summary="List audits, newest first")
    def list_audits(
        key: Caller,
        site: Annotated[str | None, Query(max_length=300, description="a site's host, e.g. shop.example")] = None,
        state: Annotated[str | None, Query(pattern="^(queued|running|done|failed|cancelled)$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        jobs = service.store.list(site=site.lower() if site else None, owner=owner_of(key), state=state, limit=limit)
        return {"audits": [job_json(job) for job in jobs]}

    @router.get("/audits/{job_id}", summary="An audit's state, progress and summary")
    def get_audit(job_id: str, key: Caller) -> dict[str, Any]:
        return job_json(find(job_id, key))

    @router.post("/audits/{job_id}/cancel", summary="Cancel a queued or running audit")
    def cancel_audit(job_id: str, key: Caller) -> dict[str, Any]:
        find(job_id, key)
        return job_json(service.store.cancel(job_id))

    @router.delete("/audits/{job_id}", status_code=204, summary="Delete an audit and its files (cancels it first)")
    def delete_audit(job_id: str, key: Caller) -> Response:
        find(job_id, key)
        service.store.cancel(job_id)
        deadline = time.monotonic() + DELETE_WAIT_S
        while not service.store.delete(job_id):
            if time.monotonic() > deadline:
                raise ApiError(409, "The audit is still stopping; try the delete again in a few seconds.")
            time.sleep(0.2)
        return Response(status_code=204)

    def report_route(name: str, media_type: str) -> None:
        @router.get(f"/audits/{{job_id}}/{name}", summary=f"The finished audit's {name}", name=f"report_{name}")
        def report(job_id: str, key: Caller) -> FileResponse:
            job = find(job_id, key)
            return report_file(service, job, name, media_type)

    for name, media_type in REPORT_FILES.items():
        report_route(name, media_type)

    _review_routes(router, service, find)
    return router


def _review_routes(router: APIRouter, service: Service, find: Callable[[str, ApiKey | None], Job]) -> None:
    """The review of a finished audit: what it offers, the decisions saved, a decided sheet."""

    @router.get("/audits/{job_id}/suggestions", summary="What a finished audit offers to review")
    def get_suggestions(job_id: str, key: Caller) -> dict[str, Any]:
        """Each exportable suggestion once per image: its text, the decision on it, the alt it would replace."""
        job = find(job_id, key)
        if job.state != DONE:
            raise ApiError(409, f"Only a finished audit has suggestions to review; this one is {job.state}.")
        return {"suggestions": review_items(service.store, job)}

    @router.get("/audits/{job_id}/decisions", summary="The review of a finished audit's suggestions")
    def get_decisions(job_id: str, key: Caller) -> dict[str, Any]:
        return {"decisions": to_entries(saved_decisions(service.store, find(job_id, key)))}

    @router.put("/audits/{job_id}/decisions", summary="Accept, edit or reject suggestions; the reports follow")
    def put_decisions(job_id: str, body: dict[str, Any], key: Caller) -> dict[str, Any]:
        job = find(job_id, key)
        entries = body.get("decisions")
        if not isinstance(entries, list):
            raise ApiError(422, 'Send {"decisions": [{"url": ..., "decision": "accept|edit|reject", "text": ...}]}.')
        try:
            decisions = save_review(service.store, job, entries)
        except ReviewError as exc:
            raise ApiError(409, str(exc)) from None
        except DecisionsError as exc:
            raise ApiError(422, f"{exc}.") from None
        return {"decisions": to_entries(decisions)}

    @router.put("/audits/{job_id}/decisions/sheet", summary="A reviewed sheet: the CSV or XLSX report, decided")
    async def put_review_sheet(job_id: str, request: Request, key: Caller) -> dict[str, Any]:
        job = find(job_id, key)
        data = bytearray()
        async for chunk in request.stream():  # read up to the cap, never a whole oversized body
            data += chunk
            if len(data) > MAX_SHEET_BYTES:
                raise ApiError(413, f"The reviewed sheet is over {MAX_SHEET_BYTES // 1_000_000} MB.")
        try:
            decisions = await run_in_threadpool(save_review_file, service.store, job, bytes(data))
        except ReviewError as exc:
            raise ApiError(409, str(exc)) from None
        except DecisionsError as exc:
            raise ApiError(422, f"{exc}.") from None
        return {"decisions": to_entries(decisions)}


def report_file(service: Service, job: Job, name: str, media_type: str) -> FileResponse:
    """A finished job's report file; 409 before it is done, 404 when that report does not exist."""
    if job.state not in FINAL_STATES:
        raise ApiError(409, f"The audit is not finished yet ({job.state}); poll its status until it is done.")
    path = service.store.job_dir(job.id) / name
    if job.state != DONE and not path.exists():
        raise ApiError(409, f"The audit ended {job.state} and has no reports.")
    if not path.exists():
        why = ((job.summary or {}).get("not_written") or {}).get(name)
        raise ApiError(404, f"This audit has no {name}: {why}." if why else
                       f"This audit has no {name} (pages.csv exists for whole-site audits).")  # fmt: skip
    return FileResponse(path, media_type=media_type, filename=name, content_disposition_type="inline")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_server(service: Service) -> FastAPI:
    """The FastAPI app: the REST API, the web form's report pages, errors as one sentence."""
    app = FastAPI(
        title="AltScout API",
        version="1",
        description="Audit the images of web pages and whole sites: alt text, captions, SEO. "
        "Start an audit with POST /api/v1/audits, poll it, then download its reports.",
        docs_url=None,  # served below from the swagger-ui-bundle-v2 wheel: no CDN, works offline
        redoc_url=None,
    )
    add_offline_docs(app)

    @app.exception_handler(ApiError)
    def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message = sentence(list(exc.errors()))
        return _error(400 if "not valid JSON" in message else 422, message)

    @app.exception_handler(StarletteHTTPException)
    def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: "Not found.", 405: "That method is not allowed here."}.get(exc.status_code, "Bad request.")
        return _error(exc.status_code, message)

    @app.exception_handler(JobError)
    def job_error(_: Request, exc: JobError) -> JSONResponse:
        return _error(404 if isinstance(exc, JobNotFoundError) else 409, str(exc))

    @app.exception_handler(Exception)
    def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error", exc_info=exc)
        return _error(500, "Something went wrong on the server; the server log has the details.")

    @app.get(f"{API}/health", tags=["service"], summary="Is the service up; jobs by state")
    def health() -> dict[str, Any]:
        return {"ok": True, "jobs": service.store.counts()}

    @app.get("/jobs/{job_id}/report.html", include_in_schema=False)
    def web_report(job_id: str) -> FileResponse:
        """The HTML report of a job, for the web form's job page (its unguessable id is the capability)."""
        try:
            job = service.store.get(job_id)
        except JobNotFoundError:
            job = None
        if job is None or not shown_on_form(job):
            raise ApiError(404, "There is no audit with that id.")
        return report_file(service, job, "report.html", REPORT_FILES["report.html"])

    app.state.service = service
    router = build_router(service)
    app.include_router(router)
    add_unknown_routes(app, [*router.routes, *app.routes])
    return app


def add_offline_docs(app: FastAPI) -> None:
    """``/docs`` with Swagger UI's own files from the installed wheel (favicon included)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="AltScout API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )


def add_unknown_routes(app: FastAPI, routes: list[Any]) -> None:
    """Every other path under ``/api`` answers ``{"error": sentence}`` (404, or 405 for a wrong method)
    here, before the web form mounted at ``/`` would answer in its own words."""
    api_routes = [route for route in routes if getattr(route, "path", "").startswith(API)]
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    @app.api_route("/api/{rest:path}", methods=methods, include_in_schema=False)
    def unknown(request: Request, rest: str) -> JSONResponse:
        path = request.url.path
        allowed = sorted({m for route in api_routes if route.path_regex.match(path) for m in route.methods or ()})
        if allowed:
            return _error(405, f"{request.method} is not allowed on {path}; use {', '.join(allowed)}.")
        return _error(404, f"There is no API route {path}; the routes are listed at /docs.")
