"""Command-line flags from the options table: the CLI's and the server's argument groups."""

from __future__ import annotations

import argparse
from typing import Any

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
