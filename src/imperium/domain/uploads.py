"""Tabular uploads (candles, transactions, trades) read the same way wherever they come
from: the API's request bodies and the CLI's files. Pure: the standard library's csv."""

from __future__ import annotations

import csv
import io
from typing import Any

from imperium.domain.errors import ValidationError


def csv_rows(text: str) -> list[dict[str, Any]]:
    """The rows of a CSV as dicts (by its header). Refused, naming the line: a CSV the
    ``csv`` module cannot read (a field over its 131,072-character limit), and a row with
    more fields than the header (a thousands separator, ``1,250.5``, shifts every later
    column: its values would be read under the wrong names)."""
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    try:
        for row in reader:
            if None in row:  # the fields beyond the header's
                header = len(reader.fieldnames or ())
                raise ValidationError(
                    f"line {reader.line_num} of the CSV has {header + len(row[None])} fields, "
                    f"the header {header}: quote a value holding a comma"
                )
            rows.append(row)
    except csv.Error as exc:
        raise ValidationError(
            f"the CSV cannot be read at line {reader.line_num + 1}: {exc}"
        ) from None
    return rows
