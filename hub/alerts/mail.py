"""Alert e-mail: a plain-text and an HTML part, sent through the configured SMTP relay."""
from __future__ import annotations

import email.policy
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from flask import current_app, render_template

from hub.alerts.content import AlertContent

# Long STIX ids in subjects: fold only beyond RFC 5322's hard limit, never before the first word.
_POLICY = email.policy.SMTP.clone(max_line_length=998)


class MailFailed(Exception):
    """The relay did not take the message; a later attempt may succeed."""


def _subject_of(alert: AlertContent) -> str:
    # RED and AMBER+STRICT: not even the name leaves the hub, only the id.
    return f"[{alert.tlp_label}] {alert.title}"[:250]


def alert_message(alert: AlertContent, to: str, *, message_key: str) -> EmailMessage:
    message = _base_message(to, _subject_of(alert), message_key)
    message.set_content(render_template("alerts/email/alert.txt", alert=alert))
    message.add_alternative(
        render_template("alerts/email/alert.html", alert=alert), subtype="html"
    )
    return message


def digest_message(alerts: list[AlertContent], to: str, *, period: str, message_key: str) -> EmailMessage:
    subject = f"[HealthCERT Hub] {period.title()} digest: {len(alerts)} alert{'s' if len(alerts) != 1 else ''}"
    message = _base_message(to, subject, message_key)
    message.set_content(render_template("alerts/email/digest.txt", alerts=alerts, period=period))
    message.add_alternative(
        render_template("alerts/email/digest.html", alerts=alerts, period=period), subtype="html"
    )
    return message


def _base_message(to: str, subject: str, message_key: str) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["From"] = current_app.config["HUB_MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # The same Message-ID on every retry lets mail systems drop a duplicate.
    message["Message-ID"] = f"<{message_key}@healthcert-hub>"
    message["X-Hub-Delivery"] = message_key
    message["Auto-Submitted"] = "auto-generated"
    return message


class MailSender:
    """One SMTP session, opened on first use and reused for a batch of messages."""

    def __init__(self):
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        config = current_app.config
        smtp = smtplib.SMTP(config["HUB_SMTP_HOST"], int(config["HUB_SMTP_PORT"]), timeout=30)
        try:
            smtp.ehlo()
            if config.get("HUB_SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if config.get("HUB_SMTP_USER"):
                smtp.login(config["HUB_SMTP_USER"], config.get("HUB_SMTP_PASSWORD") or "")
        except Exception:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise MailFailed(f"SMTP: {exc}") from exc

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None
