"""Reading intake files (CSV or JSON) into labelled rows: ``cases.csv row 7``, ``x.json item 3``.

A CSV row's label is its line number in the file (the header is line 1), so an officer can find
it in a spreadsheet; a JSON file holds a list of objects, labelled by position from 1.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from reserve.core.errors import InvalidInput

Rows = list[tuple[str, dict[str, Any]]]


def read_rows(path: Path) -> Rows:
    """Labelled rows of a ``.csv`` or ``.json`` file; a file that cannot be read is refused."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput.one(f"file {name}", "path", f"cannot be read: {error}") from None
    if path.suffix.lower() == ".json":
        return _json_rows(name, text)
    if path.suffix.lower() == ".csv":
        return _csv_rows(name, text)
    raise InvalidInput.one(f"file {name}", "path", "must end in .csv or .json")


def _json_rows(name: str, text: str) -> Rows:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"file {name}"
        raise InvalidInput.one(
            where, f"line {error.lineno}", f"malformed JSON: {error.msg}"
        ) from None
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        raise InvalidInput.one(f"file {name}", "document", "must be a list of objects")
    return [(f"{name} item {n}", item) for n, item in enumerate(document, start=1)]


def _csv_rows(name: str, text: str) -> Rows:
    reader = csv.DictReader(text.splitlines())
    rows: Rows = []
    for row in reader:
        if None in row or any(value is None for value in row.values()):
            line = reader.line_num
            raise InvalidInput.one(
                f"{name} row {line}", "columns", "has more or fewer cells than the header"
            )
        rows.append((f"{name} row {reader.line_num}", {k: v.strip() for k, v in row.items()}))
    return rows
