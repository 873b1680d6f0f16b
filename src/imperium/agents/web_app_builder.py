"""``web_app_builder``: the seed's web/app builder intelligence, an ``llm`` agent that asks
the model for a project's files and validates every one of them in code.

Payload (the seed's fields)::

    {"app_type": "web", "framework": "React",
     "requirements": {"features": ["user_auth", "dashboard"], "requires_payments": true}}

The model answers ``{"files": [{"path": ..., "content": ...}]}``. Each file is checked by
parsing it (domain/generated.py): HTML with html.parser (tags closed in order), CSS and
JS/TS for balanced brackets outside strings and comments, JSON parsed, Python compiled.
A reply with a file that fails, a path leaving the project, or no files, is asked for
once more with the failures named; if the second still fails, the attempt fails
(``invalid_output``) naming the files and their errors. The files are returned with their
checks; they are not run (the generated project's own tests are not executed here).
"""

from __future__ import annotations

import json
from typing import Any

from imperium.agents.base import Output, TaskContext, TaskFailed
from imperium.agents.llm import LlmAgent
from imperium.domain.generated import check_file, generated_files, json_object
from imperium.domain.llm import ChatReply

SYSTEM = (
    'You are a software engineer. Answer with one JSON object and nothing else: {"files": '
    '[{"path": "relative/path", "content": "the whole file"}]}.'
)
APP_TYPES = ("web", "app", "api")


def _request(payload: Any) -> str:
    if not isinstance(payload, dict) or not isinstance(payload.get("requirements"), dict):
        raise TaskFailed(
            'the payload needs "requirements" (an object: features, entities...)',
            kind="bad_payload", retryable=False,
        )  # fmt: skip
    if payload.get("app_type", "web") not in APP_TYPES:
        raise TaskFailed(f"app_type must be one of {', '.join(APP_TYPES)}",
                         kind="bad_payload", retryable=False)  # fmt: skip
    wanted = {k: payload[k] for k in ("app_type", "framework", "requirements") if k in payload}
    return json.dumps(wanted, ensure_ascii=False)


def _review(reply: ChatReply) -> tuple[dict[str, str], list[dict[str, Any]], list[str]]:
    files, problems = generated_files(json_object(reply.text))
    checks = [check_file(path, content) for path, content in files.items()]
    problems += [f"{c['path']}: {c['error']}" for c in checks if not c["ok"]]
    return files, checks, problems


class WebAppBuilderAgent(LlmAgent):
    description = "Project files from a language model, each validated by parsing it."

    async def run(self, ctx: TaskContext) -> Output:
        wanted = _request(ctx.payload)
        prompt = (f"Generate the files of a small, complete project for: {wanted}. Include a "
                  "README.md.")  # fmt: skip
        replies: list[ChatReply] = []
        files, checks, problems = _review(await self.ask(prompt, replies, SYSTEM))
        if problems:
            retry = f"{prompt} Your previous answer failed these checks: {'; '.join(problems)}."
            files, checks, problems = _review(await self.ask(retry, replies, SYSTEM))
        if problems:
            tokens, cost = self.spent(replies)
            raise TaskFailed(
                f"the generated project failed its checks twice: {'; '.join(problems)[:1500]}",
                kind="invalid_output", retryable=True, tokens=tokens, cost=cost,
            )  # fmt: skip
        value = {
            "files": [{"path": p, "content": c, "check": next(k for k in checks if k["path"] == p)}
                      for p, c in files.items()],
            "checked": sum(1 for k in checks if k["checked"]), "unchecked":
            [k["path"] for k in checks if not k["checked"]], "attempts": len(replies),
            "model": replies[-1].model,
        }  # fmt: skip
        return self.output(value, replies)
