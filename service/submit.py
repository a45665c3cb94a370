"""From a request (web form or API) to a queued job: validation, the server's limits, one sentence per error.

Both front ends describe an audit the same way (:class:`AuditRequest`: URLs, page or whole site,
a few options) and call :func:`submit`, which checks it against the server's limits, turns it into
the stored :class:`AuditOptions` and queues the job. Every refusal is a :class:`SubmitError` whose
message is one sentence for a person: never a traceback, never an internal address.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, create_model

from options import AuditOptions, OptionsError
from options.preflight import InputError, Target, check_reachable_safely, page_url
from options.table import API, FORM, Option, apply, error_sentence, idle_option, options_for
from service.jobs import WEB_OWNER, Job, JobStore, Limits

THUMBNAIL_PX = 256
MAX_START_URLS = 20

# What a person is told for each failure code: no internal addresses, no tracebacks.
FRIENDLY_ERRORS = {
    "blocked_address": "This address is refused for safety: it points to a private, local or internal network.",
    "unsupported_scheme": "Only http:// and https:// addresses can be audited.",
    "bad_url": "That does not look like a valid web address.",
    "robots_disallowed": "The site's robots.txt does not allow AltScout to read this page.",
    "dns_error": "The site's name could not be found. Check the address.",
    "connection_error": "The page could not be reached.",
    "timeout": "The page took too long to answer.",
    "connect_timeout": "The site did not accept a connection in time.",
    "too_large": "The page is larger than AltScout reads.",
    "too_many_redirects": "The page redirects too many times.",
    "incomplete": "The connection broke while reading the page.",
    "not_html": "That address is not a web page or an image (a PDF, a video or another file).",
}


class SubmitError(ValueError):
    """A request that cannot be queued; the message is one sentence for a person."""


def friendly(code: str | None, detail: str | None = None) -> str:
    """One sentence for a person, for a pipeline error code (the same in the form and the API)."""
    if code == "http_error" and detail:
        status = detail.split()[1] if detail.startswith("HTTP ") else "an error"
        return f"The page answered with HTTP {status}."
    text = FRIENDLY_ERRORS.get(code or "", "The page could not be audited.")
    if code == "connection_error" and detail and detail.startswith("could not connect to ") and ": " in detail:
        # why, in the fetcher's fixed words (refused, TLS, a name that does not resolve): never an address
        text = f"{text.removesuffix('.')}: {detail.split(': ', 1)[1].removesuffix('.')}."
    return text


def typed_target(text: str | None, front: str = API) -> Target:
    """The URL a person typed, by the one rule every front end follows (https:// added when no scheme is
    given, and said in ``added_scheme``); SubmitError with one sentence in the front end's words."""
    try:
        return page_url(text)
    except InputError as exc:
        raise SubmitError(exc.sentence(front)) from None



def _api_field(option: Option) -> tuple[Any, Any]:
    """One request field: its type (Literal for choices) and pydantic Field with the table's bounds."""
    description = option.help.replace("%(default)s", str(option.default))
    if option.type is list:
        return list[str], Field(default_factory=list, max_length=option.max_length, description=description)
    kind: Any = Literal[option.choices] if option.choices else option.type  # type: ignore[valid-type]
    bounds = {"ge": option.minimum, "le": option.maximum, "max_length": option.max_length}
    return kind | None, Field(None, description=description, **{k: v for k, v in bounds.items() if v is not None})


JobOptionsIn = create_model(
    "JobOptionsIn",
    __config__=ConfigDict(extra="forbid", strict=True),  # "crawl": "yes" or "5" for a number is refused
    __doc__="The options a request may set; anything else is refused. Ranges are the server's outer bounds.",
    **{option.name: _api_field(option) for option in options_for(API)},  # type: ignore[call-overload]
)


class AuditRequest(BaseModel):
    """One audit to run: page URLs, or the start of a site crawl."""

    model_config = ConfigDict(extra="forbid", strict=True)

    urls: list[str] = Field(min_length=1, max_length=MAX_START_URLS, description="page URLs (or crawl start URLs)")
    crawl: bool = Field(False, description="audit the whole site from these URLs")
    options: JobOptionsIn = Field(default_factory=JobOptionsIn)


@dataclass(frozen=True)
class ServerLimits:
    """What this server allows: its models and its ceiling on pages per audit."""

    allowed_models: Sequence[str]
    max_site_pages: int = 200


