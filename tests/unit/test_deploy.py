"""The infrastructure as code: SAM template, Kubernetes manifests and KEDA scalers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from spoolwatch.deploy.template import sam_template

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form intrinsics (!Ref, !GetAtt, ...) as plain values."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    key = suffix if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {key: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {key: loader.construct_sequence(node, deep=True)}
    return {key: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _intrinsic)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(sam_template(), Loader=_CfnLoader)


def test_repository_template_is_the_one_the_cli_prints() -> None:
    assert (ROOT / "deploy" / "aws" / "template.yaml").read_text() == sam_template()


def test_code_uri_can_be_replaced_and_rejects_multiline_values() -> None:
    assert "CodeUri: s3://bucket/agent.zip" in sam_template("s3://bucket/agent.zip")
    with pytest.raises(ValueError):
        sam_template("a\nb")


def test_template_passes_cfn_lint() -> None:
    from cfnlint.api import lint_all

    # Errors and warnings fail; informational suggestions do not.
    matches = [m for m in lint_all(sam_template()) if m.rule.id[0] in {"E", "W"}]
    assert [str(match) for match in matches] == []


def test_function_is_arm64_python312_512mb_900s_with_recursive_loop_allowed(
    template: dict[str, Any],
) -> None:
    function = template["Resources"]["AgentFunction"]["Properties"]
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["arm64"]
    assert function["MemorySize"] == 512
    assert function["Timeout"] == 900
    assert function["RecursiveLoop"] == "Allow"
    assert function["Handler"] == "spoolwatch.serverless.handler.lambda_handler"


def test_agent_queue_visibility_is_six_times_the_function_timeout(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    timeout = resources["AgentFunction"]["Properties"]["Timeout"]
    assert resources["AgentQueue"]["Properties"]["VisibilityTimeout"] >= 6 * timeout
    assert "RedrivePolicy" in resources["AgentQueue"]["Properties"]


def test_data_queue_keeps_14_days_and_redrives_after_5_receives(template: dict[str, Any]) -> None:
    queue = template["Resources"]["DataQueue"]["Properties"]
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5


def test_triggers_are_agent_queue_batch_1_and_a_schedule(template: dict[str, Any]) -> None:
    events = template["Resources"]["AgentFunction"]["Properties"]["Events"]
    sqs = events["Recruited"]["Properties"]
    assert sqs["BatchSize"] == 1
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sqs["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "TargetConcurrency"}
    assert events["Schedule"]["Type"] == "Schedule"
    assert template["Parameters"]["ScheduleExpression"]["Default"] == "rate(5 minutes)"


def test_state_table_is_on_demand_with_ttl(template: dict[str, Any]) -> None:
    table = template["Resources"]["StateTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"]["Enabled"] is True


IAM_RESOURCES = ("AgentRole", "WakeRole", "WakeControlPolicy")


def _statements(template: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The statements of a role's inline policies or of a standalone policy."""
    properties = template["Resources"][name]["Properties"]
    documents = (
        [policy["PolicyDocument"] for policy in properties["Policies"]]
        if "Policies" in properties
        else [properties["PolicyDocument"]]
    )
    statements: list[dict[str, Any]] = []
    for document in documents:
        for statement in document["Statement"]:
            if "Fn::If" in statement:
                statements.append(statement["Fn::If"][1])
            else:
                statements.append(statement)
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


@pytest.mark.parametrize("name", IAM_RESOURCES)
def test_iam_policies_have_no_wildcard_actions_or_resources(
    template: dict[str, Any], name: str
) -> None:
    statements = _statements(template, name)
    assert statements
    for statement in statements:
        assert all("*" not in action for action in _actions(statement)), statement
        resource = statement["Resource"]
        assert resource != "*" and "*" not in str(resource), statement


def test_wake_role_never_writes_dynamodb_and_has_no_lambda_actions(
    template: dict[str, Any],
) -> None:
    actions = {a for s in _statements(template, "WakeRole") for a in _actions(s)}
    assert {a for a in actions if a.startswith("dynamodb:")} == {"dynamodb:Query"}
    assert not [a for a in actions if a.startswith("lambda:")]
    assert "sqs:SendMessage" in actions  # recruits and quarantines


def test_wake_control_policy_is_on_the_agent_role_and_only_the_wake_mapping(
    template: dict[str, Any],
) -> None:
    policy = template["Resources"]["WakeControlPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": "AgentRole"}]
    statements = _statements(template, "WakeControlPolicy")
    assert {a for s in statements for a in _actions(s)} == {
        "lambda:UpdateEventSourceMapping",
        "lambda:GetEventSourceMapping",
    }
    assert [s["Resource"] for s in statements] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}"
            ":event-source-mapping:${WakeMapping}"
        }
    ]
    depends = template["Resources"]["AgentFunction"]["DependsOn"]
    assert "WakeControlPolicy" in depends


def test_wake_function_timeout_fits_the_data_queue_visibility_timeout(
    template: dict[str, Any],
) -> None:
    timeout = template["Resources"]["WakeFunction"]["Properties"]["Timeout"]
    visibility = template["Parameters"]["DataQueueVisibilityTimeout"]
    assert timeout <= visibility["MinValue"]
    assert timeout <= visibility["Default"]


