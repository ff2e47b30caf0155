"""Where the test services are (overridable for machines that run them elsewhere)."""
from __future__ import annotations

import os

PG_ADMIN_URL = os.environ.get("ESPALIER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ESPALIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
