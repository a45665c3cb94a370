"""The page stage: one page URL in, its records out (statically, or as a browser shows it).

:func:`discover_page` fetches or renders the page, finds its images (one record per URL,
rendered and static finds merged), and skips the ones that need no download. Every byte comes
through the guarded fetcher, directly or by way of the browser's request interception; what
the browser loaded stays in :class:`PageBytes` so the image stage reuses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from auditing.checks import SOCIAL_SOURCES
from options import AuditOptions
from options.preflight import PLAIN_HTTP, plain_http
from records import PENDING, ImageRecord, PageReport
from scraper.browser import INSTALL_HINT, BrowserUnavailableError
from scraper.discover import ParsedPage, find_images, parse_page, stylesheet_imports
from scraper.errors import HTTPStatusError, NoTLSError, ScrapeError
from scraper.images import image_size, make_thumbnail, prepare_image
from scraper.net import HTTP_ADVICE, Fetcher, FetchResult, check_url
from scraper.render import Renderer, RenderError, RenderResult
from scraper.render_ax import ShotBudget
from scraper.render_route import RenderBudget, ResponseStash
from scraper.rendered import add_network_images, client_rendered_signs, merge_static, records_from_snapshot
from scraper.responses import NOT_MODIFIED, ResponseStore
from scraper.robots import RobotsCache
from scraper.urls import PAGE_OR_IMAGE_TYPES, PAGE_TYPES, ContentTypes, normalise_url
from state.history import PreviousPage

log = logging.getLogger("altscout")

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
CSS_ACCEPT = "text/css,*/*;q=0.1"
BLOCKED_SHOWN = 5
UNDECLARED_ENCODING = (
    "the page does not declare its character encoding (no charset in Content-Type, no <meta charset>): Chromium "
    "reads such a page as windows-1252 where others guess UTF-8, so its accented alt texts and file names show "
    'garbled in some browsers; declare it, e.g. <meta charset="utf-8">'
)


class PageBytes:
    """Fetch through the guarded fetcher, answering first from what the browser already loaded,
    then from the run's response store (each URL goes to the site once per audit)."""

    def __init__(
        self, fetcher: Fetcher, stash: ResponseStash | None = None, responses: ResponseStore | None = None
    ) -> None:
        self.fetcher = fetcher
        self.stash = stash
        self.responses = responses

    def fetch(self, url: str, *, max_bytes: int, deadline_s: float, accept: str) -> FetchResult:
        """A stashed or stored 2xx answer within ``max_bytes``, else a guarded download; HTTPStatusError on 4xx/5xx."""
        if self.stash is not None and (error := self.stash.error(url)) is not None:
            raise error
        stashed = self.stash.get(url) if self.stash is not None else None
        if stashed is not None and len(stashed.content) <= max_bytes:
            if stashed.status >= 400:
                raise HTTPStatusError(stashed.status, stashed.final_url)
            return stashed
        if self.responses is None:
            return self.fetcher.fetch(url, max_bytes=max_bytes, deadline_s=deadline_s, accept=accept)
        result = self.responses.fetch(
            url, max_bytes=max_bytes, deadline_s=deadline_s, accept=accept,
            max_redirects=self.fetcher.policy.max_redirects,
        )  # fmt: skip
        if result.status >= 300:
            raise HTTPStatusError(result.status, result.final_url)
        return result

    def release(self) -> None:
        """Free the browser's bytes once the page's images are done."""
        if self.stash is not None:
            self.stash.clear()


@dataclass
class DiscoveredPage:
    """A page with its records, the bytes its images may be read from, and where it points."""

    page: PageReport
    source: PageBytes
    links: list[str] = field(default_factory=list)  # static and rendered links, absolute
    canonical: str | None = None
    content_sha256: str | None = None  # the HTML document's hash: identical pages are one page
    validators: tuple[str | None, str | None] = (None, None)  # the document's ETag and Last-Modified
    unchanged: bool = False  # a re-audit: the page answered 304 or the same HTML; its stored discovery stands
    read_with: str = ""  # how it was read (reading_key): a stored discovery stands only for the same way


