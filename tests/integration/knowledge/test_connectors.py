"""The connectors against a local server speaking each API's documented format
(tests/support/knowledge_server.py): what they bring back, their conditional requests,
rate limits (on an injected clock: a limit that did not limit would show as no wait),
quotas, backoff, retries, timeouts, malformed items and the allowed domains."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from imperium.adapters.knowledge.arxiv import ArxivConnector
from imperium.adapters.knowledge.feeds import FeedConnector
from imperium.adapters.knowledge.github import GitHubConnector
from imperium.adapters.knowledge.http import USER_AGENT, HttpConfig, WebClient
from imperium.adapters.knowledge.stackexchange import StackExchangeConnector
from imperium.domain.knowledge import IngestStatus, Source, SourceKind, SourceState
from tests.support.knowledge_server import (
    ETAG,
    LAST_MODIFIED,
    Answer,
    KnowledgeServer,
    knowledge_server,
    questions,
    rate_headers,
)

WALL = 1_800_000_000.0


class FakeClock:
    """Wall and monotonic time that move only when the code sleeps (instantly)."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return WALL + self.elapsed

    def monotonic(self) -> float:
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds


@pytest.fixture(scope="module")
def server() -> Iterator[KnowledgeServer]:
    with knowledge_server() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(server: KnowledgeServer) -> None:
    server.requests.clear()
    server._script.clear()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def web(clock: FakeClock) -> AsyncIterator[WebClient]:
    config = HttpConfig(timeout=0.2, max_retries=2, backoff_base=1.0, max_wait=60.0)
    client = WebClient(clock, config, sleep=clock.sleep)
    yield client
    await client.close()


def source(server: KnowledgeServer, kind: SourceKind, path: str, **fields: Any) -> Source:
    return Source(f"s-{kind.value}", kind, server.base_url + path, **fields)


async def test_feed_items_user_agent_and_conditional_requests(
    server: KnowledgeServer, web: WebClient
) -> None:
    feed = source(server, SourceKind.RSS, "/feed.xml", min_interval=0)
    first = await FeedConnector(web).fetch(feed, SourceState(feed.id), [], 10)
    assert first.status is IngestStatus.OK
    assert [i.url for i in first.items] == [
        "http://blog.local/task-groups",
        "http://blog.local/pools",
    ]
    assert first.items[0].text.startswith("<p>TaskGroup")
    assert first.items[0].published_at == 1_796_551_200.0
    assert first.skipped_items == 1  # the item without a link
    assert (first.state.etag, first.state.last_modified) == (ETAG, LAST_MODIFIED)
    assert server.requests[0].headers["user-agent"] == USER_AGENT
    assert "Imperium" in USER_AGENT

    again = await FeedConnector(web).fetch(feed, first.state, [], 10)
    assert again.status is IngestStatus.NOT_MODIFIED
    assert again.items == []
    assert server.requests[1].headers["if-none-match"] == ETAG
    assert server.requests[1].headers["if-modified-since"] == LAST_MODIFIED


async def test_the_rate_limit_really_limits_across_fetches(
    server: KnowledgeServer, web: WebClient, clock: FakeClock
) -> None:
    feed = source(server, SourceKind.RSS, "/feed.xml", min_interval=5.0)
    connector = FeedConnector(web)
    for _ in range(3):  # three ingests, one client: the pace holds between them
        await connector.fetch(feed, SourceState(feed.id), [], 10)
    assert len(server.requests) == 3
    assert clock.sleeps == [pytest.approx(5.0), pytest.approx(5.0)]


async def test_arxiv_waits_three_seconds_whatever_the_source_says(
    server: KnowledgeServer, web: WebClient, clock: FakeClock
) -> None:
    arxiv = source(server, SourceKind.ARXIV, "/api", min_interval=0.0)
    outcome = await ArxivConnector(web).fetch(
        arxiv, SourceState(arxiv.id), ["agents", "leases"], 10
    )
    assert outcome.status is IngestStatus.OK
    assert [i.title for i in outcome.items][:2] == [
        "Retrieval augmented agents",
        "Scheduling with leases",
    ]
    assert outcome.items[0].author == "Grace Hopper"
    assert outcome.items[0].topic == "agents"
    assert server.requests[0].query["search_query"] == ['all:"agents"']
    assert len(server.requests) == 2
    assert clock.sleeps == [pytest.approx(3.0)]


