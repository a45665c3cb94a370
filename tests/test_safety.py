"""The SSRF guard and the guarded fetcher's caps, on literal addresses and a loopback server."""

from __future__ import annotations

import time

import pytest
from conftest import FixtureServer, unused_port

from scraper.addresses import check_address, resolve_checked
from scraper.errors import BlockedURLError, FetchError, HTTPStatusError, UnsupportedSchemeError
from scraper.net import Fetcher, FetchPolicy, check_url

LOOPBACK_NOTATIONS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f.1",
    "0177.0.0.1",
    "0x7f000001",
    "localhost",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
]
ALWAYS_BLOCKED = [
    "169.254.169.254",
    "[fe80::1]",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "[ff02::1]",
    "[64:ff9b::a9fe:a9fe]",
    "[2002:a9fe:a9fe::]",
    "255.255.255.255",
]
PRIVATE = ["10.0.0.1", "172.16.5.4", "192.168.1.1", "[fd00::1]", "[::ffff:10.0.0.1]", "[2002:c0a8:101::]"]


@pytest.mark.parametrize("host", LOOPBACK_NOTATIONS + ALWAYS_BLOCKED + PRIVATE)
def test_internal_hosts_refused_by_default(host: str) -> None:
    with pytest.raises(BlockedURLError):
        resolve_checked(host, 80)


@pytest.mark.parametrize("host", LOOPBACK_NOTATIONS + PRIVATE)
def test_allow_private_lifts_loopback_and_private(host: str) -> None:
    assert resolve_checked(host, 80, allow_private=True)


@pytest.mark.parametrize("host", ALWAYS_BLOCKED)
def test_link_local_and_friends_stay_blocked_with_allow_private(host: str) -> None:
    with pytest.raises(BlockedURLError):
        resolve_checked(host, 80, allow_private=True)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert check_address(address)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://x/", "ftp://x/", "data:text/html,hi", "javascript:alert(1)", "about:blank"]
)
def test_only_http_schemes(url: str) -> None:
    with pytest.raises(UnsupportedSchemeError):
        check_url(url)


def test_credentials_in_url_refused() -> None:
    with pytest.raises(BlockedURLError):
        check_url("http://a@127.0.0.1/")


@pytest.fixture()
def fetcher() -> Fetcher:
    return Fetcher(FetchPolicy(allow_private=True, read_timeout=2.0))


def test_fetch_ok_and_user_agent(fresh_server: FixtureServer, fetcher: Fetcher) -> None:
    url = fresh_server.add("/ok", "hello", content_type="text/plain")
    result = fetcher.fetch(url, max_bytes=100, deadline_s=5)
    assert result.content == b"hello" and result.status == 200
    assert fresh_server.requests[-1][1]["User-Agent"].startswith("AltScout/")


def test_loopback_refused_without_allow_private(fresh_server: FixtureServer) -> None:
    url = fresh_server.add("/ok", "hello")
    with pytest.raises(BlockedURLError):
        Fetcher().fetch(url, max_bytes=100, deadline_s=5)
    assert fresh_server.requests == []  # nothing was sent