@dataclass(frozen=True)
class PageChecks:
    """A crawl's checks on the page request itself, before any body is read."""

    redirect_guard: Callable[[str], str | None] | None = None  # refuses a redirect hop with a sentence
    require_type: ContentTypes | None = None  # refuses a non-page Content-Type

    @classmethod
    def for_url(cls, why_out: Callable[[str], str | None] | None, typed: bool) -> PageChecks:
        """The checks on a URL's page request: in a crawl (``why_out``) its redirects stay in scope; a URL a
        person typed (a target, a crawl's start) may answer with a page or an image, which is audited as
        itself; a URL a crawl found, with a page only. Anything else (a PDF, a video) is refused unread."""
        return cls(why_out, PAGE_OR_IMAGE_TYPES if typed else PAGE_TYPES)


def render_budget(options: AuditOptions) -> RenderBudget:
    """The browser's budgets for one page."""
    return RenderBudget(
        timeout_s=options.render_timeout_s,
        max_requests=options.render_max_requests,
        max_bytes=options.render_max_bytes,
        document_max_bytes=options.page_max_bytes,
        resource_max_bytes=options.image_max_bytes,
        resource_deadline_s=options.image_deadline_s,
        shots=ShotBudget(min_width=options.min_width, min_height=options.min_height),
    )


def how_to_render(options: AuditOptions, unavailable: BrowserUnavailableError | None) -> str:
    """The sentence that tells a person how to see this page as a browser does."""
    if options.render == "never":
        return "run with --render auto (or always) to read it in a headless browser"
    reason = unavailable.message if unavailable is not None else f"no browser: {INSTALL_HINT}"
    return f"it was read without a browser because {reason}"


def discover_page(
    url: str,
    options: AuditOptions,
    fetcher: Fetcher,
    robots: RobotsCache,
    renderer: Renderer | None,
    unavailable: BrowserUnavailableError | None = None,
    checks: PageChecks | None = None,
    responses: ResponseStore | None = None,
    previous: PreviousPage | None = None,
) -> DiscoveredPage:
    """Find the images of one page; a page-level problem raises a ScrapeError.

    Subresources come from ``responses`` (the run's store) when given. With ``previous`` (what an
    earlier run read), the page is asked for conditionally: a ``304`` or the same HTML returns an
    ``unchanged`` DiscoveredPage without records, whose stored discovery the engine restores.
    """
    checks = checks or PageChecks()
    page = PageReport(url=url)
    read_with = reading_key(options, renderer is not None)
    if previous is not None and previous.read_with != read_with:
        previous = None  # read another way before (browser or not, other limits): read it in full
    check_url(url)
    read_url, document = url, None
    if typed_without_scheme(url, options):
        read_url, document = _typed_address(page, options, fetcher, robots, checks, previous)
    else:
        if not options.ignore_robots:
            robots.check(url)
        if previous is not None:
            document = _page_request(url, options, fetcher, checks, previous)
    if document is not None and previous is not None and _unchanged(document, previous):
        page.final_url = document.final_url
        validators = _validators(document, previous)
        source = PageBytes(fetcher, None, responses)
        return DiscoveredPage(page, source, [], None, previous.sha256, validators, True, read_with)
    rendered: RenderResult | None = None
    if renderer is not None:
        try:
            budget = render_budget(options)
            rendered = renderer.render(
                read_url, fetcher, budget, checks.redirect_guard, checks.require_type, responses, document
            )
        except RenderError as exc:
            page.warnings.append(f"not rendered in the browser ({exc.message}); read statically instead")
    if rendered is not None and rendered.document is not None and is_image_answer(rendered.document):
        return _image_target(page, rendered.document, options, fetcher, responses, read_with)
    if rendered is not None:
        source = PageBytes(fetcher, rendered.stash, responses)
        records, parsed = _rendered_records(page, rendered, options, source)
        links = [*rendered.snapshot.get("links", []), *parsed.links()]
    else:
        source = PageBytes(fetcher, None, responses)
        document = document or _page_request(url, options, fetcher, checks, None)
        if document.status >= 400:
            raise HTTPStatusError(document.status, document.final_url)
        if is_image_answer(document):
            return _image_target(page, document, options, fetcher, responses, read_with)
        parsed = _parse_document(page, document)
        links = parsed.links()
        records = find_images(parsed, _fetch_stylesheets(parsed, page, options, source))
        signs = client_rendered_signs(parsed, len(records))
        if signs:
            page.warnings.append(
                f"this page looks client-rendered ({'; '.join(signs)}): images that JavaScript adds are missing; "
                + how_to_render(options, unavailable)
            )
    prefilter(records, options)
    if rendered is not None:
        read_shown_too_small(records, rendered.stash, options)
    page.images = records
    page.subject = parsed.context.page_subject()
    page.site_name = parsed.context.site_name
    page.generator = parsed.context.generator
    page.base_url = parsed.base_url if parsed.base_url != (parsed.final_url or page.final_url) else None
    read = rendered.document if rendered is not None else document
    assert read is not None
    digest = hashlib.sha256(read.content).hexdigest()
    links = list(dict.fromkeys(links))
    return DiscoveredPage(page, source, links, parsed.canonical, digest, _validators(read), False, read_with)


