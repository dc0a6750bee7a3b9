"""`idmx notify` against a real SMTP server (aiosmtpd) started by the test, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner
from sqlalchemy import select

from idmx import clock
from idmx.cli import main
from idmx.db import models as m
from idmx.items import services as follows
from idmx.notify import links
from idmx.notify import services as outbox
from idmx.notify import services as sender
from idmx.plans import policy
from idmx.plans import services as items
from idmx.settings import Settings, SettingsError
from tests.notify.conftest import REFUSED, Recorder, _free_port


def queue(db, *messages: tuple[str, str, str]) -> None:
    with db.write() as s:
        for to, subject, body in messages:
            outbox.add(s, to, subject, body)


def rows(db) -> list[m.OutboxMessage]:
    with db.read() as s:
        return list(s.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id)))


def test_messages_arrive_with_recipients_subject_and_utf8_body(db, settings, smtp):
    queue(db,
          ("uno@example.mx", "Actualización de “Calidad del aire”", "Cambió la respuesta: ñandú, acción, 100 %.\n"),
          ("dos@example.mx", "Otro aviso", "Texto simple\n"))
    report = sender.send_pending(db, settings.with_(smtp_url=smtp.url))
    assert (report.sent, report.failed, report.pending, report.error) == (2, 0, 0, "")
    assert str(report) == "sent 2, failed 0, pending 0"
    assert [r["to"] for r in smtp.messages] == [["uno@example.mx"], ["dos@example.mx"]]
    first = smtp.messages[0]["msg"]
    assert first["Subject"] == "Actualización de “Calidad del aire”"
    assert first["From"] == "avisos@datos.gob.mx" and smtp.messages[0]["from"] == "avisos@datos.gob.mx"
    assert first.get_content_charset() == "utf-8"
    assert first.get_content().replace("\r\n", "\n") == "Cambió la respuesta: ñandú, acción, 100 %.\n"
    assert all(r.sent_at is not None and r.attempts == 0 for r in rows(db))
    # Nothing left: a second run sends nothing.
    assert str(sender.send_pending(db, settings.with_(smtp_url=smtp.url))) == "sent 0, failed 0, pending 0"
    assert len(smtp.messages) == 2


def test_a_refused_recipient_stays_unsent_and_does_not_stop_the_others(db, settings, smtp):
    queue(db, ("a@example.mx", "A", "a\n"), (REFUSED, "R", "r\n"), ("c@example.mx", "C", "c\n"))
    report = sender.send_pending(db, settings.with_(smtp_url=smtp.url))
    assert (report.sent, report.failed, report.pending) == (2, 1, 1)
    assert [r["to"] for r in smtp.messages] == [["a@example.mx"], ["c@example.mx"]]
    a, refused, c = rows(db)
    assert a.sent_at and c.sent_at
    assert refused.sent_at is None and refused.attempts == 1 and "550" in refused.last_error
    # Not retried before its backoff ends; then on each run until MAX_ATTEMPTS failures, and kept, unsent.
    with clock.frozen(clock.now()) as frozen:
        assert sender.send_pending(db, settings.with_(smtp_url=smtp.url)).failed == 0
        for n in range(1, sender.MAX_ATTEMPTS):
            frozen.advance(timedelta(seconds=sender.backoff_s(n) - 1))
            assert sender.send_pending(db, settings.with_(smtp_url=smtp.url)).failed == 0, "retried too early"
            frozen.advance(timedelta(seconds=1))
            assert sender.send_pending(db, settings.with_(smtp_url=smtp.url)).failed == 1
        refused = rows(db)[1]
        assert refused.attempts == sender.MAX_ATTEMPTS and refused.sent_at is None
        frozen.advance(timedelta(days=1))
        assert sender.send_pending(db, settings.with_(smtp_url=smtp.url)).pending == 0


def test_an_unreachable_server_uses_up_no_attempts(db, settings):
    queue(db, ("a@example.mx", "A", "a\n"))
    report = sender.send_pending(db, settings.with_(smtp_url=f"smtp://127.0.0.1:{_free_port()}"))
    assert (report.sent, report.failed, report.pending) == (0, 0, 1) and "cannot reach" in report.error
    (row,) = rows(db)
    assert row.attempts == 0 and row.sent_at is None


def test_two_senders_at_once_send_each_message_once(db, settings, smtp):
    queue(db, *[(f"p{i}@example.mx", f"S{i}", f"b{i}\n") for i in range(30)])
    cfg = settings.with_(smtp_url=smtp.url)
    reports: list[sender.SendReport] = []
    threads = [threading.Thread(target=lambda: reports.append(sender.send_pending(db, cfg))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in reports) == 30
    assert sorted(r["to"][0] for r in smtp.messages) == sorted(f"p{i}@example.mx" for i in range(30))
    assert all(r.sent_at is not None for r in rows(db))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # a test server on loopback
def test_credentials_from_the_url(db, settings):
    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"p@ss:word")

    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), authenticator=authenticator,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    try:
        queue(db, ("a@example.mx", "A", "a\n"))
        url = f"smtp://avisos:p%40ss%3Aword@127.0.0.1:{controller.port}"
        report = sender.send_pending(db, settings.with_(smtp_url=url, mail_from="IDMX <avisos@datos.gob.mx>"))
    finally:
        controller.stop()
    assert report.sent == 1 and seen == [(b"avisos", b"p@ss:word")]
    assert handler.messages[0]["msg"]["From"] == "IDMX <avisos@datos.gob.mx>"


@pytest.mark.parametrize("url, expected", [
    ("smtp://mail.example.mx", ("smtp", "mail.example.mx", 25, "", "", "noreply@127.0.0.1")),
    ("smtp+starttls://u%40x:p@mail.example.mx:2525?from=a@b.mx", ("smtp+starttls", "mail.example.mx", 2525, "u@x", "p", "a@b.mx")),
    ("smtps://mail.example.mx", ("smtps", "mail.example.mx", 465, "", "", "noreply@127.0.0.1")),
])
def test_smtp_url_parsing(url, expected):
    settings = Settings(database_url="sqlite://", secret_key="k" * 40, smtp_url=url)
    cfg = sender.smtp_config(settings)
    assert (cfg.scheme, cfg.host, cfg.port, cfg.username, cfg.password, cfg.mail_from) == expected


@pytest.mark.parametrize("url", ["", "http://mail.example.mx", "smtp://", "smtp://host:99999"])
def test_bad_smtp_url(url):
    with pytest.raises(sender.SmtpConfigError):
        sender.smtp_config(Settings(database_url="sqlite://", secret_key="k" * 40, smtp_url=url))


def test_follow_confirm_change_and_notify_end_to_end(db, settings, smtp):
    """A confirmed follower gets the update with the item's address and a working unsubscribe link."""
    links.configure(settings)
    with db.write() as s:
        institution_id = s.scalar(select(m.Institution.id).where(m.Institution.acronym == "INEGI"))
        today = clock.today()
        item = items.create_item(s, institution_id=institution_id, source=m.PlanSource.own, title="Censo de población",
                            today=today)
        s.flush()
        item_id = item.id
    follows.follow_item(db, item_id, "lectora@example.mx", "en")
    sender.send_pending(db, settings.with_(smtp_url=smtp.url))
    confirmation = smtp.messages[-1]["msg"]
    assert confirmation["Subject"].startswith("Confirm") and "Censo de población" in confirmation["Subject"]
    token = re.search(r"/follows/confirm/([A-Za-z0-9_-]+)", confirmation.get_content()).group(1)
    follows.confirm(db, token)
    with db.write() as s:
        items.apply_move(s, s.get(m.PlanItem, item_id), lambda a: policy.commit(a, policy.add_business_days(today, 10), today),
                    actor_id=None)
    assert str(sender.send_pending(db, settings.with_(smtp_url=smtp.url))) == "sent 1, failed 0, pending 0"
    update = smtp.messages[-1]
    assert update["to"] == ["lectora@example.mx"]
    body = update["msg"].get_content()
    assert f"{settings.base_url}/items/{item_id}" in body
    unsubscribe = re.search(r"/follows/unsubscribe/(\S+)", body).group(1)
    follows.unsubscribe(db, unsubscribe)
    with db.read() as s:
        assert s.scalar(select(m.Follow)) is None


