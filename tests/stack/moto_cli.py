"""`sam` and `aws` as the stack test needs them, against a moto server (MOTO_URL):
the few commands infra/stack.sh runs, with the behaviour of the real ones that the
deploy relies on. Each call is also appended, as one JSON line of its arguments, to
CLI_LOG when that is set.

    moto_cli.py sam deploy --template-file T --stack-name S --region R [--parameter-overrides K="V" ...] [flags]
    moto_cli.py sam delete --stack-name S --region R --no-prompts
    moto_cli.py aws sts get-caller-identity
    moto_cli.py aws cloudformation describe-stacks --stack-name S --region R --query 'Stacks[0].StackStatus' --output text
    moto_cli.py aws dynamodb describe-table --table-name T --region R --query Table.TableName --output text

`sam deploy` does what SAM does with a template: the SAM transform (translate.py,
with the code uploaded to the emulator's S3), then a create, or an update in which a
parameter not given keeps its previous value (SAM's UsePreviousValue).
"""

import io
import json
import os
import sys
import zipfile

import boto3
import botocore

sys.path.insert(0, os.path.dirname(__file__))
import translate  # noqa: E402

URL = os.environ.get("MOTO_URL", "")


def client(service, region="us-east-1"):
    return boto3.client(
        service,
        endpoint_url=URL,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def options(args):
    """--name value pairs (and --flags) of a command line; --parameter-overrides takes
    every following argument up to the next option."""
    out, i = {}, 0
    while i < len(args):
        name = args[i]
        if name == "--parameter-overrides":
            i += 1
            values = []
            while i < len(args) and not args[i].startswith("--"):
                values.append(args[i])
                i += 1
            out[name] = values
            continue
        if i + 1 < len(args) and not args[i + 1].startswith("--"):
            out[name] = args[i + 1]
            i += 2
        else:
            out[name] = True
            i += 1
    return out


def overrides(values):
    params = {}
    for v in values or []:
        key, _, value = v.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        params[key] = value
    return params


def code_uri(region):
    s3 = client("s3", region)
    try:
        s3.create_bucket(Bucket="moto-cli-code")
    except botocore.exceptions.ClientError:
        pass
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    s3.put_object(Bucket="moto-cli-code", Key="bootstrap.zip", Body=package.getvalue())
    return "s3://moto-cli-code/bootstrap.zip"


def stack_status(cf, name):
    try:
        return cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except botocore.exceptions.ClientError:
        return None


def sam(command, *args):
    o = options(list(args))
    region = o.get("--region", "us-east-1")
    cf = client("cloudformation", region)
    if command == "delete":
        cf.delete_stack(StackName=o["--stack-name"])
        return 0
    if command != "deploy" or "--guided" in o:
        print(f"moto_cli: sam {command} is not emulated", file=sys.stderr)
        return 2
    with open(o["--template-file"]) as f:
        template = __import__("yaml").load(f, Loader=translate.Loader)
    body = json.dumps(translate.stub(translate.translate(template, code_uri(region))))
    params = overrides(o.get("--parameter-overrides"))
    name = o["--stack-name"]
    capabilities = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
    if stack_status(cf, name) in (None, "DELETE_COMPLETE"):
        given = [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()]
        cf.create_stack(StackName=name, TemplateBody=body, Parameters=given, Capabilities=capabilities)
    else:
        # SAM sends UsePreviousValue for a parameter not given; moto keeps only the
        # values given before, so the previous values are sent as values.
        stack = cf.describe_stacks(StackName=name)["Stacks"][0]
        previous = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        # (moto shows a list parameter's value as a Python list: those are left to
        # their default, as are values equal to it).
        declared = template.get("Parameters", {})
        kept = {
            k: v for k, v in previous.items()
            if k in declared
            and declared[k].get("Type") != "CommaDelimitedList"
            and v != str(declared[k].get("Default", ""))
        }
        given = [
            {"ParameterKey": k, "ParameterValue": v}
            for k, v in {**kept, **params}.items()
        ]
        try:
            cf.update_stack(StackName=name, TemplateBody=body, Parameters=given, Capabilities=capabilities)
        except botocore.exceptions.ClientError as e:
            # SAM's --no-fail-on-empty-changeset: nothing to change is a success.
            if "No updates" not in str(e) or "--no-fail-on-empty-changeset" not in o:
                raise
            print(f"moto_cli: stack {name} has nothing to change")
            return 0
    status = stack_status(cf, name)
    print(f"moto_cli: stack {name} {status}")
    return 0 if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE") else 1


def aws(service, command, *args):
    o = options(list(args))
    region = o.get("--region", "us-east-1")
    if (service, command) == ("sts", "get-caller-identity"):
        print(json.dumps(client("sts", region).get_caller_identity()["Account"]))
        return 0
    if (service, command) == ("cloudformation", "describe-stacks"):
        status = stack_status(client("cloudformation", region), o["--stack-name"])
        if status is None:
            print(f"An error occurred (ValidationError): Stack with id {o['--stack-name']} does not exist", file=sys.stderr)
            return 255
        print(status)
        return 0
    if (service, command) == ("dynamodb", "describe-table"):
        try:
            table = client("dynamodb", region).describe_table(TableName=o["--table-name"])
        except botocore.exceptions.ClientError as e:
            print(str(e), file=sys.stderr)
            return 254
        print(table["Table"]["TableName"])
        return 0
    print(f"moto_cli: aws {service} {command} is not emulated", file=sys.stderr)
    return 2


def main(tool, *args):
    log = os.environ.get("CLI_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps([tool, *args]) + "\n")
    return {"sam": sam, "aws": aws}[tool](*args)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
