"""Which IP addresses AltScout may connect to (the SSRF guard's policy).

Every address a host resolves to is checked after unwrapping IPv4 carried inside IPv6
(IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo). Only globally routable unicast
addresses pass, unless ``allow_private`` lifts the ban on loopback and private ranges
(RFC 1918, IPv6 ULA). Link-local, multicast, unspecified, reserved and CGNAT stay refused.
"""

from __future__ import annotations

import ipaddress
import socket

from scraper.errors import BlockedURLError, FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE_V4 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
_ULA = ipaddress.ip_network("fc00::/7")


def unwrap(ip: IPAddress) -> list[IPAddress]:
    """Return the address plus any IPv4 address embedded in it."""
    found: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            found.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            found.append(ip.sixtofour)
        if ip.teredo is not None:
            found.extend(ip.teredo)
        if ip in _NAT64:
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why this single (already unwrapped) address is refused, or None if allowed."""
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT"
    if ip.is_loopback:
        return None if allow_private else "loopback"
    is_private = (isinstance(ip, ipaddress.IPv4Address) and any(ip in n for n in _PRIVATE_V4)) or (
        isinstance(ip, ipaddress.IPv6Address) and ip in _ULA
    )
    if is_private:
        return None if allow_private else "private"
    if ip.is_reserved or not ip.is_global:
        return "reserved or non-global"
    return None


def check_address(address: str | IPAddress, *, allow_private: bool = False) -> IPAddress:
    """Return the parsed address if it may be dialed, else raise BlockedURLError."""
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    embedded = unwrap(ip)[1:]
    # A wrapper (::ffff:a.b.c.d, 6to4, NAT64, Teredo) is judged by the IPv4 it carries.
    for candidate in embedded or [ip]:
        why = _refusal(candidate, allow_private)
        if why is not None:
            raise BlockedURLError(f"refused for safety: {ip} is a {why} address")
    return ip


def resolve_checked(host: str, port: int, *, allow_private: bool = False) -> list[IPAddress]:
    """Resolve ``host`` once and check every address; refuse if any is not allowed.

    Refusing the whole host when one of its addresses is internal defeats round-robin
    tricks; the caller must dial only the returned addresses (defeats DNS rebinding).
    """
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host {host!r}", code="dns_error") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = check_address(sockaddr[0], allow_private=allow_private)
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise FetchError(f"host {host!r} has no address", code="dns_error")
    return addresses