def is_image_answer(document: FetchResult) -> bool:
    """Whether a page request was answered with an image (a crawl refuses those before reading them)."""
    return document.content_type.startswith("image/")


def _image_target(
    page: PageReport,
    document: FetchResult,
    options: AuditOptions,
    fetcher: Fetcher,
    responses: ResponseStore | None,
    read_with: str,
) -> DiscoveredPage:
    """An address given to audit that is an image, not a page: the image itself is its one record
    (``found_in`` ``url``), captioned from the answer already read, with an alt text to suggest."""
    page.final_url = document.final_url
    stash = ResponseStash(len(document.content))
    stash.put(document.final_url, document, is_image=True)
    if responses is not None:  # for the image stage in another process (a worker, a Ray actor on this node)
        responses.keep(document)
    record = ImageRecord(source=document.final_url, found_in=["url"], occurrences=1)
    prefilter([record], options)
    page.images = [record]
    digest = hashlib.sha256(document.content).hexdigest()
    source = PageBytes(fetcher, stash, responses)
    return DiscoveredPage(page, source, [], None, digest, _validators(document), False, read_with)


def typed_without_scheme(url: str, options: AuditOptions) -> bool:
    """Whether ``url`` is a start URL a person typed without a scheme (read at https:// first)."""
    typed = options.scheme_added
    return url in typed or (options.crawl and url in {normalise_url(u) for u in typed})


def _typed_address(
    page: PageReport,
    options: AuditOptions,
    fetcher: Fetcher,
    robots: RobotsCache,
    checks: PageChecks,
    previous: PreviousPage | None,
) -> tuple[str, FetchResult]:
    """A typed address is read at https://; where nothing speaks TLS (refused, or a plain-HTTP answer), at
    http://, as browsers fall back, with a page warning that says so. Returns the URL read and its answer."""
    try:
        if not options.ignore_robots:
            robots.check(page.url)
        return page.url, _page_request(page.url, options, fetcher, checks, previous)
    except NoTLSError as exc:
        plain = plain_http(page.url)
        check_url(plain)
        if not options.ignore_robots:
            robots.check(plain)
        document = _page_request(plain, options, fetcher, checks, previous)
        why = exc.message.split(": ", 1)[-1].removesuffix(HTTP_ADVICE)  # the advice is what was done
        page.warnings.insert(0, PLAIN_HTTP.format(why=why, url=plain))
        return plain, document


