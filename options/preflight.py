"""Everything checked before any work, once, for every front end: the addresses to audit, the report
paths, the model. Each refusal is an :class:`InputError` that says one sentence in the words of the
front end that shows it (CLI flags, API field names, the form's labels) and names the fix.

A URL without a scheme gets ``https://`` everywhere (the CLI, the form and the API alike), and
the report says so in a page warning.
"""

from __future__ import annotations

import difflib
import errno
import ipaddress
import os
import re
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from options.table import API, CLI, FORM
from scraper.addresses import check_address, resolve_checked
from scraper.browser import ENV_BROWSER, BrowserUnavailableError, find_browser
from scraper.errors import BlockedURLError, ScrapeError

INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"  # byte-order mark, zero-width spaces and joiners, word joiner
NO_SCHEME_PREFIXES = ("javascript:", "data:", "file:", "about:", "mailto:", "ftp:", "tel:")
ADDED_SCHEME = "no scheme was given, so {url} was audited"
FELL_BACK = "no scheme was given and https:// could not connect"  # how the http:// fallback's warning starts
PLAIN_HTTP = FELL_BACK + ", {why}; so {url} was audited over plain http, as browsers fall back"


def plain_http(url: str) -> str:
    """The same address over plain http (the fallback for an address typed without a scheme)."""
    return "http://" + url.split("://", 1)[1]


@dataclass
class InputError(ValueError):
    """A mistake in what a person asked for: one sentence, with the fix in each front end's words."""

    message: str  # what is wrong, in words every front end shares
    fix: dict[str, str] = field(default_factory=dict)  # front end -> the fix in its words

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def sentence(self, front: str) -> str:
        """The whole sentence for a front end."""
        fix = self.fix.get(front) or self.fix.get("any")
        text = f"{self.message}; {fix}" if fix else self.message
        if re.match(r"[a-z]+ ", text):  # a sentence starts with a capital; a URL or a flag stays as written
            text = text[:1].upper() + text[1:]
        return text.rstrip(".") + "."

    def __str__(self) -> str:
        return self.sentence(API)


@dataclass(frozen=True)
class Target:
    """A page URL to audit, as it will be fetched, and whether https:// was added to what was typed."""

    url: str
    added_scheme: bool = False

    @property
    def warning(self) -> str | None:
        """The page warning that says https:// was assumed."""
        return ADDED_SCHEME.format(url=self.url) if self.added_scheme else None


def page_url(text: str | None) -> Target:
    """One rule for every front end: trim, add ``https://`` when no scheme is given, refuse what is no page URL."""
    url = (text or "").strip().strip(INVISIBLE).strip()  # a BOM or zero-width space pasted along is no part of it
    if not url:
        raise InputError("an address is empty", {CLI: "give the page's address, e.g. https://example.com/",
                                                  FORM: "enter the address of a web page"})  # fmt: skip
    meant = _mistyped_scheme(url)
    if meant is not None:
        raise InputError(f"'{url}' is not a web address", {"any": f"give it as {meant}"})
    added = "://" not in url and not url.lower().startswith(NO_SCHEME_PREFIXES)
    candidate = "https://" + url if added else url
    try:
        parts = urlsplit(candidate)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise InputError(f"'{url}' is not a web address", {"any": "give it as https://example.com/page"}) from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = url.split(":", 1)[0]
        raise InputError(f"'{url}' uses the {scheme}: scheme; only http:// and https:// pages can be audited")
    host = parts.hostname or ""
    single_label = "." not in host and ":" not in host and host != "localhost"
    if not host or any(c.isspace() for c in url) or (added and single_label):
        raise InputError(f"'{url}' is not a web address", {"any": "give it as https://example.com/page"})
    return Target(candidate, added)


_SCHEME_AND_SEPARATOR = re.compile(r"^(?P<scheme>[a-z]{2,6})(?P<sep>:*/*)(?P<rest>[^/:].*)$", re.IGNORECASE)


def _mistyped_scheme(url: str) -> str | None:
    """The address meant when http(s):// is mistyped (``htps://``, ``https//``, ``http:/``, ``https:///``)."""
    match = _SCHEME_AND_SEPARATOR.match(url)
    if match is None or match.group("sep") in ("", ":"):  # example.com, localhost:8000, mailto:...
        return None
    scheme = match.group("scheme").lower()
    if match.group("sep") == "://" and scheme in ("http", "https"):
        return None
    close = difflib.get_close_matches(scheme, ["https", "http"], n=1, cutoff=0.75)
    return f"{close[0]}://{match.group('rest')}" if close else None


PRIVATE_FIX = {
    CLI: "add --allow-private to audit loopback and private addresses (an intranet)",
    API: "it points to a private, local or internal network, which this server does not audit",
    FORM: "it points to a private, local or internal network, which this server does not audit",
}


