"""schemathesis against the service's own OpenAPI document: every operation, with generated
valid and invalid requests; no 500, every answer in the schema (status, headers, body).

Schema-valid requests the engine refuses by its rules (a step not allowed now, an event the
programme cannot take, a stranger acting) are 409 or 422 by design: those statuses count as
accepted answers to valid data. The budget is a quick sample in the suite
(``PEERFLOW_SCHEMATHESIS_EXAMPLES``, default 25 per operation); docs/verification.md has the
deep run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, assume, settings
from schemathesis.config import SchemathesisConfig

from peerflow.http import ServiceConfig, create_app

TOKEN = "schemathesis-token-0123456789abcdef"
EXAMPLES = int(os.environ.get("PEERFLOW_SCHEMATHESIS_EXAMPLES", "25"))

_folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"peerflow-schemathesis-{os.getpid()}"
_folder.mkdir(parents=True, exist_ok=True)
app = create_app(
    str(_folder / "store.sqlite3"),
    ServiceConfig.single(TOKEN),
    webhooks=_folder / "outbox.sqlite3",
    deliver_every=None,  # subscriptions are made and listed; nothing is sent anywhere
)
config = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "412", "422"]
            }
        }
    }
)
schema = schemathesis.openapi.from_asgi("/openapi/openapi.json", app, config=config)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_contract(case: Any) -> None:
    # a query parameter whose value is an empty list is not sent at all, and a list of one is
    # sent as that one value: such a case reaches the service as another request than the one
    # generated, so its verdict would be about the generator
    assume(not any(isinstance(v, list) and len(v) < 2 for v in (case.query or {}).values()))
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})


class _Workflows(schema.as_state_machine()):  # type: ignore[misc]
    """Stateful: sequences of calls that follow the OpenAPI links from each write's answer
    (create a programme, then read it, take a step, ...)."""

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {TOKEN}"}}


TestWorkflowsFollowingTheLinks = _Workflows.TestCase
TestWorkflowsFollowingTheLinks.settings = settings(
    max_examples=max(EXAMPLES // 5, 3),
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
