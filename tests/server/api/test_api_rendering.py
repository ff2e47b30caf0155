"""How API answers are written: compact UTF-8 JSON, dates and times in ISO 8601 as Zentral's."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone

from espalier.web.api import json_response

WHEN = {"naive": datetime(2026, 12, 8, 3, 4, 5, 123456), "whole second": datetime(2026, 12, 8, 3, 4, 5),
        "utc": datetime(2026, 12, 8, 3, 4, 5, 7, tzinfo=timezone.utc),
        "offset": datetime(2026, 12, 8, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        "day": date(2026, 12, 8), "time of day": time(9, 30)}
WRITTEN = {"naive": "2026-12-08T03:04:05.123456", "whole second": "2026-12-08T03:04:05",
           "utc": "2026-12-08T03:04:05.000007+00:00", "offset": "2026-12-08T03:04:05+05:30",
           "day": "2026-12-08", "time of day": "09:30:00"}


def test_dates_and_times_are_written_as_isoformat_writes_them(app):
    with app.app_context():
        body = json_response({"results": [WHEN], "name": "Mac de Zoé"}).get_data()
    assert json.loads(body) == {"results": [WRITTEN], "name": "Mac de Zoé"}
    assert "Zoé".encode() in body and b": " not in body  # UTF-8, compact


def test_an_answer_orjson_refuses_writes_its_dates_the_same(app):
    with app.app_context():  # an integer past 64 bits: the stdlib's encoder through Flask's
        body = json_response({"payload": {"big": 2**70}, **WHEN}).get_data()
    assert json.loads(body) == {"payload": {"big": 2**70}, **WRITTEN}
