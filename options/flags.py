"""Command-line flags from the options table: the CLI's and the server's argument groups."""

from __future__ import annotations

import argparse
import difflib
import platform
import re
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from options.table import Option, default_for, options_for


def flag_kwargs(option: Option, front: str) -> dict[str, Any]:
    """``add_argument``'s keywords for one option on one front end."""
    kwargs: dict[str, Any] = {"dest": option.name, "help": option.help}
    default = default_for(option, front)
    if "%(default)" not in option.help and default not in (None, [], False, ""):
        kwargs["help"] = f"{option.help} (default: %(default)s)"
    if option.type is bool:
        kwargs["action"] = "store_true"
        return kwargs
    kwargs["default"] = default_for(option, front)
    if option.type is list:
        kwargs["default"], kwargs["action"] = [], "extend" if option.words else "append"
        if option.words:
            kwargs["nargs"] = "*"
    else:
        kwargs["type"] = option.type
    if option.choices is not None:
        kwargs["choices"] = option.choices
    if option.metavar is not None:
        kwargs["metavar"] = option.metavar
    return {key: value for key, value in kwargs.items() if value is not None or key == "default"}


def add_flags(parser: argparse.ArgumentParser, front: str, groups: dict[str, Any] | None = None) -> None:
    """Every option the front end shows, as flags in the table's groups (``groups``: ones made already)."""
    groups = dict(groups or {})
    for option in options_for(front):
        if option.group not in groups:
            groups[option.group] = parser.add_argument_group(option.group)
        groups[option.group].add_argument(option.flag, **flag_kwargs(option, front))


PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
REPORTED = ("torch", "transformers", "playwright", "gradio", "ray")  # what a bug report needs besides ours


def version_line(prog: str) -> str:
    """``--version``: AltScout's version and those of Python and the libraries a bug report needs (read
    from the installed packages' metadata, without importing them)."""
    try:
        ours = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
    except (OSError, KeyError, ValueError):
        ours = "unknown"
    parts = [f"Python {platform.python_version()}"]
    for name in REPORTED:
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return f"{prog} {ours} ({', '.join(parts)})"


class _Version(argparse.Action):
    """``--version``: one unwrapped line on stdout, read only when asked for."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(version_line(parser.prog))
        parser.exit(0)


class OneSentenceParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line: no usage block, and the flag meant when one is close;
    ``--version`` says the versions a bug report needs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--version", action=_Version, nargs=0, help="show the versions of AltScout and its "
                          "libraries and exit")  # fmt: skip

    def error(self, message: str) -> NoReturn:
        """``prog: error: <one sentence>`` on stderr, exit 2 (argparse's code for usage errors)."""
        self.exit(2, f"{self.prog}: error: {self.sentence(message)}\n")

    def sentence(self, message: str) -> str:
        """argparse's message as one sentence; an unknown flag names the one meant, or points at --help."""
        unknown = re.match(r"unrecognized arguments: (.+)", message)
        if unknown:
            word = next((w for w in unknown.group(1).split() if w.startswith("-")), unknown.group(1).split()[0])
            flag = word.split("=", 1)[0]
            close = difflib.get_close_matches(flag, [s for s in self._option_string_actions if s.startswith("--")], 1)
            if close:
                return f"unknown option {flag}; did you mean {close[0]}?"
            what = "option" if flag.startswith("-") else "argument"
            return f"unknown {what} {flag}; {self.prog} --help lists the options."
        return message if message.endswith((".", "?", "!")) else f"{message}."
