"""What the scripts AltScout writes for a platform's API share (:mod:`reports.webflow_apply`,
:mod:`reports.shopify_apply`): a JSON call that waits out a rate limit, the rule that never replaces a person's
alt, and the line each image gets. A script's ``from reports.api_script import …`` line is replaced by this
module's code below (:func:`inlined`), so the file a user runs needs Python 3.8 and nothing else.
"""

from __future__ import annotations

from pathlib import Path

_IMPORT = "from reports.api_script import "
_START = "# What the scripts hold, up to inlined():\n"

# What the scripts hold, up to inlined():
import json  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from typing import Any  # noqa: E402

RETRIES = 6  # a 429 or 5xx is tried again, after Retry-After


class Refused(Exception):
    """The API refused the token, or nothing answers at its address: nothing more can be set."""


def call(url: str, method: str, headers: dict[str, str], body: Any = None, refused: str = "") -> tuple[int, Any]:
    """One JSON call: (HTTP status, the JSON it answered: None where it is none); a 429 or 5xx is tried again after
    the wait it asks for, a timeout or a reset after 1, 2, 4… s. A 401 or 403 raises :class:`Refused` with
    ``refused`` and the status; an address that nothing answers at (no such host, a refused connection, a
    certificate that does not hold) raises it with why."""
    payload = None if body is None else json.dumps(body).encode("utf-8")
    for attempt in range(RETRIES):
        request = urllib.request.Request(url, data=payload, method=method)
        for name, value in {"Accept": "application/json", **headers}.items():
            request.add_header(name, value)
        if payload is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                status, data = answer.status, answer.read()
            try:
                return status, json.loads(data or b"null")
            except ValueError:  # not JSON: an HTML page where an API was asked for
                return status, None
        except urllib.error.HTTPError as error:
            if error.code in (429, 500, 502, 503, 504) and attempt + 1 < RETRIES:
                time.sleep(wait(error.headers.get("Retry-After"), attempt))
                continue
            if error.code in (401, 403):
                raise Refused(refused.format(status=error.code)) from None
            return error.code, None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            lasting = isinstance(reason, (socket.gaierror, ConnectionRefusedError, ssl.SSLCertVerificationError))
            if attempt + 1 < RETRIES and not lasting:  # a timeout or a reset may pass
                time.sleep(wait(None, attempt))
                continue
            raise Refused(f"Nothing answers at {url.split('?')[0]} ({reason}): check the address") from None
    return 0, None


def wait(retry_after: str | None, attempt: int) -> float:
    """Seconds to wait before trying again: what the answer asked for (at most 2 minutes), else 1, 2, 4… s."""
    try:
        return max(0.0, min(float(retry_after or ""), 120.0))
    except ValueError:
        return float(2**attempt)


def settable(current: str | None, image: dict[str, Any]) -> bool:
    """Whether an alt may be set over ``current``: it is empty, or what the audit read on the page (``was``), so
    no one has written it since."""
    return not current or current == (image["was"] or "")


def finish(images: list[dict[str, Any]], said: dict[str, list[str]], staged: str = "") -> int:
    """Print one line an image (what was done, from ``said``: an image's key -> its notes) and ``staged`` where
    anything was set; 0 when each was set or left for the reason it gives, 1 when any failed or was found nowhere."""
    unfound = "failed: found nowhere in the site (is the token another site's?)"
    lines = {image["key"]: "; ".join(said.get(image["key"], [])) or unfound for image in images}
    for image in images:
        print(f"{image['url']}: {lines[image['key']]}")
    if staged and any(note.startswith("set ") for notes in said.values() for note in notes):
        print(staged)
    return 1 if any(line.startswith("failed: ") or "; failed: " in line for line in lines.values()) else 0


def inlined(script: Path) -> str:
    """A script's source with its import of this module replaced by this module's code, imports included."""
    source = script.read_text(encoding="utf-8")
    line = next(line for line in source.splitlines(keepends=True) if line.startswith(_IMPORT))
    own = Path(__file__).read_text(encoding="utf-8")
    code = own[own.index(_START) + len(_START) : own.index("def inlined(")].rstrip() + "\n"
    return source.replace(line, code.replace("  # noqa: E402", ""), 1)