async def test_stack_exchange_questions_with_accepted_answers(
    server: KnowledgeServer, web: WebClient
) -> None:
    se = source(server, SourceKind.STACKEXCHANGE, "/2.3", params={"tags": ["python asyncio"]})
    outcome = await StackExchangeConnector(web).fetch(se, SourceState(se.id), [], 10)
    assert outcome.status is IngestStatus.OK
    assert server.paths() == ["/2.3/questions", "/2.3/answers/11"]
    assert server.requests[0].query["tagged"] == ["python-asyncio"]
    assert server.requests[0].query["site"] == ["stackoverflow"]
    first, second = outcome.items
    assert "Accepted answer" in first.text
    assert "task.cancel()" in first.text
    assert "Accepted answer" not in second.text
    assert outcome.skipped_items == 1  # the malformed question
    assert outcome.state.api_quota_remaining == 298


async def test_stack_exchange_backoff_delays_the_next_call(
    server: KnowledgeServer, web: WebClient, clock: FakeClock
) -> None:
    server.script("/2.3/questions", Answer(body=questions(backoff=10)))
    se = source(server, SourceKind.STACKEXCHANGE, "/2.3", min_interval=0, params={"tags": "python"})
    outcome = await StackExchangeConnector(web).fetch(se, SourceState(se.id), [], 10)
    assert outcome.status is IngestStatus.OK
    assert len(outcome.items) == 2
    assert clock.sleeps == [pytest.approx(10.0)]  # the answers call waited
    assert outcome.state.backoff_until == pytest.approx(WALL + 10.0)


async def test_a_long_backoff_ends_the_ingest_and_the_next_is_skipped(
    server: KnowledgeServer, web: WebClient
) -> None:
    server.script("/2.3/questions", Answer(body=questions(backoff=600)))
    se = source(server, SourceKind.STACKEXCHANGE, "/2.3", params={"tags": "python"})
    outcome = await StackExchangeConnector(web).fetch(se, SourceState(se.id), [], 10)
    assert outcome.status is IngestStatus.SKIPPED
    assert "backing off" in (outcome.error or "")
    assert server.paths() == ["/2.3/questions"]
    later = await StackExchangeConnector(web).fetch(se, outcome.state, [], 10)
    assert later.status is IngestStatus.SKIPPED
    assert server.paths() == ["/2.3/questions"]


async def test_stack_exchange_error_bodies_and_spent_quota(
    server: KnowledgeServer, web: WebClient
) -> None:
    throttled = {"error_id": 502, "error_name": "throttle_violation",
                 "error_message": "too many requests from this IP"}  # fmt: skip
    server.script("/2.3/questions", Answer(status=400, body=throttled))
    se = source(server, SourceKind.STACKEXCHANGE, "/2.3", params={"tags": "python"})
    failed = await StackExchangeConnector(web).fetch(se, SourceState(se.id), [], 10)
    assert failed.status is IngestStatus.FAILED
    assert "HTTP 400" in (failed.error or "")
    assert "throttle_violation" in (failed.error or "")

    server.script("/2.3/questions", Answer(body=questions(quota_remaining=0)))
    spent = await StackExchangeConnector(web).fetch(se, SourceState(se.id), [], 10)
    assert spent.state.api_quota_remaining == 0
    assert spent.state.backoff_until is not None
    assert spent.state.backoff_until > WALL + 60


async def test_our_daily_quota_stops_requests(server: KnowledgeServer, web: WebClient) -> None:
    feed = source(server, SourceKind.RSS, "/feed.xml", min_interval=0, daily_quota=2)
    connector = FeedConnector(web)
    state = SourceState(feed.id)
    for _ in range(2):
        state = (await connector.fetch(feed, state, [], 10)).state
    third = await connector.fetch(feed, state, [], 10)
    assert third.status is IngestStatus.SKIPPED
    assert "quota of 2" in (third.error or "")
    assert len(server.requests) == 2


async def test_429_is_retried_after_its_retry_after(
    server: KnowledgeServer, web: WebClient, clock: FakeClock
) -> None:
    server.script("/feed.xml", Answer(status=429, headers={"Retry-After": "7"}))
    feed = source(server, SourceKind.RSS, "/feed.xml", min_interval=0)
    outcome = await FeedConnector(web).fetch(feed, SourceState(feed.id), [], 10)
    assert outcome.status is IngestStatus.OK
    assert len(server.requests) == 2
    assert clock.sleeps == [pytest.approx(7.0)]


async def test_server_errors_retry_with_backoff_then_fail(
    server: KnowledgeServer, web: WebClient, clock: FakeClock
) -> None:
    server.script("/feed.xml", *[Answer(status=503, body="down")] * 3)
    feed = source(server, SourceKind.RSS, "/feed.xml", min_interval=0)
    outcome = await FeedConnector(web).fetch(feed, SourceState(feed.id), [], 10)
    assert outcome.status is IngestStatus.FAILED
    assert outcome.error == "HTTP 503, after 3 attempts"
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(2.0)]  # exponential
    assert outcome.state.last_error == outcome.error


