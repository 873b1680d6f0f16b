"""The marketing, web/app builder and advanced media agents with a scripted chat model:
what each checks in code, the one corrective retry naming what broke, and what happens
when the second answer breaks it too; plus the checks themselves (domain/generated.py,
domain/media.py)."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from imperium.adapters.models.stub import StubChat
from imperium.agents.base import Output, TaskContext, TaskFailed
from imperium.agents.llm import LlmAgent
from imperium.agents.marketing import MarketingAgent
from imperium.agents.media import AdvancedMediaAgent, MediaAgent
from imperium.agents.web_app_builder import WebAppBuilderAgent
from imperium.domain.errors import ValidationError
from imperium.domain.generated import check_brackets, check_file, json_object, keyword_present
from imperium.domain.llm import ChatReply, ModelConfig
from imperium.domain.media import backend_size, check_plan, parse_resolution

BACKEND = {"base_url": "http://127.0.0.1:9/v1", "model": "m"}


def scripted(cls: type[LlmAgent], *texts: str, **config: Any) -> tuple[LlmAgent, StubChat]:
    stub = StubChat([ChatReply(t, "m", "stop", 10, 5) for t in texts])

    class Scripted(cls):  # type: ignore[misc,valid-type]
        @staticmethod
        def model_factory(cfg: ModelConfig, key: str | None) -> StubChat:
            return stub

    return Scripted({**BACKEND, **config}), stub


def ctx(payload: Any, kind: str = "marketing") -> TaskContext:
    return TaskContext("t-1", kind, payload, 1, "a-1")


CAMPAIGN = {"product": {"name": "Smart Watch Pro"}, "channels": ["social", "sms"],
            "variants": 2, "keywords": ["Smart Watch Pro"], "budget": 25000}  # fmt: skip


async def test_marketing_measures_each_variant_and_retries_once() -> None:
    first = json.dumps({"social": ["Meet the Smart Watch Pro. " + "x" * 300, "Smart Watch Pro"],
                        "sms": ["Your new watch is here"]})  # fmt: skip
    second = json.dumps({"social": ["Smart Watch Pro: track every run.", "Go further with "
                                    "the Smart Watch Pro."],
                         "sms": ["Smart Watch Pro, 20% off today", "Smart Watch Pro: GPS "
                                 "on your wrist"]})  # fmt: skip
    marketer, stub = scripted(MarketingAgent, first, second, price_per_1k_input=1.0)
    out = await marketer.run(ctx(CAMPAIGN))
    assert isinstance(out, Output)
    spends = [c["spend"] for c in out.value["allocation"]["channels"].values()]
    assert sum(spends) == pytest.approx(25000, abs=1e-4)
    value = out.value["creative"]
    assert value["status"] == "ok"
    assert (value["constraints_met"], value["attempts"], value["broken"]) == (True, 2, [])
    sms = value["channels"]["sms"][0]
    assert (sms["characters"], sms["limit"], sms["keywords_present"]) == (
        len("Smart Watch Pro, 20% off today"),
        160,
        {"Smart Watch Pro": True},
    )
    retry = stub.requests[1].messages[1].content
    assert '"allocation": {"social": ' in retry  # the computed spends are the copy's context
    assert "social variant 1: 326 characters (limit 280)" in retry
    assert "sms: 1 variants instead of 2" in retry
    assert "sms variant 1: lacks keyword(s) Smart Watch Pro" in retry
    assert (out.tokens, out.cost) == (30, 0.02)


async def test_marketing_reports_what_the_second_answer_still_broke() -> None:
    marketer, _ = scripted(MarketingAgent, "no json here", "```json\n{\"social\": [\"hi\", "
                           "\"hello\"], \"sms\": [\"a\", \"b\"]}\n```")  # fmt: skip
    value = (await marketer.run(ctx({**CAMPAIGN, "keywords": []}))).value["creative"]
    assert value["constraints_met"] is True  # the fenced JSON is read
    marketer, _ = scripted(MarketingAgent, "no json", "still none")
    value = (await marketer.run(ctx(CAMPAIGN))).value["creative"]
    assert (value["constraints_met"], value["broken"]) == (
        False,
        ["the reply was not a JSON object"],
    )


@pytest.mark.parametrize("payload", [{**CAMPAIGN, "budget": -1},
                                     {**CAMPAIGN, "channels": ["tv"]},
                                     {**CAMPAIGN, "variants": 9}])  # fmt: skip
async def test_marketing_refuses_a_payload_it_cannot_use(payload: dict[str, Any]) -> None:
    marketer, stub = scripted(MarketingAgent)
    with pytest.raises(TaskFailed) as failed:
        await marketer.run(ctx(payload))
    assert failed.value.kind == "bad_payload"
    assert stub.requests == []


def keep_wording(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Stands in for building and testing the project: records the copy it was given."""
    from imperium.agents import web_app_builder

    seen: list[Any] = []

    def build(spec: Any, wording: Any, limits: Any, policy: Any) -> dict[str, Any]:
        seen.append(wording)
        return {}

    monkeypatch.setattr(web_app_builder, "build", build)
    return seen