READING_OPTIONS = (
    "min_width", "min_height", "max_images", "page_max_bytes", "css_max_bytes", "max_stylesheets", "user_agent",
    "render_timeout_s", "render_max_requests", "render_max_bytes",
)  # fmt: skip


def reading_key(options: AuditOptions, rendering: bool) -> str:
    """What a page's discovery depends on besides its HTML: the browser, and the options that shape
    its records. A re-audit reuses a stored discovery only when this is the same."""
    material = {"rendered": rendering} | {name: getattr(options, name) for name in READING_OPTIONS}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def _page_request(
    url: str, options: AuditOptions, fetcher: Fetcher, checks: PageChecks, previous: PreviousPage | None
) -> FetchResult:
    """The page's own request (conditional when an earlier run read it); 4xx/5xx are returned."""
    return fetcher.fetch(
        url,
        max_bytes=options.page_max_bytes,
        deadline_s=options.page_deadline_s,
        accept=HTML_ACCEPT,
        raise_for_status=previous is None,
        headers=previous.conditional_headers() if previous is not None else None,
        redirect_guard=checks.redirect_guard,
        require_type=checks.require_type,
    )


def _unchanged(document: FetchResult, previous: PreviousPage) -> bool:
    """The page answered 304, or the same HTML as when it was last read."""
    if document.status == NOT_MODIFIED:
        return True
    return document.status < 300 and hashlib.sha256(document.content).hexdigest() == previous.sha256


def _validators(document: FetchResult, previous: PreviousPage | None = None) -> tuple[str | None, str | None]:
    """The page's ETag and Last-Modified (a 304 may leave them out: the earlier ones stand)."""
    etag, modified = document.headers.get("etag"), document.headers.get("last-modified")
    if previous is not None:
        etag, modified = etag or previous.etag, modified or previous.last_modified
    return etag, modified


def _parse_document(page: PageReport, document: FetchResult) -> ParsedPage:
    page.final_url = document.final_url
    if is_image_answer(document):  # a target is read as its image before this; a safety net
        raise ScrapeError(f"{page.url} is an image, not an HTML page", code="not_html")
    parsed = parse_page(document.content, document.final_url, document.charset)
    page.title, page.lang = parsed.title, parsed.lang
    if parsed.guessed_utf8 and UNDECLARED_ENCODING not in page.warnings:
        page.warnings.append(UNDECLARED_ENCODING)
    return parsed


def _rendered_records(
    page: PageReport, rendered: RenderResult, options: AuditOptions, source: PageBytes
) -> tuple[list[ImageRecord], ParsedPage]:
    """Records from the rendered DOM, merged with static discovery of the same document."""
    document = rendered.document
    assert document is not None
    if document.status >= 400:
        raise HTTPStatusError(document.status, document.final_url)
    parsed = _parse_document(page, document)
    page.rendered = True
    snapshot = rendered.snapshot
    page.title = snapshot.get("title") or page.title
    page.lang = snapshot.get("lang") or page.lang
    static = find_images(parsed, _fetch_stylesheets(parsed, page, options, source))
    records, aliases = records_from_snapshot(snapshot, rendered.shots)
    for record in records:  # a broken image shows as a small icon: its box says nothing then
        record.shown_size_applies = bool(record.visible) and (
            record.source.startswith("data:") or record.screenshot is not None or rendered.stash.loaded(record.source)
        )
    records = merge_static(records, aliases, static)
    for record in records:  # an og:image: every share of the page shows its whole file, whatever its box here
        if any(social in record.found_in for social in SOCIAL_SOURCES):
            record.shown_size_applies = False
    add_network_images(records, aliases, rendered.stash.image_urls)
    page.warnings.extend(rendered.warnings)
    if rendered.blocked:
        shown = ", ".join(f"{url} ({code})" for url, code in rendered.blocked[:BLOCKED_SHOWN])
        more = f" and {len(rendered.blocked) - BLOCKED_SHOWN} more" if len(rendered.blocked) > BLOCKED_SHOWN else ""
        page.warnings.append(f"the browser's requests were refused for safety: {shown}{more}")
    return records, parsed


