"""The client's address behind reverse proxies (IDMX_TRUSTED_PROXIES).

Behind nginx every connection comes from nginx, so the address that per-address limits and burst
counting use must come from ``X-Forwarded-For``. Anyone can send that header, though: it is believed
only when the connection comes from a trusted proxy, and then only as far as the proxies in it are
trusted. Each proxy appends the address it received the request from, so the list is read from the
right: trusted hops are skipped and the first address that is not trusted is the client. Whatever
lies further left was written by the client itself and is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from litestar.connection import ASGIConnection

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(entry: str) -> Address | None:
    """One hop: an address, optionally with a port (``1.2.3.4:5678``, ``[2001:db8::1]:443``), which
    some proxies add; anything else (``unknown``, an obfuscated RFC 7239 name, garbage) is None."""
    entry = entry.strip()
    if entry.startswith("["):
        entry, bracket, port = entry[1:].partition("]")
        if not bracket or (port and not (port[:1] == ":" and port[1:].isdigit())):
            return None
    elif entry.count(":") == 1:  # an IPv6 address has at least two
        entry, _, port = entry.partition(":")
        if not port.isdigit():
            return None
    try:
        address = ipaddress.ip_address(entry)
    except ValueError:
        return None
    # An IPv4 client reaching a dual-stack listener shows up as ::ffff:a.b.c.d; count it as a.b.c.d.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The real client's address: `peer` (the connection's other end) unless it is a trusted proxy,
    else the right-most address in `forwarded_for` that is not a trusted proxy.

    A malformed entry ends the walk: the hop that wrote it was trusted but what it says cannot be
    read, so the request is counted under `peer` rather than under anything a client could choose.
    When every hop is trusted (a request from inside), the left-most one is the client."""
    if not trusted:
        return peer
    peer_address = _parse(peer)
    if peer_address is None or not _trusted(peer_address, trusted):
        return peer
    client = peer_address
    for entry in reversed((forwarded_for or "").split(",")):
        if not entry.strip():
            continue  # "a, , b" or a trailing comma: no hop there
        hop = _parse(entry)
        if hop is None:
            return peer
        client = hop
        if not _trusted(hop, trusted):
            break
    return str(client)


def request_address(connection: ASGIConnection) -> str:
    """`client_address` of a request under the app's IDMX_TRUSTED_PROXIES: the one place the app reads
    where a request comes from."""
    peer = connection.client.host if connection.client else "unknown"
    trusted = connection.app.state.settings.trusted_proxies
    if not trusted:
        return peer
    # Several header lines mean one comma-separated list, in order (RFC 9110, 5.3).
    forwarded_for = ",".join(connection.headers.getall("x-forwarded-for", []))
    return client_address(peer, forwarded_for or None, networks(trusted))


@lru_cache(maxsize=8)
def networks(setting: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks of IDMX_TRUSTED_PROXIES (`Settings.trusted_proxies`, already validated)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in setting)