def sentence(errors: Sequence[Mapping[str, Any]]) -> str:
    """One sentence from the problem pydantic found that best explains the others (``ValidationError.errors()``).

    A misspelt field is reported before the field it leaves missing (``url`` for ``urls``), with the
    name meant; an option sent at the top level is told to go inside ``options``.
    """
    unknown = [error for error in errors if error.get("type") == "extra_forbidden"]
    first = unknown[0] if unknown else errors[0] if errors else {}
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    where = ".".join(loc) or "the request"
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return _unknown_field(loc)
    if kind == "missing":
        return f"The field '{where}' is required."
    if kind == "json_invalid":
        return "The request body is not valid JSON."
    if kind == "list_type" and loc == ["urls"]:
        return 'The field \'urls\' is a list of addresses: send "urls": ["https://example.com/"].'
    message = str(first.get("msg", "is not valid"))
    return f"The field '{where}' is not valid: {message[0].lower()}{message[1:]}."


def _unknown_field(loc: Sequence[str]) -> str:
    """An unknown field, with the field meant when a known one is close, or where an option belongs."""
    name = loc[-1] if loc else ""
    where = ".".join(loc)
    if len(loc) == 1 and name in JobOptionsIn.model_fields:
        return f"'{name}' is an option: send it inside 'options', as {{\"options\": {{\"{name}\": ...}}}}."
    if loc[:1] == ["options"] and len(loc) == 2 and name in AuditRequest.model_fields:
        return f"'{name}' is not an option: send it beside 'urls', as {{\"urls\": [...], \"{name}\": ...}}."
    known = list(JobOptionsIn.model_fields if loc[:1] == ["options"] else AuditRequest.model_fields)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
    if close:
        return f"Unknown field '{where}'; did you mean '{'.'.join([*loc[:-1], close[0]])}'?"
    return f"Unknown field '{where}'; see the API documentation at /docs for the fields an audit takes."


def build_options(request: AuditRequest, defaults: AuditOptions, limits: ServerLimits) -> AuditOptions:
    """The server's defaults overridden by the request, within the server's limits."""
    given = request.options
    model = (given.model or defaults.model).strip()
    if model not in limits.allowed_models:
        raise SubmitError("That model is not offered by this server.")
    if given.max_pages is not None and given.max_pages > limits.max_site_pages:
        raise SubmitError(f"This server audits at most {limits.max_site_pages} pages of a site (max_pages).")
    if idle := idle_option({**given.model_dump(), "crawl": request.crawl}, API):  # the API's one need: a crawl
        name = idle[0].name
        raise SubmitError(f"'{name}' applies to a crawl: send \"crawl\": true beside 'urls' to audit the whole "
                          f"site, or leave '{name}' out.")  # fmt: skip
    if not request.crawl and len(request.urls) > limits.max_site_pages:
        raise SubmitError(f"This server audits at most {limits.max_site_pages} pages in one audit.")
    try:
        return apply(
            given.model_dump(),
            API,
            defaults,
            model=model,
            thumbnail_size=THUMBNAIL_PX,
            processes=0,  # jobs run side by side: a pool of processes per job would multiply
            crawl=request.crawl,
            prompt=(given.prompt or "").strip() or None,
            max_pages=min(given.max_pages or limits.max_site_pages, limits.max_site_pages),
        )
    except OptionsError as exc:
        raise SubmitError(error_sentence(exc, API)) from exc


def site_of(url: str) -> str:
    """The site a job belongs to (for listing and comparison): the first URL's host, lower-case."""
    return (urlsplit(url).hostname or "").lower()


def submit(
    store: JobStore,
    request: AuditRequest,
    defaults: AuditOptions,
    limits: ServerLimits,
    owner: str,
    owner_limits: Limits | None = None,
) -> Job:
    """Validate a request and queue it; SubmitError or QueueFullError (one sentence) when it cannot be."""
    front = FORM if owner == WEB_OWNER else API
    try:
        targets = [page_url(url) for url in request.urls]
        for target in targets:
            check_reachable_safely(target.url, defaults.allow_private)
    except InputError as exc:
        raise SubmitError(exc.sentence(front)) from None
    urls = list(dict.fromkeys(target.url for target in targets))
    options = build_options(request, defaults, limits)
    options = replace(options, scheme_added=tuple(t.url for t in targets if t.added_scheme))
    stored = options.to_dict()
    stored.pop("state_path", None)
    return store.submit(urls, request.crawl, stored, site_of(urls[0]), owner, owner_limits)
