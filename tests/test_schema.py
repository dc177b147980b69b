"""Schemathesis against the service's own /openapi.json: no 5xx, answers match the schema."""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from counter import create_app
from tests.helpers import ADMIN, ADMIN_TOKEN, BROWSER_UA, flush, settings

pytestmark = pytest.mark.redis


@schemathesis.serializer("text/plain")
def json_as_text(_context, value) -> dict:
    """Send a text/plain body as sendBeacon does: the JSON text of the object."""
    return {"data": value if isinstance(value, str | bytes) else json.dumps(value)}
EXAMPLES = 70  # per operation and mode: 9 operations, 2 modes, over 1,000 cases in all


@pytest.fixture(scope="module")
def api_schema(real_redis):
    """Load the document the app serves, the app on the real redis-server."""
    flush(real_redis.url)
    config = settings(COUNTER_ADMIN_TOKEN=ADMIN_TOKEN, COUNTER_RATE_LIMIT="1000000",
                      COUNTER_NEW_VISIT_LIMIT="1000000")
    config.update(REDIS_URL=real_redis.url)
    app = create_app(config)
    # Schemathesis tries wrong tokens on purpose, more than one address may in a minute before
    # its 429; that strike limit has tests of its own (test_abuse, test_access).
    app.extensions["admin_strikes"].limit = 10**9
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def cases() -> list[tuple[str, GenerationMode]]:
    """Pair every operation with valid and, where it takes input, invalid requests."""
    from counter.openapi import spec

    pairs = []
    for ops in spec()["paths"].values():
        for op in ops.values():
            pairs.append((op["operationId"], GenerationMode.POSITIVE))
            if op.get("parameters") or op.get("requestBody"):
                pairs.append((op["operationId"], GenerationMode.NEGATIVE))
    return pairs


@pytest.mark.parametrize(("operation_id", "mode"), cases())
def test_every_call_keeps_its_promises(api_schema, operation_id, mode):
    operation = api_schema.find_operation_by_id(operation_id)
    headers = {"User-Agent": BROWSER_UA}
    if operation.method.upper() == "PUT":  # reach past the token to the input checks
        headers.update(ADMIN)
    # A JSON schema cannot say "not in the future" (setDay) or "`from` before `to`, at most
    # 3,700 days apart" (getDaily), so such schema-valid requests are refused with a 400 by
    # design; every other check still applies to them.
    excluded = [positive_data_acceptance] if operation_id in ("setDay", "getDaily") else []
    calls = []

    @hyp_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        calls.append(1)
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    check()
    print(f"{operation_id} {mode.value}: {len(calls)} cases")
    # Hypothesis stops early only where there is little to vary (listSites takes no input).
    assert len(calls) >= (1 if operation_id == "listSites" else 30)
