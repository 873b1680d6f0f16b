"""Stack Exchange API 2.3: questions by tag (most voted first) with their accepted
answers, two requests per tag (questions, then the accepted answers in one batch).

The API's ``backoff`` field (seconds before the next call of that method) is honoured:
the next request waits that long, and a longer one than the client's ``max_wait`` ends
this ingest with the source backing off. ``quota_remaining`` is kept; at 0 the source backs
off to the next UTC day. An ``error_id`` answer (``throttle_violation`` ...) fails the
source with the API's own message. Without a key the API allows 300 requests a day; a
key's variable name goes in ``params.key_env`` (a name IMPERIUM_MODEL_KEY_ENVS allows;
the key is sent only to api.stackexchange.com)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from imperium.adapters.knowledge.base import WebConnector, json_of, search_terms
from imperium.adapters.knowledge.http import DAY, SourceError, SourceSession
from imperium.domain.knowledge import FetchedItem

DEFAULT_URL = "https://api.stackexchange.com/2.3"


class StackExchangeConnector(WebConnector):
    secret_host = "api.stackexchange.com"

    async def items(
        self, session: SourceSession, topics: Sequence[str], limit: int
    ) -> AsyncIterator[FetchedItem]:
        for tag in search_terms(session.source, topics, "tags"):
            questions = await self._questions(session, tag.replace(" ", "-").lower(), limit)
            answers = await self._accepted(session, questions)
            for question in questions:
                item = _item(question, answers.get(question.get("accepted_answer_id")), tag)
                if item is None:
                    session.skipped += 1
                else:
                    yield item

    async def _questions(
        self, session: SourceSession, tag: str, limit: int
    ) -> list[dict[str, Any]]:
        params = {"tagged": tag, "sort": "votes", "order": "desc", "pagesize": min(limit, 100),
                  "filter": "withbody", **self._site(session)}  # fmt: skip
        return await self._call(session, "/questions", params)

    async def _accepted(
        self, session: SourceSession, questions: list[dict[str, Any]]
    ) -> dict[Any, dict[str, Any]]:
        ids = [str(q["accepted_answer_id"]) for q in questions
               if isinstance(q, dict) and isinstance(q.get("accepted_answer_id"), int)]  # fmt: skip
        if not ids:
            return {}
        params = {"filter": "withbody", "pagesize": 100, **self._site(session)}
        answers = await self._call(session, "/answers/" + ";".join(ids[:100]), params)
        return {a.get("answer_id"): a for a in answers if isinstance(a, dict)}

    def _site(self, session: SourceSession) -> dict[str, str]:
        site = {"site": str(session.source.params.get("site", "stackoverflow"))}
        key = self.secret(session)
        if key:
            site["key"] = key
        return site

    async def _call(self, session: SourceSession, path: str, params: dict[str, Any]) -> list[Any]:
        response = await session.get(session.source.url.rstrip("/") + path, params=params)
        body = json_of(response)
        if not isinstance(body, dict):
            raise SourceError(f"unexpected answer from {path}: not a JSON object")
        if "error_id" in body:
            raise SourceError(
                f"Stack Exchange {body.get('error_name')}: {body.get('error_message')}"
            )
        self._note_quota(session, body)
        items = body.get("items")
        if not isinstance(items, list):
            raise SourceError(f"unexpected answer from {path}: no items")
        return items

    def _note_quota(self, session: SourceSession, body: dict[str, Any]) -> None:
        backoff = body.get("backoff")
        if isinstance(backoff, int | float) and backoff > 0:
            session.back_off(float(backoff), "Stack Exchange backoff")
        remaining = body.get("quota_remaining")
        if isinstance(remaining, int):
            session.update(api_quota_remaining=remaining)
            if remaining <= 0:
                now = self.web.clock.now()
                session.back_off((now // DAY + 1) * DAY - now, "Stack Exchange quota spent")


def _item(question: Any, answer: dict[str, Any] | None, tag: str) -> FetchedItem | None:
    if not isinstance(question, dict):
        return None
    url, title, body = question.get("link"), question.get("title"), question.get("body")
    if not isinstance(url, str) or not isinstance(title, str) or not isinstance(body, str):
        return None
    text = body
    if answer is not None and isinstance(answer.get("body"), str):
        text += "\n\nAccepted answer:\n" + answer["body"]
    owner = question.get("owner")
    author = owner.get("display_name") if isinstance(owner, dict) else None
    created = question.get("creation_date")
    return FetchedItem(
        url=url, title=title, text=text, author=author,
        published_at=float(created) if isinstance(created, int | float) else None, topic=tag,
    )  # fmt: skip
