"""Optional dependencies: each part that needs an extra says which one when it is missing
(simulated by ``sys.modules[name] = None``, which makes ``import name`` fail), and the
rest works without it."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from imperium.agents.base import TaskContext, TaskFailed
from imperium.domain.models import Execution
from imperium.domain.states import Outcome
from imperium.extras import (
    EXTRAS,
    MissingExtraError,
    install_hint,
    is_installed,
    missing,
    missing_message,
    require,
)

NOW = 1_700_000_000.0


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


# ------------------------------------------------------------------------ the table
@pytest.mark.parametrize(
    ("modules", "hint"),
    [
        (("bandit",), "pip install 'imperium[guardian]'"),
        (("pytest",), "pip install 'imperium[sandbox]'"),
        (("sklearn", "numpy"), "pip install 'imperium[learning]'"),
        (("jsonschema",), "pip install 'imperium[custody]'"),
        (("asyncpg",), "pip install 'imperium[postgres]'"),
        (("radon", "jsonschema"), "pip install 'imperium[custody,guardian]'"),
    ],
)
def test_install_hint_names_the_extras(modules: tuple[str, ...], hint: str) -> None:
    assert install_hint(*modules) == hint


def test_every_extra_is_declared_in_the_package_metadata() -> None:
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    assert set(EXTRAS.values()) <= set(extras)
    assert "imperium[all]" in extras["dev"]
    assert set(extras["all"][0].removeprefix("imperium[").rstrip("]").split(",")) == {
        "postgres",
        "guardian",
        "sandbox",
        "learning",
        "custody",
        "ray",
        "ml",
        "media",
        "redis",
    }


def test_a_hidden_module_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_installed("json")
    hide(monkeypatch, "radon")
    assert not is_installed("radon")
    assert missing("radon", "json", "no_such_module_here") == ("radon", "no_such_module_here")


def test_require_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "jsonschema")
    with pytest.raises(MissingExtraError) as raised:
        require("jsonschema", "checking an answer against a JSON schema")
    assert str(raised.value) == (
        "checking an answer against a JSON schema needs jsonschema, which is not installed: "
        "pip install 'imperium[custody]'"
    )
    assert isinstance(raised.value, ImportError)
    assert raised.value.modules == ("jsonschema",)


def test_the_message_uses_distribution_names() -> None:
    message = missing_message(("sklearn", "scipy"), "the fitted model")
    assert message == (
        "the fitted model needs scikit-learn, scipy, which are not installed: "
        "pip install 'imperium[learning]'"
    )


# ------------------------------------------------------------------------- guardian
def review(payload: Any, task_type: str = "code_review") -> Any:
    from imperium.agents.guardian import GuardianAgent

    return GuardianAgent(config={}).run_blocking(TaskContext("t-1", task_type, payload, 1, "g"))


def test_guardian_without_its_tools_fails_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hide(monkeypatch, "bandit", "radon")
    with pytest.raises(TaskFailed) as failed:
        review({"code": "x = 1\n"})
    assert (failed.value.kind, failed.value.retryable) == ("not_installed", False)
    message = str(failed.value)
    assert "needs bandit, radon, which are not installed" in message
    assert "pip install 'imperium[guardian]'" in message


def test_guardian_runs_when_only_an_unrequested_tool_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hide(monkeypatch, "radon")
    result = review({"code": "import os\n", "checks": ["ruff"]})
    assert [f["rule"] for f in result["findings"]] == ["F401"]


def test_guardian_radon_scan_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from imperium.agents._code_scan import FileSet, run_radon

    hide(monkeypatch, "radon", "radon.complexity")
    run = run_radon(FileSet(base=Path("."), files=(), found=0), {}, 10)
    assert run.failure is not None
    assert "pip install 'imperium[guardian]'" in run.failure


# -------------------------------------------------------------------------- sandbox
def test_run_pytest_without_pytest_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from imperium.adapters.sandbox import SandboxUnavailableError, run_pytest

    files = {"test_a.py": "def test_a():\n    pass\n"}
    with monkeypatch.context() as hidden:  # pytest itself is hidden only for this call
        hide(hidden, "pytest")
        try:
            run_pytest(files, timeout=5)
        except SandboxUnavailableError as exc:
            error: Exception | None = exc
        else:
            error = None
    assert error is not None
    assert "running test suites in the Sandbox needs pytest" in str(error)
    assert "pip install 'imperium[sandbox]'" in str(error)


def test_the_sandbox_agent_fails_run_tests_for_good(monkeypatch: pytest.MonkeyPatch) -> None:
    from imperium.agents.sandbox import SandboxAgent

    ctx = TaskContext("t-1", "run_tests", {"files": {"test_a.py": "def test_a(): pass\n"}}, 1, "s")
    with monkeypatch.context() as hidden:
        hide(hidden, "pytest")
        try:
            SandboxAgent(config={}).run_blocking(ctx)
        except TaskFailed as exc:
            failed: TaskFailed | None = exc
        else:
            failed = None
    assert failed is not None
    assert (failed.kind, failed.retryable) == ("sandbox_unavailable", False)
    assert "pip install 'imperium[sandbox]'" in str(failed)


# ------------------------------------------------------------------------- learning
def executions(n: int) -> list[Execution]:
    return [
        Execution(
            task_id=f"t{i}",
            attempt=1,
            agent_id="a1" if i % 3 else "a2",
            task_type="build",
            complexity=1.0 + i % 5,
            started_at=100.0 * i,
            finished_at=100.0 * i + 10.0,
            outcome=Outcome.SUCCEEDED if i % 4 else Outcome.FAILED,
            lease_token=1,
        )
        for i in range(n)
    ]


def test_learning_without_scikit_learn_keeps_the_rates_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from imperium.adapters.learning.sklearn_predictor import SklearnPredictor
    from imperium.domain.learning import Query

    hide(monkeypatch, "sklearn", "scipy")
    predictor = SklearnPredictor(min_samples=10)
    report = predictor.fit(executions(400), NOW)
    assert report.kind != "logistic_ridge"
    assert report.fallback_reason is not None
    assert "needs scikit-learn, scipy, which are not installed" in report.fallback_reason
    assert "pip install 'imperium[learning]'" in report.fallback_reason
    [prediction] = predictor.predict([Query("build", 1.0, "a1")])
    assert 0.0 <= prediction.success <= 1.0


def test_the_predictor_module_imports_without_the_learning_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    import imperium.adapters.learning.sklearn_predictor as module

    hide(monkeypatch, "sklearn", "numpy", "scipy")
    monkeypatch.delitem(sys.modules, module.__name__)
    reloaded = importlib.import_module(module.__name__)
    assert reloaded.SklearnPredictor().report is None
