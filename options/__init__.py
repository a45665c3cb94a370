"""Audit options: the validated :class:`AuditOptions` every stage reads, and the one table of options
(:mod:`options.table`) from which the CLI's flags, the server's flags, the API's request model and
the web form's controls are all built."""

from options.audit import (
    DEVICES,
    DTYPES,
    ENGINES,
    MB,
    OCR_MODES,
    RENDER_MODES,
    SCOPES,
    TUPLE_FIELDS,
    AuditOptions,
    OptionsError,
    options_from_dict,
    parse_translation_models,
)

__all__ = [
    "DEVICES",
    "DTYPES",
    "ENGINES",
    "MB",
    "OCR_MODES",
    "RENDER_MODES",
    "SCOPES",
    "TUPLE_FIELDS",
    "AuditOptions",
    "OptionsError",
    "options_from_dict",
    "parse_translation_models",
]
