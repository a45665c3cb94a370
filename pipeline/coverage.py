"""A site audit's coverage block: every URL met, counted by status and reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from options import AuditOptions
from state.store import AUDITED, FAILED, SKIPPED, AuditStore


def site_block(
    store: AuditStore,
    options: AuditOptions,
    start_urls: Sequence[str],
    warnings: Sequence[str],
    captioned_this_run: int,
    with_urls: bool = True,
) -> dict[str, Any]:
    """Coverage: counts by status and reason, and every URL met with its status (unless left out)."""
    counts: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    urls: list[dict[str, Any]] = []
    for url_row in store.urls():  # one pass: counts, and the rows when they are wanted
        counts[url_row.status] += 1
        if url_row.status == SKIPPED:
            by_reason[url_row.reason or ""] += 1
        if with_urls:
            urls.append(url_row.to_dict())
    block = {
        "start_urls": list(start_urls),
        "crawl": options.crawl,
        "scope": options.scope,
        "include": list(options.include),
        "exclude": list(options.exclude),
        "max_pages": options.max_pages,
        "max_depth": options.max_depth,
        "pages_discovered": counts.total(),
        "pages_audited": counts[AUDITED],
        "pages_failed": counts[FAILED],
        "pages_skipped": counts[SKIPPED],
        "skipped_by_reason": dict(sorted(by_reason.items())),
        "warnings": list(warnings),
        "captioned_this_run": captioned_this_run,  # by the model; the rest came from the state store
    }
    if with_urls:
        block["urls"] = urls
    return block
