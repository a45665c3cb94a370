"""Which Chromium to drive, and the flags that keep it from touching the network itself.

Search order: ``--browser PATH``, ``$ALTSCOUT_CHROMIUM``, Playwright's own downloaded browser
(``python -m playwright install chromium``), then ``chromium``, ``chromium-browser``,
``google-chrome`` on ``PATH``. The flags turn off everything Chromium does on its own
(background networking, DNS prefetch, QUIC, WebRTC over UDP); the proxy that
:func:`launch_args` points at a closed port catches whatever is left, so the only way a byte
reaches the page is the request interception in :mod:`scraper.render`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from scraper.errors import ScrapeError

ENV_BROWSER = "ALTSCOUT_CHROMIUM"
PATH_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = (
    "install one with 'apt-get install chromium' (Debian/Ubuntu) or 'python -m playwright install chromium', "
    "or point --browser / ALTSCOUT_CHROMIUM at a Chromium or Chrome executable"
)


class BrowserUnavailableError(ScrapeError):
    """No usable browser (or Playwright) for rendering; the message says how to get one."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="browser_unavailable")


def _executable(path: str | os.PathLike[str]) -> str | None:
    candidate = Path(path).expanduser()
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return None


def find_browser(explicit: str | None = None, playwright_default: str | None = None) -> str:
    """The Chromium executable to use; BrowserUnavailableError when there is none.

    ``explicit`` (``--browser``) and ``$ALTSCOUT_CHROMIUM`` must exist when given: a wrong
    path is an error, not a silent fallback. ``playwright_default`` is the path Playwright
    would use for its own download (it may not be installed).
    """
    for label, value in (("--browser", explicit), (ENV_BROWSER, os.environ.get(ENV_BROWSER))):
        if value:
            found = _executable(value)
            if found is None:
                raise BrowserUnavailableError(f"{label} {value} is not an executable file")
            return found
    if playwright_default and (found := _executable(playwright_default)):
        return found
    for name in PATH_NAMES:
        if (on_path := shutil.which(name)) is not None:
            return on_path
    raise BrowserUnavailableError(f"no Chromium was found to render pages: {INSTALL_HINT}")


def use_sandbox() -> bool:
    """Chromium's sandbox stays on except as root, where Chromium refuses to start with it."""
    return not (hasattr(os, "geteuid") and os.geteuid() == 0)


def launch_args(dead_proxy_port: int) -> list[str]:
    """Chromium flags: no network of its own; every connection it tries goes to a closed port."""
    return [
        f"--proxy-server=http://127.0.0.1:{dead_proxy_port}",
        "--proxy-bypass-list=<-loopback>",  # without this Chromium bypasses the proxy for loopback
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--disable-background-networking",
        "--dns-prefetch-disable",
        "--disable-quic",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--disable-sync",
        "--disable-breakpad",
        "--no-pings",
        "--no-first-run",
        "--mute-audio",
        "--disable-gpu",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--disable-features=NetworkPrediction,NetworkServiceInProcess,OptimizationHints,Translate,"
        "MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,InterestFeedContentSuggestions,"
        "CertificateTransparencyComponentUpdater,PrivacySandboxSettings4",
    ]
