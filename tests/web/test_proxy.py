"""The client's address behind reverse proxies: `idmx.web.proxy.client_address`, IDMX_TRUSTED_PROXIES, and
per-address limits and burst counting through HTTP with and without a trusted proxy in front."""

from __future__ import annotations

import ipaddress

import pytest
from litestar.testing import TestClient

from idmx.app import create_app
from idmx.db import models as m
from idmx.settings import Settings, SettingsError
from idmx.web.proxy import client_address, networks
from tests import factories as f

LOCAL = (ipaddress.ip_network("127.0.0.1/32"),)
TWO_TIERS = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.10/32"))


def test_nobody_is_trusted_by_default():
    assert client_address("203.0.113.9", "198.51.100.1", ()) == "203.0.113.9"


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored():
    assert client_address("203.0.113.9", "127.0.0.1, 198.51.100.1", LOCAL) == "203.0.113.9"


def test_the_address_the_trusted_proxy_saw_is_the_client():
    assert client_address("127.0.0.1", "198.51.100.1", LOCAL) == "198.51.100.1"
    # What the client wrote itself sits to the left of what the proxy appended: never believed.
    assert client_address("127.0.0.1", "127.0.0.1, 10.9.9.9, 198.51.100.1", LOCAL) == "198.51.100.1"


def test_a_chain_through_two_trusted_proxies_gives_the_real_client():
    # client -> load balancer 192.0.2.10 -> nginx 10.0.0.5 -> app
    assert client_address("10.0.0.5", "203.0.113.50, 192.0.2.10", TWO_TIERS) == "203.0.113.50"
    assert client_address("10.0.0.5", "6.6.6.6, 203.0.113.50, 192.0.2.10", TWO_TIERS) == "203.0.113.50"
    # A hop outside the trusted list ends the walk, even if a trusted address appears further left.
    assert client_address("10.0.0.5", "10.1.1.1, 203.0.113.50, 192.0.2.10", TWO_TIERS) == "203.0.113.50"


def test_several_header_lines_and_empty_entries():
    assert client_address("127.0.0.1", "6.6.6.6,198.51.100.1,,", LOCAL) == "198.51.100.1"


def test_without_a_header_or_with_only_trusted_hops():
    assert client_address("127.0.0.1", None, LOCAL) == "127.0.0.1"
    assert client_address("127.0.0.1", "", LOCAL) == "127.0.0.1"
    assert client_address("10.0.0.5", "10.0.0.7, 192.0.2.10", TWO_TIERS) == "10.0.0.7"  # from inside


def test_ipv6():
    trusted = (ipaddress.ip_network("2001:db8:ffff::/48"),)
    assert client_address("2001:db8:ffff::1", "2001:DB8:0:0:0:0:0:42", trusted) == "2001:db8::42"
    assert client_address("2001:db8:ffff::1", "[2001:db8::42]:51000", trusted) == "2001:db8::42"
    assert client_address("2001:db8:1::1", "2001:db8::42", trusted) == "2001:db8:1::1"  # peer not trusted
    # An IPv4 client on a dual-stack socket, and an IPv4 proxy list matching an IPv4-mapped peer.
    assert client_address("::ffff:127.0.0.1", "::ffff:198.51.100.1", LOCAL) == "198.51.100.1"


def test_ports_added_by_some_proxies_are_dropped():
    assert client_address("127.0.0.1", "198.51.100.1:40000", LOCAL) == "198.51.100.1"


@pytest.mark.parametrize("header", [
    "unknown", "_hidden", "198.51.100.999", "not an address", "2001:db8::zz", "[2001:db8::1", "1.2.3.4:5:6",
])
def test_garbage_next_to_a_trusted_hop_leaves_the_peer(header):
    assert client_address("127.0.0.1", header, LOCAL) == "127.0.0.1"
    assert client_address("10.0.0.5", f"{header}, 192.0.2.10", TWO_TIERS) == "10.0.0.5"
    # Garbage further left than the client is the client's own writing, and never read.
    assert client_address("127.0.0.1", f"{header}, 198.51.100.1", LOCAL) == "198.51.100.1"


def test_a_peer_that_is_no_address_is_kept():
    assert client_address("testclient", "198.51.100.1", LOCAL) == "testclient"


def test_the_setting_reads_addresses_and_networks(tmp_path):
    settings = Settings.from_env({"IDMX_VAR_DIR": str(tmp_path),
                                  "IDMX_TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8,2001:db8::/32 ,"})
    assert settings.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32")
    assert networks(settings.trusted_proxies) == (
        ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))
    assert Settings.from_env({"IDMX_VAR_DIR": str(tmp_path)}).trusted_proxies == ()


@pytest.mark.parametrize("value", ["localhost", "10.0.0.0/33", "10.0.0.1 10.0.0.2", "*"])
def test_a_bad_setting_is_one_line_naming_it(tmp_path, value):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"IDMX_VAR_DIR": str(tmp_path), "IDMX_TRUSTED_PROXIES": value})
    assert str(err.value).startswith("IDMX_TRUSTED_PROXIES ") and "\n" not in str(err.value)


# --- through HTTP ---------------------------------------------------------------------------------

PROXY = "10.0.0.1"


def _behind_proxy(app):
    """The app as it runs behind nginx: every connection comes from the proxy's address (Litestar's
    TestClient would otherwise say the peer is "testclient")."""

    async def asgi(scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            scope["client"] = (PROXY, 50000)
        await app(scope, receive, send)

    return asgi


def _propose(app, slug: str, client_ip: str, title: str) -> int:
    """A new respondent (fresh cookies) proposes once, through the proxy, from `client_ip`."""
    with TestClient(app=_behind_proxy(app), base_url="http://testserver.local") as client:
        client.headers["x-forwarded-for"] = client_ip  # what nginx's $proxy_add_x_forwarded_for sends
        client.get("/")
        answer = client.post(f"/c/{slug}/propose", data={"title": title, "institution": "unknown",
                                                         "_csrf_token": client.cookies.get("idmx_csrf")},
                             follow_redirects=False)
        return answer.status_code


@pytest.mark.parametrize(("trusted", "codes", "flagged"), [
    # Trusted: each client has its own allowance of 2, and each one's second new respondent is a burst.
    ((PROXY,), [303, 303, 303, 303], 2),
    # Not trusted: both are the proxy's address, so they share one allowance and one burst count.
    ((), [303, 303, 429, 429], 1),
], ids=["trusted", "untrusted"])
def test_clients_behind_a_trusted_proxy_are_limited_and_counted_apart(settings, db, trusted, codes, flagged):
    c = f.consultation(db)
    app = create_app(settings.with_(proposals_per_hour_per_ip=2, new_respondents_per_hour_per_address=1,
                                    trusted_proxies=trusted), db=db)
    clients = ["203.0.113.5", "198.51.100.7", "203.0.113.5", "198.51.100.7"]  # two /24 networks
    # Titles unlike each other: a similar one gets the "is it one of these?" page instead of a 303.
    answers = [_propose(app, c.slug, ip, f.TITLES[i]) for i, ip in enumerate(clients)]
    assert answers == codes
    assert len(f.rows(db, m.RespondentFlag)) == flagged
    assert {fl.kind for fl in f.rows(db, m.RespondentFlag)} == {"burst"}
