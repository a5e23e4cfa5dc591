"""E-mail alerts through a real SMTP server (aiosmtpd) on loopback: parts, content rules, TLS, digests."""
from __future__ import annotations

import pytest
import trustme
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from hub.alerts import delivery as deliveries
from hub.alerts import jobs
from hub.alerts.models import Delivery
from hub.extensions import db
from tests import factories as f
from tests.alerts_support import SmtpServer, cheap_password_hashing, free_port, run_fan_out, subscribe


@pytest.fixture(autouse=True)
def _settings(monkeypatch):
    cheap_password_hashing(monkeypatch)


def deliver_due() -> None:
    ids = list(db.session.scalars(select(Delivery.id).where(Delivery.status.in_(("pending", "retrying")))))
    db.session.rollback()
    if ids:
        deliveries.deliver(ids)


def parts(message) -> tuple[str, str]:
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


def test_an_alert_email_has_a_plain_text_and_an_html_part(smtp):
    owner = f.make_org("hospital", "CZ")
    subscriber = f.make_user(f.make_org("national_cert", "CZ"))
    subscribe(subscriber, channel="email", target="SOC@cert.example")
    obj = f.indicator("evil.example", "domain-name", name="Phishing <domain> for staff",
                      description="Lure: payroll update")
    item = f.share(f.make_user(owner), [obj], tlp="green")
    run_fan_out()
    deliver_due()

    [(recipients, message)] = smtp.messages
    assert recipients == ["SOC@cert.example"]
    assert message["From"] == "HealthCERT Hub <alerts@hub.test>"
    assert message["Subject"] == f"[TLP:GREEN] Indicator “Phishing <domain> for staff” shared by {owner.name}"
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    link = f"http://hub.test/items/{item.stix_id}"
    for body in (text, html):
        assert link in body and item.stix_id in body and "Lure: payroll update" in body
        assert f"Shared by: {owner.name}" in body
    assert "Phishing <domain> for staff" in text
    assert "Phishing &lt;domain&gt; for staff" in html  # escaped, not markup
    row = db.session.scalars(select(Delivery)).one()
    assert row.status == "delivered"
    assert row.public_id in message["Message-ID"]


@pytest.mark.parametrize("tlp", ["red", "amber+strict"])
def test_red_and_amber_strict_emails_carry_a_link_and_an_id_only(smtp, tlp):
    org = f.make_org("hospital", "CZ")
    subscriber = f.make_user(org)
    subscribe(subscriber, channel="email", target="me@hospital.example")
    obj = f.indicator("198.51.100.201", name="Exfiltration host of ward 7", description="named patient data")
    item = f.share(f.make_user(org), [obj], tlp=tlp,
                   audience={"users": [subscriber.email]} if tlp == "red" else "own")
    run_fan_out()
    deliver_due()
    [(_, message)] = smtp.messages
    assert message["Subject"] == f"[TLP:{tlp.upper()}] Indicator {item.stix_id} shared"
    raw = message.as_string()
    for secret_text in ("198.51.100.201", "ward 7", "patient", org.name):
        assert secret_text not in raw
    text, html = parts(message)
    assert item.stix_id in text and f"/items/{item.stix_id}" in html


def test_an_anonymous_share_email_never_names_its_source(smtp):
    owner = f.make_org("hospital", "CZ")
    subscribe(f.make_user(f.make_org("national_cert", "CZ")), channel="email", target="soc@cert.example")
    f.share(f.make_user(owner), tlp="green", anonymous=True)
    run_fan_out()
    deliver_due()
    [(_, message)] = smtp.messages
    raw = message.as_string()
    assert owner.name not in raw and owner.slug not in raw and "Shared by" not in raw


def test_starttls_and_login_are_used_when_configured(app, monkeypatch, tmp_path):
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    import ssl

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(tls)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"hub" and auth_data.password == b"relay-password")

    smtp = SmtpServer(tls_context=tls, require_starttls=True, auth_required=True, authenticator=authenticator)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the hub trusts the test CA like a system CA
    for key, value in (("HUB_SMTP_HOST", "127.0.0.1"), ("HUB_SMTP_PORT", smtp.port), ("HUB_SMTP_STARTTLS", True),
                       ("HUB_SMTP_USER", "hub"), ("HUB_SMTP_PASSWORD", "relay-password")):
        monkeypatch.setitem(app.config, key, value)
    try:
        subscribe(f.make_user(f.make_org("national_cert")), channel="email", target="soc@cert.example")
        f.share(f.make_user(f.make_org()), tlp="green")
        run_fan_out()
        deliver_due()
        assert len(smtp.messages) == 1
        assert logins == [(b"hub", b"relay-password")]
    finally:
        smtp.stop()


def test_an_unreachable_relay_means_a_retry_not_a_lost_alert(app, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "HUB_SMTP_PORT", free_port())  # nothing listens there
    subscribe(f.make_user(f.make_org("national_cert")), channel="email", target="soc@cert.example")
    f.share(f.make_user(f.make_org()), tlp="green")
    run_fan_out()
    deliver_due()
    row = db.session.scalars(select(Delivery)).one()
    assert row.status == "retrying" and row.attempts == 1 and row.last_error.startswith("SMTP:")


def test_an_hourly_digest_gathers_the_alerts_into_one_email(smtp):
    cert = f.make_org("national_cert", "CZ")
    subscribe(f.make_user(cert), channel="email", target="hourly@cert.example", mode="hourly")
    subscribe(f.make_user(cert), channel="email", target="daily@cert.example", mode="daily")
    sharer = f.make_user(f.make_org("hospital", "CZ"))
    shared = [f.share(sharer, [f.indicator(f"192.0.2.{n}")], tlp="green") for n in (1, 2, 3)]
    red = f.share(sharer, [f.indicator("192.0.2.99", name="Ward 9 beacon")], tlp="red",
                  audience={"users": [db.session.get(type(sharer), sharer.id).email]})
    run_fan_out()
    deliver_due()
    assert smtp.messages == []  # digests wait for their hour

    assert jobs.send_digests("hourly") == 1
    [(recipients, message)] = smtp.messages
    assert recipients == ["hourly@cert.example"]
    assert message["Subject"] == "[HealthCERT Hub] Hourly digest: 3 alerts"
    text, html = parts(message)
    for item in shared:
        assert item.stix_id in text and item.stix_id in html
    assert red.stix_id not in text  # the subscriber may not read it: never in the digest
    assert jobs.send_digests("hourly") == 0
    statuses = dict(db.session.execute(select(Delivery.status, Delivery.id)).all())
    assert set(statuses) == {"delivered", "digest"}  # the daily digest is still waiting
    assert jobs.send_digests("daily") == 1
    assert smtp.messages[-1][0] == ["daily@cert.example"]
