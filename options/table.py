"""The one table of options: each is declared here once, with its type, default, help, bounds and the
front ends that show it. The CLI's and the server's flags (:mod:`options.flags`), the API's request
model (:mod:`service.submit`) and the web form's controls (``app.py``) are built from it, and
:func:`apply` turns any front end's values into :class:`AuditOptions`, validated in one place.

Adding an option is one :class:`Option` here (and, when it changes an audit, its field in
:class:`options.audit.AuditOptions`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from auditing.registry import SEVERITIES
from captioning.registry import DEFAULT_MODEL
from captioning.runtimes import ATTENTIONS, BACKENDS, DECODERS, QUANTIZE
from captioning.translate import supported_languages
from options.audit import (
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

CLI, SERVER, API, FORM = "cli", "server", "api", "form"  # the front ends
_D = AuditOptions()
Convert = Callable[[Any, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Control:
    """How the web form shows an option."""

    widget: str  # number, slider, dropdown or text
    label: str
    place: tuple[int, int] = (0, 0)  # (row, column) in the form's Options panel
    info: str | None = None
    placeholder: str | None = None
    elem_id: str | None = None


@dataclass(frozen=True)
class Need:
    """What an option works with: another option given (any of ``options``), with ``value`` where it must be one.
    Given without it, the option would change nothing, and the person meant that other option too."""

    options: tuple[str, ...]
    value: Any = None  # None: any value given
    hint: str = ""  # what adding it does, said after "add --flag"

    def met(self, values: Mapping[str, Any]) -> bool | None:
        """Whether ``values`` give it; None when this front end's values do not say (the API keeps no --state:
        every job keeps one)."""
        known = [name for name in self.options if name in values]
        if not known:
            return None
        given = [values[name] for name in known if values[name] not in (None, False, [], ())]
        return any(self.value is None or value == self.value for value in given)


CRAWL = Need(("crawl",), hint=" to audit the whole site from these URLs")
SHARDS = Need(("shard_dir",), hint=" DIR")
RAY = Need(("engine",), "ray")
STATE = Need(("state", "data_dir", "shard_dir"), hint=" audit.db")
PATCH = Need(("fix_patch",), hint=" alt.patch")
SOURCE = Need(("source_dir",), hint=" DIR, the folder the site is served from or its project (Hugo, Next.js)")


@dataclass(frozen=True)
class Option:
    """One option of every front end that shows it."""

    name: str  # the API field, the form value and the flag's dest
    help: str
    group: str  # the CLI's argument group
    fronts: frozenset[str]
    type: type = str  # int, float, str, Path, bool (an on/off flag) or list (a repeatable flag)
    default: Any = None  # the flag's default
    server_default: Any = ...  # the server flag's default, when it differs from ``default``
    choices: tuple[str, ...] | None = None
    minimum: float | None = None  # the API's (and the form's) bounds
    maximum: float | None = None
    max_length: int | None = None  # the API's longest string or list
    target: str | None = None  # the AuditOptions field it sets (None: the front end's own option)
    convert: Convert | None = None  # value -> AuditOptions fields, when more than ``{target: value}``
    sets: tuple[str, ...] = ()  # the fields ``convert`` sets (so an error about one names this option)
    metavar: str | None = None
    words: bool = False  # a list given as several words after one flag, rather than by repeating the flag
    control: Control | None = None  # how the form shows it (FORM options)
    needs: Need | None = None  # what it works with (a crawl's bound needs --crawl)

    @property
    def flag(self) -> str:
        """Its command-line flag."""
        return "--" + self.name.replace("_", "-")

    def fields(self, value: Any, values: Mapping[str, Any]) -> dict[str, Any]:
        """The AuditOptions fields a value sets."""
        if self.convert is not None:
            return self.convert(value, values)
        return {self.target: value} if self.target else {}


def _both_sides(value: int, _: Mapping[str, Any]) -> dict[str, Any]:
    if value < 0:  # said here, in the words of the option given (AuditOptions would name --min-width)
        raise OptionsError("min-size must not be negative", "min_size")
    return {"min_width": value, "min_height": value}


def _scaled(field: str, unit: int) -> Convert:
    """A size given in MB or KB, as bytes; a size that is not positive is refused as it was typed."""

    def convert(value: float, _: Mapping[str, Any]) -> dict[str, Any]:
        if value <= 0:
            raise OptionsError(f"{field.replace('_', '-')} must be positive, got {value:g}", field)
        return {field: int(value * unit)}

    return convert


def _megabytes(field: str) -> Convert:
    return _scaled(field, MB)


def _path(field: str) -> Convert:
    return lambda value, _: {field: str(value)}


def _tuple(field: str) -> Convert:
    return lambda value, _: {field: tuple(value)}


def _keywords(value: str, _: Mapping[str, Any]) -> dict[str, Any]:
    return {"keywords": tuple(part for part in str(value).split(",") if part.strip())}


def _translation_models(value: list[str], values: Mapping[str, Any]) -> dict[str, Any]:
    return {"translation_models": parse_translation_models(list(value), values.get("lang") or _D.lang)}


C, S, A, F = frozenset({CLI}), frozenset({SERVER}), frozenset({API}), frozenset({FORM})
CS, CA, CSAF, CAF = C | S, C | A, C | S | A | F, C | A | F
REPORTS, LANGS, FOLDERS, CHECKS, MODEL, SCRAPE, SITE, RENDER, ENGINE, RUN, SERVE, KEYS = (
    "reports", "languages", "local folders", "audit checks", "captioning", "scraping", "whole sites",
    "rendering (JavaScript-built pages)", "engine (past one machine)", "run", "server", "API keys",
)  # fmt: skip

TABLE: dict[str, Option] = {
    option.name: option
    for option in (
        # --- what to audit and what to do with the result (the CLI's own)
        Option("urls_file", "file with one URL per line (# comments allowed), or a crawler's CSV export (its "
               "Address, URL or loc column); - reads standard input", RUN, C, Path),
        Option("compare", "mark every finding new, fixed, persisting or not comparable against a previous JSON "
               "report", REPORTS, C, Path, metavar="PREVIOUS.json"),
        Option("fail_on_new", "with --fail-on and --compare: exit 3 only for new findings (regressions)", REPORTS, C,
               bool),
        Option("fail_on", "exit 3 when an issue of this severity or worse is found (CI gate)", REPORTS, C,
               choices=SEVERITIES),
        Option("decisions", "a review of the suggestions, JSON or CSV (url, decision: accept|edit|reject, text): "
               "edits replace them, rejected ones are never exported", REPORTS, C, Path, metavar="FILE"),
        Option("source_dir", "the folder the site is served from (HTML), or its project: Markdown (Hugo, Jekyll, "
               "Eleventy, MkDocs) or components (Next.js, Astro, Nuxt, SvelteKit) (for --fix-patch)",
               REPORTS, C, Path, metavar="DIR", needs=PATCH),
        Option("fix_patch", "write a unified diff that sets the suggested alt texts in --source-dir's HTML, Markdown "
               "or component files (apply it with git apply)", REPORTS, C, Path, metavar="FILE", needs=SOURCE),
        # --- languages
        Option("lang", "translate captions and suggested alt: en (none), auto (<html lang>), or one of "
               + ", ".join(supported_languages()), LANGS, CSAF, default=_D.lang, max_length=16, target="lang",
               control=Control("dropdown", "Caption language", (1, 3))),
        Option("translation_model", "MarianMT hub id or folder to use (for --lang, or for LANG=); repeatable", LANGS,
               CS, list, default=[], metavar="[LANG=]MODEL", sets=("translation_models",), convert=_translation_models),
        # --- local folders
        Option("glob", "folder mode: only files matching this pattern, e.g. '*.jpg'", FOLDERS, C, target="glob"),
        Option("rename_plan", "folder mode: write suggested descriptive file names here", FOLDERS, C, Path),
        Option("apply_renames", "carry out a reviewed rename plan (no captioning); writes PLAN.undo.csv", FOLDERS, C,
               Path, metavar="PLAN"),
        # --- audit checks
        Option("max_alt_length", "flag longer alt text", CHECKS, CA, int, _D.max_alt_length, minimum=1, maximum=1000,
               target="max_alt_length"),
        Option("keywords", "SEO keywords, comma-separated: a suggestion uses one at most once, only where the "
               "image or its context supports it", CHECKS, CAF, max_length=500, metavar="'WORD, WORDS'",
               convert=_keywords, control=Control("text", "SEO keywords (optional, comma-separated)", (2, 0),
                                                  placeholder="espresso, burr grinder", elem_id="keywords")),
        Option("max_image_kb", "flag image files over this size (default %(default)s KB)", CHECKS, C, float,
               _D.large_image_bytes / 1024, sets=("large_image_bytes",),
               convert=_scaled("large_image_bytes", 1024)),
        Option("mismatch_threshold", "flag alt text whose word overlap with the caption is below this (0-1)", CHECKS,
               CA, float, _D.mismatch_threshold, minimum=0.0, maximum=1.0, target="mismatch_threshold"),
        # --- captioning
        Option("model", "hub id, local folder, or alias 'base'/'large' (default: %(default)s); the server: the "
               "model it loads first", MODEL, CSAF, default=DEFAULT_MODEL, max_length=300, target="model",
               control=Control("dropdown", "Model", (0, 2))),
        Option("extra_models", "other models the form may offer", MODEL, S, list, default=[], words=True),
        Option("device", "where the model runs: auto (a GPU when there is one), cpu or cuda", MODEL, CS,
               default=_D.device, choices=DEVICES, target="device"),
        Option("dtype", "auto: fp16 on CUDA; on a CPU float32, or bf16 where it is measured faster here", MODEL, CS,
               default=_D.dtype, choices=DTYPES, target="dtype"),
        Option("backend", "CPU runtime for the vision encoder; auto: the fastest exact one measured on this machine",
               MODEL, CS, default=_D.backend, choices=BACKENDS, target="backend"),
        Option("quantize", "int8: quantised encoder on ONNX Runtime (opt-in; effect on caption quality not measured)",
               MODEL, CS, default=_D.quantize, choices=QUANTIZE, target="quantize"),
        Option("attention", "BLIP's attention: auto and sdpa (fused scaled-dot-product kernels), or eager "
               "(transformers' own)", MODEL, CS, default=_D.attention, choices=ATTENTIONS, target="attention"),
        Option("decoder", "BLIP's decoding loop: auto (static with CUDA graphs on a GPU, generate on a CPU), "
               "static or generate", MODEL, CS, default=_D.decoder, choices=DECODERS, target="decoder"),
        Option("batch_size", "images per batch (default: 8 CPU, 16 CPU bfloat16, fitted to the GPU on CUDA)", MODEL,
               CS, int, target="batch_size"),
        Option("processes", "worker processes that download and prepare images and, with --render never, read "
               "pages, so a GPU is fed past one Python process's GIL (default: one per core when the model is on a "
               "GPU, else 0: threads only)", MODEL, C, int, metavar="N", target="processes"),
        Option("max_new_tokens", "the longest caption, in tokens", MODEL, CSAF, int, _D.max_new_tokens, minimum=5,
               maximum=100, target="max_new_tokens", control=Control("slider", "Max new tokens", (1, 1))),
        Option("min_new_tokens", "force at least this many tokens (benchmarks set it to --max-new-tokens)", MODEL, CS,
               int, target="min_new_tokens"),
        Option("num_beams", "beam search width (1: greedy)", MODEL, CSAF, int, _D.num_beams, minimum=1, maximum=8,
               target="num_beams", control=Control("slider", "Beams", (1, 0))),
        Option("prompt", "conditional captioning prefix, e.g. 'a photograph of'", MODEL, CAF, max_length=200,
               target="prompt", control=Control("text", "Prompt (optional)", (1, 2), placeholder="a photograph of")),
        # --- scraping
        Option("min_size", f"minimum width and height in px (default {_D.min_width})", SCRAPE, CSAF, int,
               server_default=_D.min_width, minimum=0, maximum=10_000, sets=("min_width", "min_height"),
               convert=_both_sides,
               control=Control("number", "Minimum image size (px)", (0, 0))),
        Option("min_width", "minimum width in px (overrides --min-size)", SCRAPE, C, int, target="min_width"),
        Option("min_height", "minimum height in px (overrides --min-size)", SCRAPE, C, int, target="min_height"),
        Option("max_images", "images per page (default %(default)s)", SCRAPE, CSAF, int, _D.max_images, minimum=1,
               maximum=1000, target="max_images", control=Control("number", "Maximum images per page", (0, 1))),
        Option("max_page_mb", "largest page read, in MB", SCRAPE, C, float, _D.page_max_bytes / MB,
               sets=("page_max_bytes",), convert=_megabytes("page_max_bytes")),
        Option("max_image_mb", "largest image read, in MB", SCRAPE, C, float, _D.image_max_bytes / MB,
               sets=("image_max_bytes",), convert=_megabytes("image_max_bytes")),
        Option("timeout", "total seconds allowed per page and per image download", SCRAPE, C, float,
               _D.image_deadline_s, sets=("page_deadline_s", "image_deadline_s"),
               convert=lambda value, _: {"page_deadline_s": value, "image_deadline_s": value}),
        Option("allow_private", "allow loopback and private addresses (intranet audits); link-local stays blocked",
               SCRAPE, CS, bool, target="allow_private"),
        Option("ignore_robots", "do not obey robots.txt", SCRAPE, C, bool, target="ignore_robots"),
        # --- whole sites
        Option("crawl", "audit the site: sitemaps and same-site links", SITE, C, bool, target="crawl"),
        Option("dry_run", "read the pages only: list every page and image the audit would cover (and what it "
               "leaves out, with why) and run every check that needs no caption; no image is downloaded or "
               "captioned and no model is loaded", SITE, C, bool, target="dry_run"),
        Option("max_pages", "pages to audit at most (default %(default)s)", SITE, CA, int, _D.max_pages, minimum=1,
               target="max_pages", needs=CRAWL),  # the form's own slider sets it, bounded by the server
        Option("max_depth", "links away from a start URL", SITE, CA, int, minimum=0, maximum=100, target="max_depth",
               needs=CRAWL),
        Option("scope", "host: the start URLs' hosts; domain: all their subdomains", SITE, CA, default=_D.scope,
               choices=SCOPES, target="scope", needs=CRAWL),
        Option("include", "crawl only matching URLs", SITE, CA, list, default=[], max_length=20, metavar="REGEX",
               sets=("include",), convert=_tuple("include"), needs=CRAWL),
        Option("exclude", "never crawl matching URLs", SITE, CA, list, default=[], max_length=20, metavar="REGEX",
               sets=("exclude",), convert=_tuple("exclude"), needs=CRAWL),
        Option("per_host", "page requests in flight per host (default %(default)s)", SITE, CS, int,
               _D.per_host_pages, target="per_host_pages"),
        Option("state", "SQLite file keeping the crawl: rerun the same command to continue after a stop or crash",
               SITE, C, Path, metavar="DB", sets=("state_path",), convert=_path("state_path")),
        Option("refresh", "a re-audit with --state fetches and renders every page and image again, instead of asking "
               "the site what changed (If-None-Match / If-Modified-Since) and reusing what did not", SITE, CAF, bool,
               target="refresh", needs=STATE,
               control=Control("checkbox", "Fetch everything again", (0, 3), elem_id="refresh",
                               info="else a re-audit of a site asks it only what changed")),
        Option("memory_budget_mb", "the run's response store: MB of recent page resources kept in memory "
               "(default %(default)s)", SITE, CS, float, _D.response_memory_bytes / MB,
               sets=("response_memory_bytes",), convert=_megabytes("response_memory_bytes")),
        Option("disk_budget_mb", "the run's response store: MB kept on disk, beside --state (else in a temporary "
               "folder); past it the least recently used are fetched again when needed (default %(default)s)", SITE,
               CS, float, _D.response_disk_bytes / MB, sets=("response_disk_bytes",),
               convert=_megabytes("response_disk_bytes")),
        Option("data_dir", "the service's folder of jobs (job database and report files); the CLI runs its audit as "
               "a job there: its reports stay there, it is compared with the site's previous audit there, and "
               "rerunning the same command continues it", SITE, CS, Path, server_default=Path("altscout-data"),
               metavar="DIR"),
        # --- rendering
        Option("render", "read pages as a headless Chromium shows them: auto (when a browser is found), always, "
               "never", RENDER, CSAF, default=_D.render, choices=RENDER_MODES, target="render",
               control=Control("dropdown", "Run JavaScript (headless browser)", (1, 4), elem_id="render",
                               info="auto: when the server has a browser; never: read the HTML only")),
        Option("browser", "Chromium/Chrome executable (else $ALTSCOUT_CHROMIUM, PATH)", RENDER, CS, metavar="PATH",
               target="browser_path"),
        Option("render_timeout", "seconds per rendered page: load, scroll, settle (default %(default)s)", RENDER, CS,
               float, _D.render_timeout_s, target="render_timeout_s"),
        # --- engine
        Option("engine", "local: threads in this process; ray: the stages on Ray Data (requirements-ray.txt)",
               ENGINE, C, default=_D.engine, choices=ENGINES, target="engine"),
        Option("ray_address", "the Ray cluster (default: $RAY_ADDRESS, else a local Ray)", ENGINE, C,
               metavar="ADDRESS", target="ray_address", needs=RAY),
        Option("caption_actors", "--engine ray: captioning actors (one GPU each)", ENGINE, C, int, _D.caption_actors,
               target="caption_actors", needs=RAY),
        Option("shard_dir", "big runs: finished pages stream to shard files in DIR (its state.db unless --state), the "
               "reports are built from them into DIR, and a rerun continues without recomputing a completed shard",
               ENGINE, C, Path, metavar="DIR", sets=("shard_dir",), convert=_path("shard_dir")),
        Option("shard_pages", "--shard-dir: pages per shard (default %(default)s)", ENGINE, C, int, _D.shard_pages,
               target="shard_pages", needs=SHARDS),
        # --- the rest of a run
        Option("ocr", "read the text in images (RapidOCR, PP-OCRv5): auto (when installed) or off (default "
               "%(default)s)", RUN, CSAF, default=_D.ocr, choices=OCR_MODES, target="ocr",
               control=Control("dropdown", "Read text in images (OCR)", (1, 5), elem_id="ocr",
                               info="auto: when the server has the OCR engine; off: captions only")),
        Option("reports_only", "with --state: write the reports again from the finished audit the state file keeps, "
               "without fetching or captioning anything (after a report could not be written)", REPORTS, C, bool),
        Option("cache", "on-disk caption cache: an interrupted or repeated audit never captions an image twice "
               "(default: ~/.cache/altscout/captions, or $ALTSCOUT_CACHE_DIR/captions; off: none)", RUN, C, Path,
               metavar="DIR", sets=("cache_dir",), convert=_path("cache_dir")),
        Option("quiet", "no progress bars", RUN, C, bool),
        Option("debug", "show tracebacks", RUN, C, bool),
        # --- the server's own
        Option("host", "the address to listen on", SERVE, S, default="127.0.0.1"),
        Option("port", "the port to listen on", SERVE, S, int, 7860),
        Option("workers", "audits run at once (sharing the one model)", SERVE, S, int, 1),
        Option("queue_size", "audits that may wait; beyond it, refused at once", SERVE, S, int, 20),
        Option("max_site_pages", "the most pages one audit may cover", SERVE, S, int, 200),
        Option("keep_days", "finished audits are deleted after this many days", SERVE, S, float, 30.0),
        Option("api_key_file", "lines 'NAME KEY [running=N] [queued=N]': the API needs a key", KEYS, S, Path),
        Option("key_running", "audits one API key may run at once", KEYS, S, int, 1),
        Option("key_queued", "audits one API key may have waiting", KEYS, S, int, 5),
    )
}  # fmt: skip


def options_for(front: str) -> list[Option]:
    """The options a front end shows, in the table's order."""
    return [option for option in TABLE.values() if front in option.fronts]


