"""The dashboard's Models page, in-process: each fraud model
version with its held-out evaluation, each forecast with its backtest against naive and
the verdict, linked from the navigation, no inline script."""

from __future__ import annotations

from imperium.domain.markets import ModelRecord
from imperium.interfaces.dashboard.pages import DASHBOARD_CSP
from imperium.runtime import Imperium
from tests.integration.dashboard.test_pages import Inline, browser


async def test_models_with_their_evaluation(im: Imperium) -> None:
    async with browser(im) as http:
        assert "No fraud model yet" in (await http.get("/models")).text
    fraud = {"pr_auc": 0.8123, "roc_auc": 0.97, "recall_at_1pct_fpr": 0.64,
             "precision_at_threshold": 0.5}  # fmt: skip
    summary = {"transactions": 5000, "fraud_labels": 60, "holdout_rows": 1000}
    await im.markets.save_model(ModelRecord("m1", "fraud", 0, "supervised", "xgboost", 1.0,
                                            fraud, summary, True))  # fmt: skip
    backtest = {"model": {"mae": 120.5, "mase": 1.03, "directional_accuracy": 0.51,
                          "coverage_80": 0.7, "coverage_95": 0.9},
                "naive": {"mae": 117.0}, "beats_naive": False}  # fmt: skip
    await im.markets.save_model(ModelRecord("m2", "crypto:BTC:1d", 0, "forecast", "hgb", 2.0,
                                            backtest, {"horizon": 7}, True))  # fmt: skip
    async with browser(im) as http:
        assert 'href="/models"' in (await http.get("/")).text  # in the navigation
        page = await http.get("/models")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == DASHBOARD_CSP
        checker = Inline()
        checker.feed(page.text)
        assert checker.problems == []
        text = page.text
        figures = ("0.8123", "0.97", "0.64", "5000 transactions (60 fraud labels)",
                   "crypto:BTC:1d", "120.5", "117.0", "1.03", "does not beat naive")  # fmt: skip
        for figure in figures:
            assert figure in text, figure


async def test_a_win_within_chance_is_not_shown_as_a_win(im: Imperium) -> None:
    backtest = {"model": {"mae": 99.0, "mase": 0.99}, "naive": {"mae": 100.0},
                "beats_naive": True,
                "significance": {"p_value": 0.92, "significant": False}}  # fmt: skip
    await im.markets.save_model(ModelRecord("m3", "crypto:ETH:1d", 0, "forecast", "hgb", 3.0,
                                            backtest, {"horizon": 1}, True))  # fmt: skip
    async with browser(im) as http:
        text = (await http.get("/models")).text
    assert "no better than naive (within chance, p 0.92)" in text
    assert "beats naive</span>" not in text