# --- the command ----------------------------------------------------------------------------------------------


def _env(db, **extra: str) -> dict[str, str]:
    return {"IDMX_DATABASE_URL": db.url, "IDMX_ENV": "test", "IDMX_SECRET_KEY": "s" * 40, "IDMX_SMTP_URL": "",
            "IDMX_MAIL_FROM": "", **extra}


def test_cli_sends_and_reports(db, smtp):
    queue(db, ("a@example.mx", "Aviso", "Hola\n"), (REFUSED, "Aviso", "Hola\n"))
    result = CliRunner().invoke(main, ["notify"], env=_env(db, IDMX_SMTP_URL=smtp.url))
    assert result.exit_code == 0, result.output
    assert "sent 1, failed 1, pending 1" in result.output
    assert [r["to"] for r in smtp.messages] == [["a@example.mx"]]


def test_cli_without_smtp_settings_fails_with_a_message(db):
    queue(db, ("a@example.mx", "Aviso", "Hola\n"))
    result = CliRunner().invoke(main, ["notify"], env=_env(db))
    assert result.exit_code != 0
    assert "IDMX_SMTP_URL is not set" in result.output
    assert rows(db)[0].attempts == 0


def test_cli_with_an_unreachable_server_exits_non_zero(db):
    queue(db, ("a@example.mx", "Aviso", "Hola\n"))
    result = CliRunner().invoke(main, ["notify"], env=_env(db, IDMX_SMTP_URL=f"smtp://127.0.0.1:{_free_port()}"))
    assert result.exit_code != 0
    assert "sent 0, failed 0, pending 1" in result.output and "cannot reach" in result.output


