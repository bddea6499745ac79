"""The stack's outputs are the ones operators, the smoke tests and scripts/stack_env.py read
back (infra/outputs.py), each with the value the functions get in the matching variable."""

from __future__ import annotations

import pytest
from infra_testing import Synthesized, function_resource

from infra import outputs
from loyalty_engine import wiring

pytestmark = pytest.mark.infra


def test_the_outputs_are_the_ones_read_back(each_stage: Synthesized) -> None:
    # Left out: the endpoint output CDK adds to every RestApi (the same URL as ApiUrl), and the
    # values CDK publishes for the console's stack (its CloudFront origin is this stage's API).
    ours = {
        name
        for name in each_stage.template_json["Outputs"]
        if not name.startswith(("ApiRestApiEndpoint", "PublishOutput"))
    }
    assert ours == {
        outputs.API_URL,
        outputs.TABLE_NAME,
        outputs.ALARM_TOPIC_ARN,
        outputs.SCHEDULE_SYNC_FUNCTION,
        *(outputs.bucket_output(bucket.name) for bucket in wiring.BUCKETS),
        *outputs.schedule_outputs().values(),
        *outputs.usage_plan_outputs().values(),
    }
    assert each_stage.stack.stack_name == outputs.stack_name(each_stage.stage)


def test_each_output_has_the_value_the_functions_get(prod: Synthesized) -> None:
    values = {name: output["Value"] for name, output in prod.template_json["Outputs"].items()}
    (sync,) = [spec for spec in wiring.FUNCTIONS if spec.syncs_schedules]
    _, function = function_resource(prod, sync)
    variables = function["Environment"]["Variables"]
    # The outputs a stage's environment is made of (stage_environment), but the API's URL.
    expected = {
        "TABLE_NAME": outputs.TABLE_NAME,
        **{bucket.env: outputs.bucket_output(bucket.name) for bucket in wiring.BUCKETS},
        **outputs.schedule_outputs(),
    }
    for variable, output in expected.items():
        assert values[output] == variables[variable], variable