def test_redirect_hop_to_link_local_refused(fresh_server: FixtureServer, fetcher: Fetcher) -> None:
    url = fresh_server.add("/r", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with pytest.raises(BlockedURLError):
        fetcher.fetch(url, max_bytes=100, deadline_s=5)


def test_redirect_hop_to_private_refused_without_allow_private(
    monkeypatch: pytest.MonkeyPatch, fresh_server: FixtureServer
) -> None:
    """The first hop is allowed (patched as public), the redirect to 10.0.0.1 is not."""
    import scraper.addresses as addresses

    real = addresses._refusal

    def loopback_is_public(ip, allow_private):  # type: ignore[no-untyped-def]
        return None if ip.is_loopback else real(ip, allow_private)

    monkeypatch.setattr(addresses, "_refusal", loopback_is_public)
    url = fresh_server.add("/r", status=302, headers={"Location": "http://10.0.0.1/internal"})
    with pytest.raises(BlockedURLError):
        Fetcher().fetch(url, max_bytes=100, deadline_s=5)


def test_redirect_to_other_scheme_refused(fresh_server: FixtureServer, fetcher: Fetcher) -> None:
    url = fresh_server.add("/r", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(UnsupportedSchemeError):
        fetcher.fetch(url, max_bytes=100, deadline_s=5)


def test_dns_rebinding_only_checked_address_is_dialed(
    monkeypatch: pytest.MonkeyPatch, fresh_server: FixtureServer
) -> None:
    """A name that resolves public first and loopback later is dialed at the checked address."""
    import socket

    import scraper.addresses as addresses

    calls = {"n": 0}
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == "rebind.test":
            calls["n"] += 1
            ip = "192.0.2.1" if calls["n"] == 1 else "127.0.0.1"  # TEST-NET-1, never reachable
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(addresses.socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(addresses, "_refusal", lambda ip, allow: None if str(ip) == "192.0.2.1" else "internal")
    fresh_server.add("/secret", "secret")
    with pytest.raises(FetchError) as caught:
        Fetcher(FetchPolicy(connect_timeout=0.5)).fetch(
            f"http://rebind.test:{fresh_server.port}/secret", max_bytes=100, deadline_s=2
        )
    assert caught.value.code in ("timeout", "connection_error")
    assert fresh_server.requests == []


def test_content_length_over_cap_refused_before_reading(fresh_server: FixtureServer, fetcher: Fetcher) -> None:
    url = fresh_server.add("/big", b"x" * 10, content_length=10_000_000_000)
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url, max_bytes=1000, deadline_s=5)
    assert caught.value.code == "too_large"


def test_body_over_cap(fresh_server: FixtureServer, fetcher: Fetcher) -> None:
    url = fresh_server.add("/big", b"x" * 5000)
    with pytest.raises(FetchError, match="limit"):
        fetcher.fetch(url, max_bytes=1000, deadline_s=5)


def test_gzip_bomb_capped_after_decompression(fresh_server: FixtureServer, fetcher: Fetcher) -> None:
    url = fresh_server.add("/bomb", b"\0" * 50_000_000, gzip=True)
    assert len(fresh_server.routes["/bomb"].body) == 50_000_000
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url, max_bytes=1_000_000, deadline_s=10)
    assert caught.value.code == "too_large"


def test_slow_drip_hits_the_deadline(fresh_server: FixtureServer, fetcher: Fetcher) -> None:
    url = fresh_server.add("/slow", b"x" * 200, drip_s=0.05)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url, max_bytes=1000, deadline_s=1.0)
    assert caught.value.code == "timeout"
    assert time.monotonic() - started < 3.5


def test_silent_server_times_out(fresh_server: FixtureServer) -> None:
    url = fresh_server.add("/silent", "late", delay_s=3)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        Fetcher(FetchPolicy(allow_private=True, read_timeout=10)).fetch(url, max_bytes=100, deadline_s=1.0)
    assert caught.value.code == "timeout"
    assert time.monotonic() - started < 2.5


def test_short_body_is_an_error(fresh_server: FixtureServer, fetcher: Fetcher) -> None:
    url = fresh_server.add("/short", b"abc", content_length=1000)
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url, max_bytes=10_000, deadline_s=5)
    assert caught.value.code in ("incomplete", "timeout")
    if caught.value.code == "incomplete":  # said in words, not as a class name
        assert caught.value.message == "connection broke while reading: the answer ended before its announced length"


def test_redirect_loop(fresh_server: FixtureServer, fetcher: Fetcher) -> None:
    url = fresh_server.add("/loop", status=302, headers={"Location": "/loop"})
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url, max_bytes=100, deadline_s=5)
    assert caught.value.code == "too_many_redirects"


def test_status_errors(fresh_server: FixtureServer, fetcher: Fetcher) -> None:
    for status in (404, 500):
        url = fresh_server.add(f"/s{status}", "no", status=status)
        with pytest.raises(HTTPStatusError) as caught:
            fetcher.fetch(url, max_bytes=100, deadline_s=5)
        assert caught.value.status == status


def test_429_retry_after_honoured_once(fresh_server: FixtureServer, fetcher: Fetcher) -> None:
    url = fresh_server.add("/busy", "slow down", status=429, headers={"Retry-After": "1"})
    started = time.monotonic()
    with pytest.raises(HTTPStatusError):
        fetcher.fetch(url, max_bytes=100, deadline_s=5)
    assert fresh_server.routes["/busy"].hits == 2
    assert time.monotonic() - started >= 1.0


def test_connection_refused(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(f"http://127.0.0.1:{unused_port()}/", max_bytes=100, deadline_s=5)
    assert caught.value.code == "connection_error"
    assert caught.value.message.endswith("127.0.0.1: the connection was refused (nothing listens on that port)")
