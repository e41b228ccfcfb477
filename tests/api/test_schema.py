"""Schemathesis drives every documented operation: no 5xx and no response that contradicts the document."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bgremover.app import create_app
from bgremover.settings import load_settings


@pytest.fixture(scope="module")
def api_schema(registry, tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    app = create_app(
        load_settings(_env_file=None, ratelimit_enabled=False, read_file_dir=folder, log_file=folder / "log"),
        registry=registry,
    )
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def test_api_conforms_to_its_document(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 15  # every operation but /openapi.json itself, which schemathesis skips
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        )
        def conforms(case):
            # an image's pixels are beyond a schema: schema-valid bytes may rightly get 415/422
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        conforms()
