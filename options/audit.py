"""The one options object every front end builds and the pipeline reads. Validated once."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from auditing.checks import AuditSettings
from captioning.base import GenerationSettings
from captioning.registry import DEFAULT_MODEL, CaptionerSpec
from captioning.runtimes import ATTENTIONS, BACKENDS, DECODERS, QUANTIZE
from captioning.translate import UnsupportedLanguageError, normalise_lang, translation_model_for
from scraper.net import USER_AGENT, FetchPolicy

MB = 1024 * 1024
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "float16", "bfloat16")
RENDER_MODES = ("auto", "always", "never")
OCR_MODES = ("auto", "off")
ENGINES = ("local", "ray")
SCOPES = ("host", "domain")


class OptionsError(ValueError):
    """An option has a value that makes no sense; the message names it. ``field`` is the AuditOptions
    field it is about, so a front end can say it in its own words (``--per-host`` or ``per_host``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AuditOptions:
    """Everything that decides how an audit runs."""

    model: str = DEFAULT_MODEL
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int | None = None  # None: the captioner's default for its device
    backend: str = "auto"  # CPU: auto (the fastest exact path measured here), torch, openvino, onnxruntime
    quantize: str = "none"  # CPU: int8 runs a quantised encoder (opt-in; its caption quality is not measured)
    attention: str = "auto"  # BLIP: auto and sdpa (scaled-dot-product attention), or eager (transformers' own)
    decoder: str = "auto"  # BLIP: auto (static on CUDA, generate on a CPU), static or generate
    max_new_tokens: int = 30
    min_new_tokens: int | None = None
    num_beams: int = 1
    prompt: str | None = None
    min_width: int = 100
    min_height: int = 100
    max_images: int = 200
    allow_private: bool = False
    ignore_robots: bool = False
    page_max_bytes: int = 10 * MB
    image_max_bytes: int = 20 * MB
    css_max_bytes: int = 2 * MB
    max_stylesheets: int = 10
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    page_deadline_s: float = 30.0
    image_deadline_s: float = 30.0
    max_redirects: int = 5
    download_workers: int = 8
    processes: int | None = None  # page and image stages in N worker processes; None: one per core on a GPU
    per_host_limit: int = 4
    user_agent: str = USER_AGENT
    max_alt_length: int = 125
    large_image_bytes: int = 100 * 1024
    mismatch_threshold: float = 0.2
    lang: str = "en"  # translate captions and suggestions into this language; "auto": the page's <html lang>
    translation_models: tuple[tuple[str, str], ...] = ()  # (lang, MarianMT hub id or folder) overrides
    allow_local_folders: bool = False  # CLI only: a target that is a folder is captioned as a library
    glob: str | None = None  # folder mode: only files matching this pattern
    cache_dir: str | None = None  # on-disk caption cache (model + settings + image hash)
    thumbnail_size: int = 0  # >0: keep a JPEG thumbnail of this many px per image (web UI, HTML report)
    render: str = "auto"  # auto: headless Chromium when one is found; always: require one; never: static only
    browser_path: str | None = None  # Chromium to drive (else ALTSCOUT_CHROMIUM, Playwright's, PATH)
    render_timeout_s: float = 20.0  # time budget per rendered page (load, scroll, settle, read the DOM)
    render_max_requests: int = 400  # requests one rendered page may make
    render_max_bytes: int = 64 * MB  # bytes one rendered page may load (also bounds the reused bytes)
    oversized_min_waste_bytes: int = 4 * 1024  # oversized_image: only when this many bytes would be saved
    crawl: bool = False  # follow sitemaps and same-site links from the start URLs
    max_pages: int = 500  # pages a crawl audits at most (every further URL is recorded as skipped)
    max_depth: int | None = None  # links away from a start URL (sitemap pages count as 1)
    scope: str = "host"  # host: the start URLs' hosts; domain: every host of their registered domains
    include: tuple[str, ...] = ()  # crawl only URLs matching one of these regular expressions
    exclude: tuple[str, ...] = ()  # never crawl URLs matching one of these
    per_host_pages: int = 2  # page requests in flight per host (Crawl-delay makes it 1)
    page_workers: int = 4  # pages fetched or rendered at once
    state_path: str | None = None  # SQLite file: the crawl survives restarts and re-audits reuse captions
    ocr: str = "auto"  # auto: read the text in images when the OCR engine is installed; off: never
    engine: str = "local"  # local: threads in this process; ray: the stages on Ray Data (a cluster or a local Ray)
    ray_address: str | None = None  # --engine ray: the cluster (else RAY_ADDRESS, else a local Ray)
    caption_actors: int = 1  # --engine ray: captioning actors, each with the model (one GPU each on CUDA)
    shard_dir: str | None = None  # big runs: finished pages stream to shard files here, reports built from them
    shard_pages: int = 100  # --shard-dir: pages per shard (the most a stopped run redoes)
    scheme_added: tuple[str, ...] = ()  # start URLs typed without a scheme, audited as https:// (a page warning)
    response_memory_bytes: int = 256 * MB  # the run's response store: recently used answers kept in memory
    response_disk_bytes: int = 2048 * MB  # ... and every answer on disk (beside --state), least recently used evicted
    refresh: bool = False  # a re-audit fetches and renders everything again (no conditional requests)
    dry_run: bool = False  # pages only: images skipped as dry_run before any download, no model loaded
    keywords: tuple[str, ...] = ()  # SEO keywords: a suggestion uses one only where the image or its context says so
    reaudit_finished: bool = True  # a finished state: audit afresh (CLI); False: report it as it is (service jobs)

    def __post_init__(self) -> None:
        positive = (
            "max_new_tokens",
            "num_beams",
            "max_images",
            "page_max_bytes",
            "image_max_bytes",
            "css_max_bytes",
            "download_workers",
            "per_host_limit",
            "connect_timeout_s",
            "read_timeout_s",
            "page_deadline_s",
            "image_deadline_s",
            "render_timeout_s",
            "render_max_requests",
            "render_max_bytes",
            "max_pages",
            "per_host_pages",
            "page_workers",
            "caption_actors",
            "response_memory_bytes",
            "response_disk_bytes",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise OptionsError(f"{name.replace('_', '-')} must be positive, got {getattr(self, name)}", name)
        for name in ("min_width", "min_height", "max_stylesheets", "max_redirects", "thumbnail_size"):
            if getattr(self, name) < 0:
                raise OptionsError(f"{name.replace('_', '-')} must not be negative", name)
        if not 0.0 <= self.mismatch_threshold <= 1.0:
            raise OptionsError("mismatch-threshold must be between 0 and 1", "mismatch_threshold")
        if self.processes is not None and self.processes < 0:
            raise OptionsError(f"processes must not be negative, got {self.processes}", "processes")
        if self.batch_size is not None and self.batch_size <= 0:
            raise OptionsError(f"batch-size must be positive, got {self.batch_size}", "batch_size")
        if self.min_new_tokens is not None and not 0 < self.min_new_tokens <= self.max_new_tokens:
            raise OptionsError("min-new-tokens must be between 1 and max-new-tokens", "min_new_tokens")
        if self.device not in DEVICES:
            raise OptionsError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        for flag, patterns in (("--include", self.include), ("--exclude", self.exclude)):
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise OptionsError(f"{flag} {pattern!r} is not a valid regular expression: {exc}") from exc
        if self.scope not in SCOPES:
            raise OptionsError(f"scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.max_depth is not None and self.max_depth < 0:
            raise OptionsError("max-depth must not be negative", "max_depth")
        if self.render not in RENDER_MODES:
            raise OptionsError(f"render must be one of {', '.join(RENDER_MODES)}, got {self.render!r}")
        if self.engine not in ENGINES:
            raise OptionsError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.dry_run and (self.state_path or self.engine != "local"):
            raise OptionsError("a dry run keeps no state and runs on the local engine; leave out --state, "
                               "--shard-dir and --engine ray", "dry_run")  # fmt: skip
        if self.shard_pages < 1:
            raise OptionsError("shard-pages must be at least 1", "shard_pages")
        if self.shard_dir is not None and self.state_path is None:
            object.__setattr__(self, "state_path", str(Path(self.shard_dir) / "state.db"))
        if self.ocr not in OCR_MODES:
            raise OptionsError(f"ocr must be one of {', '.join(OCR_MODES)}, got {self.ocr!r}")
        if self.dtype not in DTYPES:
            raise OptionsError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.backend not in BACKENDS:
            raise OptionsError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.quantize not in QUANTIZE:
            raise OptionsError(f"quantize must be one of {', '.join(QUANTIZE)}, got {self.quantize!r}")
        if self.attention not in ATTENTIONS:
            raise OptionsError(f"attention must be one of {', '.join(ATTENTIONS)}, got {self.attention!r}")
        if self.decoder not in DECODERS:
            raise OptionsError(f"decoder must be one of {', '.join(DECODERS)}, got {self.decoder!r}")
        if self.quantize == "int8" and self.backend not in ("auto", "onnxruntime"):
            raise OptionsError("--quantize int8 runs on ONNX Runtime; use --backend auto or onnxruntime with it")
        lang = (self.lang or "en").strip().lower()
        object.__setattr__(self, "lang", lang)
        overrides = tuple((normalise_lang(code) or code, model) for code, model in self.translation_models)
        object.__setattr__(self, "translation_models", overrides)
        if lang not in ("en", "auto"):
            self.translation_model_id(lang)
        if not self.model.strip():
            raise OptionsError("model must not be empty")
        keywords = (" ".join(str(word).split()).lower() for word in self.keywords)
        object.__setattr__(self, "keywords", tuple(dict.fromkeys(word for word in keywords if word)))
        if self.prompt is not None and not self.prompt.strip():
            object.__setattr__(self, "prompt", None)

    @property
    def captioner_spec(self) -> CaptionerSpec:
        """Which captioner these options ask for (``get_captioner``'s key)."""
        return CaptionerSpec(
            self.model, self.device, self.dtype, self.backend, self.quantize, self.attention, self.decoder
        )

    @property
    def generation(self) -> GenerationSettings:
        """The generation settings these options imply."""
        return GenerationSettings(self.max_new_tokens, self.num_beams, self.prompt, self.min_new_tokens)

    def translation_model_id(self, lang: str) -> str:
        """The MarianMT model for ``lang``: an override, else Helsinki-NLP's; OptionsError if none."""
        code = normalise_lang(lang) or lang
        overrides = dict(self.translation_models)
        if code in overrides:
            return overrides[code]
        try:
            return translation_model_for(code)
        except UnsupportedLanguageError as exc:
            raise OptionsError(str(exc)) from exc

    @property
    def audit_settings(self) -> AuditSettings:
        """The alt/SEO check thresholds these options imply."""
        return AuditSettings(
            self.max_alt_length, self.large_image_bytes, self.mismatch_threshold, self.oversized_min_waste_bytes,
            keywords=self.keywords,
        )  # the OCR thresholds keep their documented defaults

    @property
    def fetch_policy(self) -> FetchPolicy:
        """The network policy these options imply."""
        return FetchPolicy(
            self.allow_private, self.user_agent, self.connect_timeout_s, self.read_timeout_s, self.max_redirects
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for reports."""
        return asdict(self)


def parse_translation_models(values: list[str], lang: str) -> tuple[tuple[str, str], ...]:
    """``LANG=MODEL`` pairs; a bare ``MODEL`` applies to ``--lang``."""
    pairs = []
    for value in values:
        code, sep, model = value.partition("=")
        if sep and code and "/" not in code and "\\" not in code:
            pairs.append((code, model))
        elif lang in ("en", "auto"):
            raise OptionsError("--translation-model without LANG= needs --lang set to a language code")
        else:
            pairs.append((lang, value))
    return tuple(pairs)


TUPLE_FIELDS = ("include", "exclude", "scheme_added")


def options_from_dict(values: dict[str, Any]) -> AuditOptions:
    """``AuditOptions.to_dict()`` read back (JSON turns tuples into lists)."""
    values = dict(values)
    for name in TUPLE_FIELDS:
        values[name] = tuple(values.get(name) or ())
    values["translation_models"] = tuple(tuple(pair) for pair in values.get("translation_models") or ())
    return AuditOptions(**values)