def check_reachable_safely(url: str, allow_private: bool) -> None:
    """Refuse at once a URL whose host is, or resolves to, a private or internal address.

    The guarded fetcher checks again when the audit runs (the name may resolve differently then); a
    name that does not resolve now is left to the audit, which reports it as the page's outcome.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        is_literal = True
    except ValueError:
        is_literal = False
    try:
        if is_literal:
            check_address(host, allow_private=allow_private)
        elif not allow_private and (host == "localhost" or host.endswith(".localhost")):
            raise BlockedURLError("localhost")
        elif not allow_private:
            resolve_checked(host, port, allow_private=False)
    except BlockedURLError as exc:
        why = str(exc).removeprefix("refused for safety: ") if "address" in str(exc) else f"{host} is local"
        fix = dict(PRIVATE_FIX)  # the server never names the address a name resolved to
        fix[CLI] = f"{why}; {PRIVATE_FIX[CLI]}"
        raise InputError(f"{url} is refused for safety", fix) from exc
    except ScrapeError:
        return


def standard_output(paths: list[tuple[str, object]], sharded: bool, terminal: bool) -> None:
    """At most one report goes to standard output (``-``), never a spreadsheet to a terminal, and none
    from a ``--shard-dir`` run (its reports are files built from the shards)."""
    flags = [flag for flag, path in paths if path is not None and str(path) == "-"]
    if flags and sharded:
        raise InputError(f"{flags[0]} -: --shard-dir runs write their reports as files",
                         {CLI: f"give {flags[0]} a file name"})  # fmt: skip
    if len(flags) > 1:
        raise InputError(f"{flags[0]} and {flags[1]} both ask for standard output (-)",
                         {CLI: "give all but one of them a file name"})  # fmt: skip
    if "--xlsx" in flags and terminal:
        raise InputError("--xlsx - would print a binary spreadsheet on the terminal",
                         {CLI: "redirect it (--xlsx - > report.xlsx) or give a file name"})  # fmt: skip


PROCESSES_PER_CPU = 4  # worker processes beyond this many a CPU only thrash


def processes_here(processes: int | None) -> None:
    """``--processes`` that this machine can run: a typo such as 1000 would start 1000 Python processes."""
    cpus = os.cpu_count() or 1
    if processes is not None and processes > PROCESSES_PER_CPU * cpus:
        raise InputError(f"--processes {processes} is more than this machine's {cpus} CPU(s) can use",
                         {CLI: f"give at most {PROCESSES_PER_CPU * cpus}, or 0 for threads only"})  # fmt: skip


FILE_EXAMPLES = {"--state": "audit.db", "--rename-plan": "renames.csv"}  # a file name for a flag given a folder


def writable(path: Path, flag: str, stdout_ok: bool = False, example: str | None = None) -> None:
    """A report path that can be created and written: refused now, not after an hour of crawling; ``-``
    (standard output, see :func:`standard_output`) where ``stdout_ok``. ``example``: a file name for the flag."""
    if str(path) == "-":
        if stdout_ok:
            return
        raise InputError(f"{flag} needs a file name: standard output (-) is for reports")
    where = f"{flag} {path}"
    if path.is_dir():
        example = example or FILE_EXAMPLES.get(flag, "report")
        raise InputError(f"{where} is a folder", {CLI: f"give a file name for {flag}, e.g. {path / example}"})
    _can_create(path.parent, where, flag)
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{where} cannot be written: permission denied",
                         {CLI: f"choose a file you can write to for {flag}"})  # fmt: skip


def _can_create(path: Path, where: str, flag: str) -> None:
    """A file can be made in folder ``path``, or in the nearest folder above it that exists (where the
    missing ones are made): tried, since permissions, read-only mounts and root all answer the same way."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{where} cannot be written: {existing} is a file, not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".altscout-check-"):
            pass
    except OSError as exc:
        raise InputError(f"{where} cannot be written: {exc.strerror or exc} in {existing}",
                         {CLI: f"choose a folder you can write to for {flag}"}) from None  # fmt: skip


SQLITE_HEADER = b"SQLite format 3\x00"


def state_file(path: Path, flag: str = "--state") -> None:
    """A state file is new, or a SQLite database (the store itself says when it is another audit's)."""
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise InputError(f"{flag} {path} is not an AltScout state file (a SQLite database)",
                                 {CLI: "give a new file name, or the file an earlier audit ran with"})  # fmt: skip


def folder(path: Path, flag: str) -> None:
    """A folder AltScout makes when missing and writes in (--cache, --data-dir, --shard-dir), never a file."""
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {path} is a file, not a folder",
                         {CLI: "give a folder's name (it is made when missing)"})  # fmt: skip
    _can_create(path, f"{flag} {path}", flag)


def looks_like_path(model: str) -> bool:
    """A model given as a folder (./x, /x, ~/x, C:\\x, x\\y), not as a hub id (org/name)."""
    text = model.strip()
    return text.startswith((".", "/", "~")) or "\\" in text or (len(text) > 1 and text[1] == ":") or text.count("/") > 1


def model_folder(model: str, flag: str = "--model") -> None:
    """A local model folder that does not exist, or holds no config.json, is said to be exactly that."""
    if not looks_like_path(model) and not Path(model).exists():
        return
    folder = Path(model).expanduser()
    if not folder.exists():
        raise InputError(f"{flag} {model}: there is no such folder",
                         {"any": "give the folder a model was saved to, or a hub id such as "
                                 "Salesforce/blip-image-captioning-base"})  # fmt: skip
    if not (folder / "config.json").is_file():
        raise InputError(f"{flag} {model}: the folder has no config.json, so it holds no saved model",
                         {"any": "download one into it, or give a hub id"})  # fmt: skip


def browser_path(explicit: str | None) -> None:
    """A ``--browser`` (or ``$ALTSCOUT_CHROMIUM``) that names no executable is refused now: with
    ``--render auto`` it would otherwise read every page without a browser."""
    if not (explicit or os.environ.get(ENV_BROWSER)):
        return
    try:
        find_browser(explicit)
    except BrowserUnavailableError as exc:
        raise InputError(exc.message, {"any": "point it at a Chromium or Chrome executable, or leave it out"}) from None


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound before it starts anything (a port in use is one sentence, not uvicorn's errno
    after the address was announced)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"--port {port} is in use on {host} by another program",
                             {CLI: "give another --port, or stop the program that holds it"}) from None  # fmt: skip
        raise InputError(f"the server cannot listen on {host}:{port}: {exc.strerror or exc}",
                         {CLI: "check --host and --port"}) from None  # fmt: skip
