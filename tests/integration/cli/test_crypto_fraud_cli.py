"""``imperium crypto upload | texts`` and ``imperium fraud generate | train | models |
analyze`` in-process against SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

BTC = Path(__file__).resolve().parents[2] / "data" / "markets" / "btc-usd-daily.csv"


def test_crypto_upload_and_texts(cli: Callable[..., Result], tmp_path: Path) -> None:
    lines = BTC.read_text().splitlines()
    data = tmp_path / "btc.csv"
    data.write_text("\n".join([lines[0], *lines[1:200]]) + "\n")
    up = cli("crypto", "upload", str(data), "--symbol", "btc", "--timeframe", "1d")
    assert up.exit_code == 0, up.output
    assert "stored 199 BTC 1d candles (0 incomplete rows skipped)" in up.output
    texts = tmp_path / "texts.txt"
    texts.write_text("what a great day for bitcoin\n\nawful news\n")
    added = cli("crypto", "texts", str(texts), "--symbol", "BTC")
    assert (added.exit_code, added.output.strip()) == (0, "stored 2 texts about BTC")
    bad = cli("crypto", "upload", str(texts), "--symbol", "BTC")
    assert bad.exit_code == 1
    assert "missing a time column" in bad.output
    assert cli("crypto", "upload", str(data), "--symbol", "B C").exit_code == 1
    first_two = "--until", "1410998400"  # 2014-09-17 and 18 (the file's first two days)
    gone = cli("crypto", "delete", "btc", "-t", "1d", *first_two)
    assert (gone.exit_code, gone.output.strip()) == (0, "deleted 2 BTC 1d candles")
    assert cli("crypto", "delete", "btc", *first_two).exit_code == 1  # none left there
    gone = cli("crypto", "delete", "btc")
    assert (gone.exit_code, gone.output.strip()) == (0, "deleted 197 BTC 1d candles")


def test_fraud_generate_train_models_analyze(cli: Callable[..., Result], tmp_path: Path) -> None:
    data = tmp_path / "tx.csv"
    made = cli("fraud", "generate", str(data), "--accounts", "40", "--days", "30",
               "--fraud-events", "40", "--seed", "7")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert cli("fraud", "models").output.strip() == "no fraud model yet: imperium fraud train FILE"
    trained = cli("fraud", "train", str(data), "--json")
    assert trained.exit_code == 0, trained.output
    result = json.loads(trained.stdout)
    assert result["current"]["algorithm"] in ("xgboost", "random_forest")
    listed = json.loads(cli("fraud", "models", "--json").stdout)
    assert [m["version"] for m in listed] == [2, 1]
    assert sum(m["current"] for m in listed) == 1
    assert "no model was current before" in result["why_current"]
    table = cli("fraud", "models")
    assert "PR-AUC" in table.output
    assert str(result["current"]["metrics"]["pr_auc"]) in table.output
    few = tmp_path / "few.csv"
    few.write_text("\n".join(data.read_text().splitlines()[:4]) + "\n")
    scored = json.loads(cli("fraud", "analyze", str(few)).stdout)
    assert len(scored["results"]) == 3
    assert scored["model"]["version"] == result["current"]["version"]
    api_shaped = tmp_path / "few.json"  # the body POST /api/v1/fraud/analyze takes
    with few.open(newline="") as f:
        api_shaped.write_text(json.dumps({"transactions": list(csv.DictReader(f))}))
    from_json = cli("fraud", "analyze", str(api_shaped))
    assert from_json.exit_code == 0, from_json.output
    assert json.loads(from_json.stdout)["results"] == scored["results"]
    missing = cli("fraud", "train", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1
    assert "cannot read" in missing.output


def test_a_file_that_is_not_utf8_is_a_one_line_error(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    binary = tmp_path / "latin1.csv"
    binary.write_bytes("timestamp,account_id,amount\n1,caf\xe9,3\n".encode("latin-1"))
    for args in (("fraud", "train", str(binary)), ("crypto", "upload", str(binary), "-s", "X")):
        got = cli(*args)
        assert got.exit_code == 1, got.output
        assert got.output.strip() == f"error: {binary} is not UTF-8 text (CSV or JSON)"
        assert "Traceback" not in got.output


def test_a_row_longer_than_the_header_is_refused_as_by_the_api(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    ragged = tmp_path / "ragged.csv"  # a thousands separator shifts every later column
    ragged.write_text("time,open,high,low,close,volume\n2024-01-01,1,250.5,2,1,1,10\n")
    for args in (("fraud", "train", str(ragged)), ("crypto", "upload", str(ragged), "-s", "X")):
        got = cli(*args)
        assert got.exit_code == 1, got.output
        assert "line 2 of the CSV has 7 fields, the header 6" in got.output
        assert "Traceback" not in got.output
