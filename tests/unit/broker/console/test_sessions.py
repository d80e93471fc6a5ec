"""Console sessions: made from a token, found by their cookie, ended by logout, by expiry
and by the token's revocation; driver tokens refused; the CSRF check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from broker.console import sessions
from broker.errors import Unauthenticated
from broker.service import tokens
from broker.store.db import utcnow
from broker.store.schema import console_sessions
from broker.store.schema import tokens as token_rows
from tests.unit.broker.console.conftest import Api


def _lookup(api: Api, cookie: str) -> sessions.Session | None:
    with api.db.read() as conn:
        return sessions.lookup(conn, cookie)


def test_login_gives_a_session_the_store_knows_only_by_digest(api: Api) -> None:
    cookie, session = sessions.login(api.db, api.secrets["alice"])
    found = _lookup(api, cookie)
    assert found is not None
    assert (found.principal.user, found.principal.role.value) == ("alice", "researcher")
    assert found.csrf == session.csrf and len(found.csrf) >= 40
    with api.db.read() as conn:
        ids = conn.execute(select(console_sessions.c.id)).scalars().all()
    assert cookie not in ids and len(ids) == 1
    assert api.audit("console-login")[-1].actor == "alice"


def test_logout_expiry_and_revocation_end_a_session(api: Api) -> None:
    ended = {}
    cookie, _ = sessions.login(api.db, api.secrets["alice"])
    sessions.logout(api.db, cookie)
    ended["logout"] = _lookup(api, cookie)
    cookie, _ = sessions.login(api.db, api.secrets["bob"])
    with api.db.write() as conn:
        conn.execute(update(console_sessions).values(expires_at=utcnow() - timedelta(seconds=1)))
    ended["expired"] = _lookup(api, cookie)
    cookie, _ = sessions.login(api.db, api.secrets["carol"])
    assert _lookup(api, cookie) is not None
    tokens.revoke(api.db, api.token_ids["carol"], by="root")
    ended["revoked"] = _lookup(api, cookie)
    ended["unknown"] = _lookup(api, "x" * 43)
    ended["too long"] = _lookup(api, "x" * 1000)
    assert ended == dict.fromkeys(ended)


def test_session_never_outlives_its_token(api: Api) -> None:
    _, secret = tokens.create(api.db, user="alice", role="researcher", created_by="t")
    soon = utcnow() + timedelta(minutes=5)
    with api.db.write() as conn:
        conn.execute(
            update(token_rows)
            .where(token_rows.c.sha256 == tokens.digest(secret))
            .values(expires_at=soon)
        )
    _, session = sessions.login(api.db, secret)
    assert session.expires_at == soon
    _, full = sessions.login(api.db, api.secrets["alice"])
    hours = (full.expires_at - utcnow()).total_seconds() / 3600
    assert sessions.SESSION_HOURS - 0.01 < hours <= sessions.SESSION_HOURS


@pytest.mark.parametrize("secret", ["", "   ", "qcb_nope", "x" * 200])
def test_unknown_tokens_open_nothing(api: Api, secret: str) -> None:
    with pytest.raises(Unauthenticated, match="unknown, revoked or expired"):
        sessions.login(api.db, secret)


def test_driver_token_cannot_open_the_console(api: Api) -> None:
    _, secret = tokens.create(api.db, user="alice", role="researcher", created_by="t")
    with api.db.write() as conn:
        conn.execute(
            update(token_rows)
            .where(token_rows.c.sha256 == tokens.digest(secret))
            .values(role="driver", job_id="j-1")
        )
    with pytest.raises(Unauthenticated, match="driver token"):
        sessions.login(api.db, secret)


def test_csrf_check(api: Api) -> None:
    _, session = sessions.login(api.db, api.secrets["alice"])
    assert sessions.csrf_ok(session, session.csrf)
    assert not sessions.csrf_ok(session, None)
    assert not sessions.csrf_ok(session, "")
    assert not sessions.csrf_ok(session, session.csrf[:-1])
    assert not sessions.csrf_ok(session, session.csrf + "x")


def test_expired_sessions_are_dropped_by_a_later_login(api: Api) -> None:
    sessions.login(api.db, api.secrets["alice"])
    with api.db.write() as conn:
        conn.execute(update(console_sessions).values(expires_at=utcnow() - sessions.KEEP_ENDED * 2))
    sessions.login(api.db, api.secrets["bob"])
    with api.db.read() as conn:
        left = conn.execute(select(console_sessions.c.token_id)).scalars().all()
    assert left == [api.token_ids["bob"]]