@pytest.mark.parametrize("raw, expected", [
    (None, "http://127.0.0.1:8000"), ("https://datos.gob.mx/", "https://datos.gob.mx"),
    ("https://gob.mx/idmx", "https://gob.mx/idmx"), ("ftp://datos.gob.mx", None), ("datos.gob.mx", None),
])
def test_public_url_setting(raw, expected):
    env = {"IDMX_SECRET_KEY": "s" * 40, **({"IDMX_PUBLIC_URL": raw} if raw is not None else {}),
           "IDMX_MAIL_FROM": "avisos@datos.gob.mx"}
    if expected is None:
        with pytest.raises(SettingsError, match="IDMX_PUBLIC_URL"):
            Settings.from_env(env)
    else:
        settings = Settings.from_env(env)
        assert settings.base_url == expected and settings.mail_from == "avisos@datos.gob.mx"


@pytest.mark.parametrize("host, port, expected", [
    ("127.0.0.1", "9001", "http://127.0.0.1:9001"), ("0.0.0.0", "8080", "http://localhost:8080"),
    ("datos.local", "80", "http://datos.local:80"), ("::1", "8000", "http://[::1]:8000"),
])
def test_without_a_public_url_links_follow_where_the_server_listens(host, port, expected):
    settings = Settings.from_env({"IDMX_SECRET_KEY": "s" * 40, "IDMX_HOST": host, "IDMX_PORT": port})
    assert settings.base_url == expected
    # `idmx serve --port` overrides after reading the environment: the links follow.
    assert settings.with_(port=9999).base_url == expected.rsplit(":", 1)[0] + ":9999"
