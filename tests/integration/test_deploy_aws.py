"""The SAM template creates in moto's CloudFormation; the Lambda package builds for arm64."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from spoolwatch.deploy.package import build_lambda_zip
from spoolwatch.deploy.template import sam_template

pytestmark = pytest.mark.aws


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def _translated(code_uri: str) -> dict[str, Any]:
    from cfnlint.decode import decode_str
    from samtranslator.translator.transform import transform

    template, _ = decode_str(sam_template(code_uri))
    cfn: dict[str, Any] = transform(json.loads(json.dumps(template)), {}, _NoManagedPolicies())
    return cfn


def test_sam_template_creates_every_resource_in_moto_cloudformation(moto_server: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="spoolwatch-artifacts")
    s3.put_object(Bucket="spoolwatch-artifacts", Key="agent.zip", Body=b"PK\x05\x06" + b"\0" * 18)
    secret_arn = boto3.client("secretsmanager").create_secret(
        Name="spoolwatch-token", SecretString="not-a-real-token"
    )["ARN"]
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName="spoolwatch-smoke",
        TemplateBody=json.dumps(_translated("s3://spoolwatch-artifacts/agent.zip")),
        Parameters=[
            {"ParameterKey": "DestinationUrl", "ParameterValue": "https://monitoring.example"},
            {"ParameterKey": "ApiTokenSecretArn", "ParameterValue": secret_arn},
        ],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName="spoolwatch-smoke")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    resources = cloudformation.list_stack_resources(StackName="spoolwatch-smoke")
    statuses = {r["ResourceType"]: r["ResourceStatus"] for r in resources["StackResourceSummaries"]}
    assert set(statuses.values()) == {"CREATE_COMPLETE"}
    assert {"AWS::Lambda::EventSourceMapping", "AWS::Events::Rule", "AWS::DynamoDB::Table"} <= set(
        statuses
    )

    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["DataQueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["MessageRetentionPeriod"] == "1209600"
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 5
    agent = sqs.get_queue_attributes(
        QueueUrl=outputs["AgentQueueUrl"], AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    assert int(agent["VisibilityTimeout"]) >= 6 * 900
    lambda_ = boto3.client("lambda")
    config = lambda_.get_function(FunctionName="spoolwatch-smoke-agent")["Configuration"]
    assert config["Timeout"] == 900
    agent_env = config["Environment"]["Variables"]
    assert agent_env["SPOOLWATCH_DATA_QUEUE_URL"] == outputs["DataQueueUrl"]

    # The wake trigger: a function on the data queue, and the mapping the agents switch.
    # (Nothing is sent to the data queue here: moto would invoke the wake function.)
    wake = lambda_.get_function(FunctionName="spoolwatch-smoke-wake")["Configuration"]
    assert wake["FunctionArn"] == outputs["WakeFunctionArn"]
    assert wake["Timeout"] <= int(attributes["VisibilityTimeout"])
    assert "SPOOLWATCH_WAKE_MAPPING" not in wake["Environment"]["Variables"]
    mapping = lambda_.get_event_source_mapping(UUID=outputs["WakeMappingId"])
    assert mapping["EventSourceArn"] == attributes["QueueArn"]
    assert mapping["FunctionArn"] == wake["FunctionArn"]
    assert mapping["BatchSize"] == 10
    assert mapping["State"] == "Enabled"
    assert agent_env["SPOOLWATCH_WAKE_MAPPING"] == mapping["UUID"]


@pytest.mark.slow
def test_lambda_package_holds_spoolwatch_and_arm64_wheels(tmp_path: Path) -> None:
    result = build_lambda_zip(tmp_path / "agent.zip", arch="arm64", python_version="3.12")
    assert result.size_bytes == (tmp_path / "agent.zip").stat().st_size
    names = zipfile.ZipFile(result.path).namelist()
    assert "spoolwatch/records/json_codec.py" in names
    assert not any(name.startswith("spoolwatch/server/") for name in names)
    native = [n for n in names if n.startswith("pydantic_core/") and n.endswith(".so")]
    assert native and all("aarch64" in n for n in native), native
    assert not any(name.startswith("numpy/") for name in names)


@pytest.mark.slow
def test_lambda_package_alone_is_enough_to_import_the_handler(tmp_path: Path) -> None:
    # Built for this machine's platform so an isolated interpreter (no site-packages) can
    # import from it; boto3 comes along because Lambda's runtime would provide it.
    import platform
    import subprocess
    import sys

    arch = "arm64" if platform.machine() in {"aarch64", "arm64"} else "x86_64"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    result = build_lambda_zip(
        tmp_path / "agent.zip", arch=arch, python_version=version, with_boto3=True
    )
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(result.path).extractall(unpacked)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import spoolwatch.serverless.handler, spoolwatch.serverless.setup;"
        "import spoolwatch.spools.sqs, spoolwatch.agent.loop, spoolwatch.sinks.http;"
        "print('ok')"
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(unpacked)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.stdout.strip() == "ok", completed.stderr[-2000:]