async def test_web_app_builder_refuses_requirements_it_cannot_generate() -> None:
    builder, stub = scripted(WebAppBuilderAgent)
    with pytest.raises(TaskFailed) as failed:
        await builder.run(ctx({"requirements": {"features": ["shop"]}}, "web_app_builder"))
    assert failed.value.kind == "bad_payload"
    assert "known: crud, auth, dashboard, analytics, payments" in str(failed.value)
    assert stub.requests == []


async def test_web_app_builder_keeps_the_model_copy_that_passes_its_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = keep_wording(monkeypatch)
    copy = json.dumps({"title": "Corner Shop", "tagline": "<script>x</script>"})
    builder, stub = scripted(WebAppBuilderAgent, copy, price_per_1k_input=1.0)
    out = await builder.run(ctx({"requirements": {"features": ["crud"]}}, "web_app_builder"))
    assert (seen[0].title, seen[0].tagline) == ("Corner Shop", "A web application with items.")
    assert out.value["copy"]["source"] == "model"
    assert "tagline may not hold" in out.value["copy"]["refused"][0]
    assert "JSON object" in stub.requests[0].messages[1].content
    assert (out.tokens, out.cost) == (15, 0.01)


async def test_web_app_builder_without_a_model_or_with_a_failing_one_is_deterministic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from imperium.domain.llm import ModelCallError

    seen = keep_wording(monkeypatch)
    out = await WebAppBuilderAgent({}).run(ctx({"requirements": {}}, "web_app_builder"))
    assert out.value["copy"] == {"source": "deterministic", "model": None}
    builder, _ = scripted(WebAppBuilderAgent)
    builder._model = StubChat([ModelCallError("connection_error", "down", retryable=True)])
    out = await builder.run(ctx({"requirements": {}}, "web_app_builder"))
    assert out.value["copy"]["source"] == "deterministic"
    assert "down" in out.value["copy"]["model_error"]
    assert seen[0] == seen[1]


def test_file_checks() -> None:
    assert check_file("../etc/passwd.py", "")["ok"] is False
    assert check_file("a.py", "x = 1")["ok"] is True
    assert check_file("notes.txt", "{")["checked"] is False
    assert check_brackets("a { /* } */ b: ')' }", line_comments=False) is None
    assert check_brackets("a { b", line_comments=False) == "line 1: '{' is never closed"
    assert check_brackets('x = "abc\n', line_comments=True) == "line 1: string not closed"
    assert check_file("p.html", "<ul><li>one<li>two</ul>")["ok"] is True  # optional </li>
    assert "closes nothing" in check_file("p.html", "<p>a</p></span>")["error"]
    assert json_object('Here: {"a": 1} done') == {"a": 1}
    assert json_object("[1, 2]") is None
    assert keyword_present("The Smart-Watch Pro!", "smart-watch pro")
    assert not keyword_present("smartwatch", "watch")