async def test_a_timeout_is_retried_and_recorded(server: KnowledgeServer, web: WebClient) -> None:
    server.script("/feed.xml", *[Answer(delay=0.4, body="late")] * 3)
    feed = source(server, SourceKind.RSS, "/feed.xml", min_interval=0)
    outcome = await FeedConnector(web).fetch(feed, SourceState(feed.id), [], 10)
    assert outcome.status is IngestStatus.FAILED
    assert "Timeout" in (outcome.error or "")
    assert len(server.requests) == 3


async def test_github_search_and_rate_limit_headers(
    server: KnowledgeServer, web: WebClient, clock: FakeClock
) -> None:
    os.environ["IMPERIUM_TEST_GH_TOKEN"] = "ghp_local"
    gh = source(server, SourceKind.GITHUB, "", params={"token_env": "IMPERIUM_TEST_GH_TOKEN"})
    local = GitHubConnector(web, "IMPERIUM_TEST_GH_TOKEN", secret_host="127.0.0.1")
    try:
        outcome = await local.fetch(gh, SourceState(gh.id), ["http client"], 5)
    finally:
        del os.environ["IMPERIUM_TEST_GH_TOKEN"]
    assert [i.url for i in outcome.items] == ["https://github.com/encode/httpx"]
    assert outcome.skipped_items == 1
    assert server.requests[0].query["q"] == ["http client"]
    assert server.requests[0].headers["authorization"] == "Bearer ghp_local"
    assert outcome.state.api_quota_remaining == 59

    reset = int(WALL) + 3600
    server.script("/search/repositories", Answer(status=403, body={"message": "rate limit"},
                                                 headers=rate_headers(0, reset)))  # fmt: skip
    limited = await local.fetch(gh, outcome.state, ["http client"], 5)
    assert limited.status is IngestStatus.FAILED
    assert "HTTP 403" in (limited.error or "")
    assert limited.state.backoff_until == pytest.approx(reset)
    skipped = await local.fetch(gh, limited.state, ["http client"], 5)
    assert skipped.status is IngestStatus.SKIPPED
    assert len(server.requests) == 2