def idle_option(values: Mapping[str, Any], front: str) -> tuple[Option, Option] | None:
    """The first option ``values`` set that would change nothing, because what it works with is not given
    (:class:`Need`), and the option it needs; None when every option given is used."""
    for option in options_for(front):
        need = option.needs
        if need is None or values.get(option.name) in (None, False, [], (), default_for(option, front)):
            continue
        if need.met(values) is False:
            return option, TABLE[need.options[0]]
    return None


def needs_sentence(option: Option, needed: Option) -> tuple[str, str]:
    """An idle option's sentence and its fix, in the CLI's words."""
    need = option.needs
    assert need is not None
    wanted = f"{needed.flag} {need.value}" if need.value is not None else needed.flag
    return (f"{option.flag} works with {wanted}, which is not given",
            f"add {wanted}{need.hint}, or leave out {option.flag}")  # fmt: skip


def default_for(option: Option, front: str) -> Any:
    """The option's default on this front end."""
    return option.server_default if front == SERVER and option.server_default is not ... else option.default


def apply(values: Mapping[str, Any], front: str, base: AuditOptions | None = None, **fixed: Any) -> AuditOptions:
    """A front end's values (by option name; None: not given) as AuditOptions over ``base``; ``fixed``
    sets fields no option covers. Validation happens once, in AuditOptions."""
    changes: dict[str, Any] = {}
    for option in options_for(front):
        value = values.get(option.name)
        if value is not None:
            changes.update(option.fields(value, values))
    return replace(base or AuditOptions(), **(changes | fixed))


def error_sentence(error: Exception, front: str) -> str:
    """An OptionsError in a front end's words: the option's flag for the CLI and the server, its field
    name for the API and the form."""
    text = str(error)
    field = getattr(error, "field", None)
    shown = options_for(front)
    owner = next((o for o in shown if field and field in (o.target, o.name)), None) or next(
        (o for o in shown if field and field in o.sets), None
    )
    if field and owner is not None:
        said = field.replace("_", "-")
        name = owner.flag if front in (CLI, SERVER) else owner.name
        text = text.replace(said, name, 1)
    return text.rstrip(".") + "."