def _fetch_stylesheets(
    parsed: ParsedPage, page: PageReport, options: AuditOptions, source: PageBytes
) -> list[tuple[str, str]]:
    """Fetch linked stylesheets (and their @imports), at most ``max_stylesheets``."""
    queue = deque(parsed.stylesheet_urls)
    for block in parsed.style_blocks:
        queue.extend(stylesheet_imports(block, parsed.base_url))
    seen: set[str] = set()
    sheets: list[tuple[str, str]] = []
    while queue:
        css_url = queue.popleft()
        if css_url in seen:
            continue
        if len(seen) >= options.max_stylesheets:
            page.warnings.append(f"stylesheet limit ({options.max_stylesheets}) reached; {css_url} not read")
            continue
        seen.add(css_url)
        try:
            result = source.fetch(
                css_url,
                max_bytes=options.css_max_bytes,
                deadline_s=min(10.0, options.page_deadline_s),
                accept=CSS_ACCEPT,
            )
        except ScrapeError as exc:
            page.warnings.append(f"stylesheet {css_url} not read: {exc.message}")
            continue
        text = result.content.decode(result.charset or "utf-8", errors="replace")
        sheets.append((text, result.final_url))
        queue.extend(stylesheet_imports(text, result.final_url))
    return sheets


def decided_by_rendered_size(record: ImageRecord) -> bool:
    """A visible image the browser loaded is judged by the size it is shown at, not its file's size."""
    return record.shown_size_applies and record.rendered_width is not None and record.rendered_height is not None


def read_shown_too_small(records: list[ImageRecord], stash: ResponseStash, options: AuditOptions) -> None:
    """Images skipped as shown too small, from the copy the browser loaded (nothing is fetched for them): the
    file's size, format and bytes, so a 512 px icon shown at 24 px is still an ``oversized_image``, and with
    ``thumbnail_size`` a thumbnail, so a review sees the logo its link-target name is suggested for."""
    for record in records:
        if record.reason != "too_small" or not decided_by_rendered_size(record) or record.source.startswith("data:"):
            continue
        stashed = stash.get(record.source)
        if stashed is None or stashed.status >= 300 or len(stashed.content) > options.image_max_bytes:
            continue
        try:
            if options.thumbnail_size:
                prepared = prepare_image(stashed.content, min_width=0, min_height=0)
                record.thumbnail = make_thumbnail(prepared.image, options.thumbnail_size)
                (record.width, record.height), record.format = (prepared.width, prepared.height), prepared.format
            else:
                (record.width, record.height), record.format = image_size(stashed.content)
        except ScrapeError:
            continue  # an SVG, or bytes that are no image: it stays as skipped, its file unread
        record.bytes = len(stashed.content)


def prefilter(records: list[ImageRecord], options: AuditOptions) -> None:
    """Skip, before any download, images over the limit or shown / declared too small, and in a dry run
    every other image (said as ``dry_run``)."""
    kept = 0
    for record in records:
        if record.status != PENDING:
            continue
        if kept >= options.max_images:
            record.skip("over_limit", f"page has more than {options.max_images} images (--max-images)")
            continue
        minimum = f"{options.min_width}x{options.min_height} px minimum"
        if decided_by_rendered_size(record):
            w, h = record.rendered_width or 0, record.rendered_height or 0
            if w < options.min_width or h < options.min_height:
                record.skip("too_small", f"shown at {w}x{h} px, below the {minimum}")
                continue
        else:
            w_attr, h_attr = record.width_attr, record.height_attr
            if (w_attr is not None and w_attr < options.min_width) or (
                h_attr is not None and h_attr < options.min_height
            ):
                record.skip("too_small", f"declared {w_attr or '?'}x{h_attr or '?'} px is below the {minimum}")
                continue
        kept += 1
        if options.dry_run:
            record.skip("dry_run", "--dry-run: the image was not downloaded or captioned")
