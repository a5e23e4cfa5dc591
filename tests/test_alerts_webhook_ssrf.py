"""Webhook targets that reach internal addresses through an IPv6 form are refused, unless allowed."""
from __future__ import annotations

import ipaddress

import pytest
from sqlalchemy import select

from hub.alerts.models import Subscription
from hub.alerts.webhooks import AllowList, TargetRefused, check_target, embedded_ipv4
from hub.extensions import db
from tests import factories as f
from tests.alerts_support import cheap_password_hashing

# (IPv6 literal, the internal IPv4 address it carries)
INTERNAL_IN_IPV6 = [
    ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
    ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible
    ("::7f00:1", "127.0.0.1"),  # the same, written in hex
    ("::169.254.169.254", "169.254.169.254"),  # cloud metadata
    ("::ffff:0:127.0.0.1", "127.0.0.1"),  # SIIT
    ("::ffff:0:a9fe:a9fe", "169.254.169.254"),
    ("64:ff9b::127.0.0.1", "127.0.0.1"),  # NAT64 well-known prefix
    ("64:ff9b::10.0.0.8", "10.0.0.8"),
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
    ("64:ff9b:1::7f00:1", "127.0.0.1"),  # NAT64 local-use prefix (RFC 8215)
    ("64:ff9b:1:7f00:0:100::", "127.0.0.1"),  # ... embedded at the /48 position
    ("2002:7f00:1::1", "127.0.0.1"),  # 6to4
    ("2002:a9fe:a9fe::", "169.254.169.254"),
    ("2002:c0a8:101::1", "192.168.1.1"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"),  # Teredo, client obfuscated
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.1"),
]
PUBLIC_IPV6 = ["2606:4700:4700::1111", "2002:808:808::1", "64:ff9b::808:808"]


@pytest.fixture(autouse=True)
def _fast_users(monkeypatch):
    cheap_password_hashing(monkeypatch)


@pytest.mark.parametrize(("address", "inner"), INTERNAL_IN_IPV6)
def test_every_transition_form_yields_its_embedded_ipv4_address(address, inner):
    assert ipaddress.IPv4Address(inner) in embedded_ipv4(ipaddress.IPv6Address(address))


@pytest.mark.parametrize(("address", "inner"), INTERNAL_IN_IPV6)
def test_a_target_embedding_an_internal_ipv4_address_is_refused(address, inner):
    with pytest.raises(TargetRefused, match="HUB_WEBHOOK_ALLOW"):
        check_target(f"http://[{address}]:8080/hook", AllowList.parse(""))


@pytest.mark.parametrize(("address", "inner"), INTERNAL_IN_IPV6)
def test_the_operator_allow_list_still_admits_such_a_target(address, inner):
    assert check_target(f"http://[{address}]/hook", AllowList.parse(f"{address}/128")).port == 80


@pytest.mark.parametrize("address", PUBLIC_IPV6)
def test_public_ipv6_targets_are_accepted(address):
    assert check_target(f"https://[{address}]/hook", AllowList.parse("")).addresses == (address,)


@pytest.mark.parametrize(("address", "inner"), INTERNAL_IN_IPV6)
def test_the_api_refuses_the_target_and_accepts_it_once_allowed(api, app, monkeypatch, address, inner):
    me = api(f.make_user(f.make_org()))
    body = {"channel": "webhook", "target": f"http://[{address}]/hook", "secret": "s3cr3t"}
    refused = me.post("/subscriptions", json=body)
    assert refused.status_code == 422, refused.json
    assert refused.json["details"][0]["field"] == "target"
    assert "HUB_WEBHOOK_ALLOW" in refused.json["details"][0]["error"]
    monkeypatch.setitem(app.config, "HUB_WEBHOOK_ALLOW", f"{address}/128")
    assert me.post("/subscriptions", json=body).status_code == 201


@pytest.mark.parametrize("target", ["http://[::1", "http://[::1/hook", "http://[not-an-address]/hook",
                                    "http://[::1]:99999/hook", "http://example.org:port/hook"])
def test_a_malformed_webhook_url_is_a_validation_error_in_the_api(api, target):
    answer = api(f.make_user(f.make_org())).post("/subscriptions", json={"channel": "webhook", "target": target})
    assert answer.status_code == 422, answer.json
    assert [d["field"] for d in answer.json["details"]] == ["target"]


def test_a_malformed_webhook_url_is_shown_beside_the_field_in_the_browser(web):
    browser = web(f.make_user(f.make_org()))
    answer = browser.submit("/alerts/subscriptions", {"channel": "webhook", "target": "http://[::1",
                                                      "mode": "immediate"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'class="error"' in page and "malformed" in page
    assert db.session.scalars(select(Subscription)).all() == []