def test_resolutions_plans_and_backend_sizes() -> None:
    assert parse_resolution("8K") == (7680, 4320)
    assert parse_resolution("640x360") == (640, 360)
    with pytest.raises(ValidationError):
        parse_resolution("huge")
    sizes = ["1024x1024", "1792x1024", "1024x1792"]
    assert backend_size((1792, 1024), sizes) == (1792, 1024)
    assert backend_size((3840, 2160), sizes) == (1792, 1024)
    assert backend_size((2048, 2048), sizes) == (1024, 1024)
    shot = {"description": "d", "image_prompt": "p", "camera": "c", "duration_s": 1.5}
    assert check_plan({"title": "t", "shots": [shot, shot]}, 2, 3.0) == []
    assert check_plan({"title": "t", "shots": [shot]}, 2, 3.0) == ["1 shots instead of 2"]
    assert check_plan({"title": "t", "shots": [shot, shot]}, 2, 5.0) == [
        "the shots last 3 s in all instead of 5 s"
    ]
    assert check_plan({"shots": [{**shot, "camera": ""}]}, 1, None) == [
        'no "title" text',
        'shot 1: no "camera" text',
    ]


PLAN = {"title": "Launch", "shots": [
    {"description": "Watch on a desk", "image_prompt": "a watch", "camera": "static",
     "duration_s": 2}]}  # fmt: skip


async def test_advanced_media_without_an_image_model_returns_the_checked_plan_only() -> None:
    director, stub = scripted(AdvancedMediaAgent, json.dumps({"shots": []}), json.dumps(PLAN))
    payload = {"media_type": "image", "prompt": "Smart watch launch", "resolution": "1024x1024"}
    value = (await director.run(ctx(payload, "advanced_media"))).value
    assert (value["plan"], value["attempts"], value["images"]) == (PLAN, 2, None)
    assert "set image_model" in value["not_generated"]
    assert 'no "title" text; 0 shots instead of 1' in stub.requests[1].messages[1].content


async def test_advanced_media_fails_when_the_plan_breaks_its_schema_twice() -> None:
    director, _ = scripted(AdvancedMediaAgent, "{}", json.dumps(PLAN))
    payload = {"media_type": "video", "prompt": "p", "duration": 4, "resolution": "640x360"}
    with pytest.raises(TaskFailed) as failed:  # PLAN lasts 2 s, not 4; 1 shot, not 2
        await director.run(ctx(payload, "advanced_media"))
    assert failed.value.kind == "invalid_output"
    assert "1 shots instead of 2" in str(failed.value)


async def test_advanced_media_refuses_a_video_above_its_maximum() -> None:
    director, stub = scripted(AdvancedMediaAgent)
    with pytest.raises(TaskFailed, match="above this agent's max_video_resolution"):
        await director.run(ctx({"media_type": "video", "prompt": "p", "resolution": "8K"},
                               "advanced_media"))  # fmt: skip
    assert stub.requests == []


async def test_an_image_above_the_maximum_is_refused_before_any_call() -> None:
    artist, stub = scripted(MediaAgent)
    with pytest.raises(TaskFailed, match="above this agent's max_image_resolution") as failed:
        await artist.run(ctx({"prompt": "p", "resolution": "16384x16384", "n": 4},
                             "image_generation"))  # fmt: skip
    assert (failed.value.kind, failed.value.retryable) == ("bad_payload", False)
    assert stub.requests == []
    roomy, _ = scripted(MediaAgent, max_image_resolution="16384x16384")
    assert isinstance(roomy, MediaAgent)
    assert roomy.image_size({"resolution": "16384x16384"}) == (16384, 16384)


@pytest.mark.parametrize("config", [{"sizes": ["big"]}, {"sizes": []},
                                    {"max_video_resolution": "huge"},
                                    {"max_image_resolution": "huge"}])  # fmt: skip
def test_a_media_config_it_cannot_read_is_refused_at_registration(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="media config"):
        AdvancedMediaAgent.check_config({**BACKEND, **config})


def test_resizing_without_pillow_says_to_install_the_media_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from imperium.agents import _media
    from tests.support.openai_server import png

    image = png(64, 32)
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL raises ImportError
    assert _media.pixel_size(image) == (64, 32)  # PNG headers are read without Pillow
    with pytest.raises(TaskFailed, match=r"pip install 'imperium\[media\]'") as failed:
        _media._resize(image, (128, 64))
    assert failed.value.kind == "not_configured"
