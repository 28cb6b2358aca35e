"""Sample export content shared by the storage tests."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone

UTC = timezone.utc

CSV_TEXT = (
    "request_time,user_email,workbook_url_id,element_id,count\n"
    "2024-05-06 10:00:00,ana@example.com,wb1,,1\n"
    "2024-05-06 10:05:00,bo@example.com,wb1,el9,3\n"
)
CSV_BYTES = CSV_TEXT.encode()
CSV_GZ_BYTES = gzip.compress(CSV_BYTES)

# A run's data interval and the default-ish window around it (days_back=1).
INTERVAL_START = datetime(2024, 5, 6, tzinfo=UTC)
INTERVAL_END = datetime(2024, 5, 7, tzinfo=UTC)
WINDOW_START = datetime(2024, 5, 5, tzinfo=UTC)


def epoch_ns(when: datetime) -> int:
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000
