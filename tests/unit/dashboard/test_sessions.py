"""Dashboard sessions: expiry, the bound on how many are kept, and that visitors who never
sign in cannot push a signed-in session out."""

from __future__ import annotations

from imperium.interfaces.dashboard.sessions import Sessions


def test_a_session_is_found_until_it_expires() -> None:
    sessions = Sessions(ttl=10.0)
    session = sessions.new(100.0)
    assert sessions.get(session.id, 109.0) is session
    assert sessions.get(session.id, 110.0) is None
    assert sessions.get(session.id, 100.0) is None  # forgotten once seen expired


def test_a_flood_of_anonymous_sessions_does_not_evict_a_signed_in_one() -> None:
    sessions = Sessions(limit=3)
    signed_in = sessions.new(0.0, key="imp_admin")
    first = sessions.new(0.0)
    for _ in range(10):
        sessions.new(0.0)
    assert sessions.get(signed_in.id, 1.0) is signed_in
    assert sessions.get(first.id, 1.0) is None  # the oldest anonymous one made room


def test_signed_in_sessions_are_bounded_too() -> None:
    sessions = Sessions(limit=2)
    oldest = sessions.new(0.0, key="a")
    newer = [sessions.new(0.0, key=k) for k in ("b", "c")]
    assert sessions.get(oldest.id, 1.0) is None
    assert [sessions.get(s.id, 1.0) for s in newer] == newer


def test_dropped_sessions_are_gone() -> None:
    sessions = Sessions()
    anonymous, signed_in = sessions.new(0.0), sessions.new(0.0, key="k")
    sessions.drop(anonymous.id)
    sessions.drop(signed_in.id)
    assert sessions.get(anonymous.id, 1.0) is None
    assert sessions.get(signed_in.id, 1.0) is None
    assert sessions.get(None, 1.0) is None
