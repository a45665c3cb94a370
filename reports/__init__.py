"""Report writers: captions.txt, JSON (with a JSON Schema), CSV and HTML."""

from reports.html import render_html, write_html
from reports.writers import (
    CSV_COLUMNS,
    SCHEMA_PATH,
    render_captions_txt,
    write_captions_txt,
    write_csv,
    write_json,
    write_pages_csv,
)

__all__ = [
    "CSV_COLUMNS",
    "SCHEMA_PATH",
    "render_captions_txt",
    "render_html",
    "write_captions_txt",
    "write_csv",
    "write_html",
    "write_json",
    "write_pages_csv",
]
