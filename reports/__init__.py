"""Report writers: captions.txt, JSON (with a JSON Schema) and CSV."""

from reports.writers import (
    CSV_COLUMNS,
    SCHEMA_PATH,
    render_captions_txt,
    write_captions_txt,
    write_csv,
    write_json,
)

__all__ = ["CSV_COLUMNS", "SCHEMA_PATH", "render_captions_txt", "write_captions_txt", "write_csv", "write_json"]
