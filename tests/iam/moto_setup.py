"""Setup the Rust integration tests need on a moto server and cannot do with the
crate's own SDK clients: IAM users, roles and policies, a Lambda function stub, and
switching IAM enforcement on. Prints one JSON object.

    moto_setup.py ENDPOINT lambda-stub NAME
    moto_setup.py ENDPOINT user NAME POLICY_JSON_FILE
    moto_setup.py ENDPOINT role ACCOUNT NAME POLICY_JSON_FILE
    moto_setup.py ENDPOINT enforce on|off
    moto_setup.py ENDPOINT schedule-group NAME
    moto_setup.py ENDPOINT get-schedule GROUP NAME
    moto_setup.py ENDPOINT permits ACCESS_KEY ACTION ADMIN_KEY ADMIN_SECRET
"""

import io
import json
import sys
import urllib.request
import zipfile

import boto3


def client(endpoint, service, account=None, keys=("testing", "testing")):
    c = boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
    )
    if account:
        # moto's way of acting in another account while IAM is not enforced.
        c.meta.events.register(
            "before-send",
            lambda request, **kw: request.headers.__setitem__("x-moto-account-id", account),
        )
    return c


def post(endpoint, path, body):
    if isinstance(body, bytes):
        data, kind = body, "text/plain"
    else:
        data, kind = json.dumps(body).encode(), "application/json"
    request = urllib.request.Request(
        endpoint + path, data=data, method="POST", headers={"Content-Type": kind})
    with urllib.request.urlopen(request) as answer:
        return answer.read().decode()


def main(endpoint, command, *args):
    if command == "enforce":
        # "inf": every request is free; "0": every request is checked from now on.
        post(endpoint, "/moto-api/reset-auth", b"0" if args[0] == "on" else b"inf")
        return {"enforced": args[0] == "on"}
    if command == "lambda-stub":
        (name,) = args
        # Without Docker, moto answers invocations without running anything; the
        # setting must come before the function is created.
        post(endpoint, "/moto-api/config", {"lambda": {"use_docker": False}})
        iam = client(endpoint, "iam")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                 "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        try:
            role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))
        except iam.exceptions.EntityAlreadyExistsException:
            role = iam.get_role(RoleName=f"{name}-role")
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\n")
        fn = client(endpoint, "lambda").create_function(
            FunctionName=name, Runtime="provided.al2023", Handler="bootstrap",
            Role=role["Role"]["Arn"], Code={"ZipFile": package.getvalue()})
        return {"arn": fn["FunctionArn"]}
    if command == "user":
        name, policy_file = args
        iam = client(endpoint, "iam")
        iam.create_user(UserName=name)
        with open(policy_file) as f:
            iam.put_user_policy(UserName=name, PolicyName="policy", PolicyDocument=f.read())
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    if command == "role":
        account, name, policy_file = args
        iam = client(endpoint, "iam", account)
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                 "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        with open(policy_file) as f:
            iam.put_role_policy(RoleName=name, PolicyName="policy", PolicyDocument=f.read())
        return {"arn": role["Role"]["Arn"]}
    if command == "schedule-group":
        (name,) = args
        client(endpoint, "scheduler").create_schedule_group(Name=name)
        return {"group": name}
    if command == "get-schedule":
        group, name = args
        got = client(endpoint, "scheduler").get_schedule(GroupName=group, Name=name)
        return {"expression": got["ScheduleExpression"], "input": got["Target"].get("Input")}
    if command == "permits":
        # moto serves no Price List API, so it cannot refuse pricing:GetProducts by
        # itself. This asks its policy engine (the class its enforcement evaluates
        # every request with, and the same rule: any Deny refuses, else one Allow is
        # needed) about the policies moto holds for the user of ACCESS_KEY, read
        # through IAM as an administrator while enforcement is on.
        from moto.iam.access_control import IAMPolicy, PermissionResult

        access_key, action, admin_key, admin_secret = args
        iam = client(endpoint, "iam", keys=(admin_key, admin_secret))
        user = iam.get_access_key_last_used(AccessKeyId=access_key)["UserName"]
        documents = [
            iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]
            for name in iam.list_user_policies(UserName=user)["PolicyNames"]
        ]
        for attached in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]:
            arn = attached["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            documents.append(
                iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])
        results = [
            IAMPolicy(d if isinstance(d, str) else json.dumps(d)).is_action_permitted(action)
            for d in documents
        ]
        permitted = (PermissionResult.DENIED not in results
                     and PermissionResult.PERMITTED in results)
        return {"user": user, "action": action, "permitted": permitted}
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