class Watched(dict[str, str]):
    """os.environ that records which variables were read."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.read.append(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.append(key)
        return super().__getitem__(key)


@pytest.mark.parametrize(
    ("kind", "param", "name", "secret_host", "why"),
    [
        (SourceKind.GITHUB, "token_env", "DATABASE_URL", "127.0.0.1", "IMPERIUM_MODEL_KEY_ENVS"),
        (SourceKind.STACKEXCHANGE, "key_env", "HOME", "127.0.0.1", "IMPERIUM_MODEL_KEY_ENVS"),
        (SourceKind.GITHUB, "token_env", "GH_API_KEY", None, "only to api.github.com"),
        (SourceKind.STACKEXCHANGE, "key_env", "SE_API_KEY", None, "only to api.stackexchange"),
    ],
)
async def test_a_key_variable_is_read_only_when_allowed_and_sent_only_to_the_api(
    server: KnowledgeServer,
    web: WebClient,
    monkeypatch: pytest.MonkeyPatch,
    kind: SourceKind,
    param: str,
    name: str,
    secret_host: str | None,
    why: str,
) -> None:
    environ = Watched({"DATABASE_URL": "postgresql://u:pw@db/x", "HOME": "/root",
                       "GH_API_KEY": "ghp_x", "SE_API_KEY": "se_x"})  # fmt: skip
    monkeypatch.setattr(os, "environ", environ)
    src = source(server, kind, "", params={param: name}, min_interval=0)
    connector = (GitHubConnector if kind is SourceKind.GITHUB else StackExchangeConnector)(
        web, secret_host=secret_host
    )
    outcome = await connector.fetch(src, SourceState(src.id), ["x"], 5)
    assert outcome.status is IngestStatus.FAILED
    assert why in (outcome.error or "")
    assert name not in environ.read
    assert server.requests == []  # nothing was sent anywhere


async def test_a_body_larger_than_the_cap_fails_the_source(
    server: KnowledgeServer, clock: FakeClock
) -> None:
    server.script("/feed.xml", Answer(body="<rss>" + "x" * 5000 + "</rss>"))
    small = WebClient(clock, HttpConfig(timeout=1, max_retries=0, max_body=1000), clock.sleep)
    try:
        feed = source(server, SourceKind.RSS, "/feed.xml", min_interval=0)
        outcome = await FeedConnector(small).fetch(feed, SourceState(feed.id), [], 10)
    finally:
        await small.close()
    assert outcome.status is IngestStatus.FAILED
    assert "larger than 1000 bytes" in (outcome.error or "")


async def test_feeds_are_parsed_off_the_event_loop(
    server: KnowledgeServer, web: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from imperium.adapters.knowledge import arxiv, feeds

    threads: list[int] = []
    real = feeds.parse_feed

    def watched(content: bytes) -> Any:
        threads.append(threading.get_ident())
        return real(content)

    monkeypatch.setattr(feeds, "parse_feed", watched)
    monkeypatch.setattr(arxiv, "parse_feed", watched)
    feed = source(server, SourceKind.RSS, "/feed.xml", min_interval=0)
    assert (await FeedConnector(web).fetch(feed, SourceState(feed.id), [], 10)).items
    papers = source(server, SourceKind.ARXIV, "/api", min_interval=0)
    await ArxivConnector(web).fetch(papers, SourceState(papers.id), ["retrieval"], 3)
    assert len(threads) == 2
    assert threading.get_ident() not in threads


async def test_malformed_answers_fail_the_source_with_the_reason(
    server: KnowledgeServer, web: WebClient
) -> None:
    server.script("/search/repositories", Answer(body="<html>not json</html>"))
    gh = source(server, SourceKind.GITHUB, "", min_interval=0)
    outcome = await GitHubConnector(web).fetch(gh, SourceState(gh.id), ["x"], 5)
    assert outcome.status is IngestStatus.FAILED
    assert "not JSON" in (outcome.error or "")
    server.script("/feed.xml", Answer(body="this is no feed"))
    feed = source(server, SourceKind.RSS, "/feed.xml", min_interval=0)
    bad = await FeedConnector(web).fetch(feed, SourceState(feed.id), [], 10)
    assert bad.status is IngestStatus.FAILED
    assert "not a readable" in (bad.error or "")


async def test_nothing_is_fetched_outside_the_allowed_domains(
    server: KnowledgeServer, web: WebClient
) -> None:
    elsewhere = server.base_url.replace("127.0.0.1", "localhost") + "/feed.xml"
    server.script("/feed.xml", Answer(status=302, headers={"Location": elsewhere}))
    feed = source(server, SourceKind.RSS, "/feed.xml", min_interval=0)
    outcome = await FeedConnector(web).fetch(feed, SourceState(feed.id), [], 10)
    assert outcome.status is IngestStatus.FAILED
    assert "outside the source's allowed domains" in (outcome.error or "")
    assert len(server.requests) == 1  # the redirect was not followed
    allowed = Source(feed.id, SourceKind.RSS, feed.url, min_interval=0,
                     allowed_domains=("localhost",))  # fmt: skip
    server.script("/feed.xml", Answer(status=302, headers={"Location": elsewhere}))
    followed = await FeedConnector(web).fetch(allowed, SourceState(feed.id), [], 10)
    assert followed.status is IngestStatus.OK
    assert len(followed.items) == 2


async def test_one_request_at_a_time_per_source_even_concurrently(
    server: KnowledgeServer, web: WebClient, clock: FakeClock
) -> None:
    feed = source(server, SourceKind.RSS, "/feed.xml", min_interval=2.0)
    await asyncio.gather(*(FeedConnector(web).fetch(feed, SourceState(feed.id), [], 10)
                           for _ in range(3)))  # fmt: skip
    assert clock.elapsed == pytest.approx(4.0)


LIVE = pytest.mark.skipif(
    not os.environ.get("IMPERIUM_LIVE_TESTS"),
    reason="needs the live internet (set IMPERIUM_LIVE_TESTS=1); none here",
)


@LIVE
async def test_live_arxiv() -> None:  # pragma: no cover - offline here
    from imperium.adapters.knowledge.arxiv import DEFAULT_URL
    from imperium.runtime import SystemClock

    web = WebClient(SystemClock())
    try:
        arxiv = Source("arxiv", SourceKind.ARXIV, DEFAULT_URL, params={"query": "retrieval"})
        outcome = await ArxivConnector(web).fetch(arxiv, SourceState("arxiv"), [], 3)
    finally:
        await web.close()
    assert outcome.status is IngestStatus.OK
    assert outcome.items


@LIVE
async def test_live_stack_exchange() -> None:  # pragma: no cover - offline here
    from imperium.adapters.knowledge.stackexchange import DEFAULT_URL
    from imperium.runtime import SystemClock

    web = WebClient(SystemClock())
    try:
        se = Source("se", SourceKind.STACKEXCHANGE, DEFAULT_URL, params={"tags": "python"},
                    allowed_domains=("stackoverflow.com",))  # fmt: skip
        outcome = await StackExchangeConnector(web).fetch(se, SourceState("se"), [], 3)
    finally:
        await web.close()
    assert outcome.status is IngestStatus.OK
    assert outcome.items