def test_both_functions_log_one_json_object_per_line(template: dict[str, Any]) -> None:
    for name in ("AgentFunction", "WakeFunction"):
        config = template["Resources"][name]["Properties"]["LoggingConfig"]
        assert config == {"LogFormat": "JSON"}, name


def test_wake_mapping_takes_batches_of_10_at_most_2_at_once(template: dict[str, Any]) -> None:
    mapping = template["Resources"]["WakeMapping"]
    assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    properties = mapping["Properties"]
    assert properties["EventSourceArn"] == {"Fn::GetAtt": "DataQueue.Arn"}
    assert properties["FunctionName"] == {"Ref": "WakeFunction"}
    assert properties["BatchSize"] == 10
    assert "MaximumBatchingWindowInSeconds" not in properties
    assert properties["Enabled"] is True
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["ScalingConfig"]["MaximumConcurrency"] == 2
    assert "Events" not in template["Resources"]["WakeFunction"]["Properties"]


def test_only_the_agent_function_is_told_the_wake_mapping(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    agent = resources["AgentFunction"]["Properties"]["Environment"]["Variables"]
    wake = resources["WakeFunction"]["Properties"]["Environment"]["Variables"]
    assert agent["SPOOLWATCH_WAKE_MAPPING"] == {"Ref": "WakeMapping"}
    assert "SPOOLWATCH_WAKE_MAPPING" not in wake
    assert {k: v for k, v in agent.items() if k != "SPOOLWATCH_WAKE_MAPPING"} == {
        k: v for k, v in wake.items() if k != "SPOOLWATCH_DEADLINE_MARGIN_SECONDS"
    }
    assert wake["SPOOLWATCH_DEADLINE_MARGIN_SECONDS"] == "10"


def test_api_token_is_a_secret_reference_never_a_plain_parameter(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert not any("Token" in name and "Secret" not in name for name in parameters)
    env = template["Resources"]["AgentFunction"]["Properties"]["Environment"]["Variables"]
    assert env["SPOOLWATCH_API_TOKEN_SECRET"] == {"Ref": "ApiTokenSecretArn"}
    assert "SPOOLWATCH_API_TOKEN" not in env


def test_outputs_name_the_queue_urls_and_the_wake_trigger(template: dict[str, Any]) -> None:
    assert {"DataQueueUrl", "AgentQueueUrl", "WakeFunctionArn", "WakeMappingId"} <= set(
        template["Outputs"]
    )


def _documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def test_kubernetes_manifests_have_the_required_fields() -> None:
    for name in (
        "agent-deployment.yaml",
        "agent-configmap.yaml",
        "keda-sqs.yaml",
        "keda-rabbitmq.yaml",
    ):
        for doc in _documents(name):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), (name, doc)
            assert doc["metadata"].get("name"), name


def test_each_scaled_object_targets_an_existing_deployment_with_backlog_metadata() -> None:
    deployments = {
        doc["metadata"]["name"]: doc
        for doc in _documents("agent-deployment.yaml")
        if doc["kind"] == "Deployment"
    }
    triggers = {}
    for name in ("keda-sqs.yaml", "keda-rabbitmq.yaml"):
        for doc in _documents(name):
            if doc["kind"] == "ScaledObject":
                assert doc["spec"]["scaleTargetRef"]["name"] in deployments
                assert doc["spec"]["minReplicaCount"] == 0
                for trigger in doc["spec"]["triggers"]:
                    triggers[trigger["type"]] = trigger["metadata"]
    assert triggers["aws-sqs-queue"]["queueLength"] == "500"
    assert triggers["aws-sqs-queue"]["scaleOnInFlight"] == "true"
    assert triggers["aws-sqs-queue"]["queueURL"].startswith("https://sqs.")
    assert triggers["rabbitmq"]["mode"] == "QueueLength"
    assert triggers["rabbitmq"]["queueName"]


def test_deployments_mount_a_config_the_agent_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    from spoolwatch.agent.config_file import parse_config

    monkeypatch.setenv("SPOOLWATCH_API_TOKEN", "token-from-the-secret")
    sources = {
        (doc["kind"], doc["metadata"]["name"]): doc.get("data") or doc.get("stringData")
        for doc in _documents("agent-configmap.yaml")
    }
    for doc in _documents("agent-deployment.yaml"):
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        container = pod["containers"][0]
        config_path = Path(container["args"][container["args"].index("--config") + 1])
        mount = next(
            m for m in container["volumeMounts"] if m["mountPath"] == str(config_path.parent)
        )
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        if "configMap" in volume:
            data = sources[("ConfigMap", volume["configMap"]["name"])]
        else:
            data = sources[("Secret", volume["secret"]["secretName"])]
        config = parse_config(data[config_path.name], source=str(config_path))
        assert config.channels and config.target.api_token is not None


def test_dockerfile_runs_the_agent_as_a_non_root_user() -> None:
    text = (K8S / "Dockerfile").read_text()
    assert "USER 10001" in text
    assert 'ENTRYPOINT ["spoolwatch", "agent", "run"]' in text
