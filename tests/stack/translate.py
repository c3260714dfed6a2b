"""Translates a template for moto's CloudFormation, offline: the SAM transform (with
the SAM translator the SAM CLI installs), then the resource types moto does not model
stubbed by name. Prints the template as JSON.

    translate.py TEMPLATE CODE_S3_URI

CODE_S3_URI (s3://bucket/key) replaces the functions' CodeUri, a local path that
`sam deploy` would upload. A plain CloudFormation template (spoke.yaml) passes
through the same stubbing.

Every stub is an AWS::SSM::Parameter (which moto models, with a name, so that a Ref to
it gives what a Ref to the real resource gives); Fn::GetAtt of a stub is replaced by a
fixed value of the attribute's shape. Each stubbed type and why:
"""

import json
import os
import sys

import yaml

# The types moto's CloudFormation cannot create, each with why it may be stubbed
# (nothing the test checks depends on what it would do), the property whose value a
# Ref returns (None: the logical id), and the attributes other resources read.
STUBS = {
    # Scheduler's one-off wake-ups group: the test runs the binary on a virtual clock
    # (invoke --at), which sets no wake-ups; the group's name still reaches the
    # function's environment (WAKEUP_GROUP) through the stub's Ref.
    "AWS::Scheduler::ScheduleGroup": ("Name", {"Arn": "arn:aws:scheduler:us-east-1:123456789012:schedule-group/stub"}),
    # Retry and on-failure destination of asynchronous invocations: nothing invokes
    # the function asynchronously on the emulator.
    "AWS::Lambda::EventInvokeConfig": (None, {}),
    # The bot's Function URL: the test calls the binary, not an HTTPS endpoint.
    "AWS::Lambda::Url": (None, {"FunctionUrl": "https://stub.lambda-url.us-east-1.on.aws/"}),
    # An e-mail subscription to the alarm topic: no mail is sent here.
    "AWS::SNS::Subscription": (None, {}),
    # Metric filters and alarms: CloudWatch metrics are not evaluated by the emulator.
    "AWS::Logs::MetricFilter": (None, {}),
    "AWS::CloudWatch::Alarm": (None, {}),
}


class Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !Sub, ...) as their long forms."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


Loader.add_multi_constructor("!", _tag)


class NoManagedPolicies:
    """The templates name no managed policy; the translator asks for none."""

    def load(self):
        return {}


def translate(template, code):
    if template.get("Transform") != "AWS::Serverless-2016-10-31":
        return template
    # The translator resolves AWS::Region for its own use; the emulator is us-east-1.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.transform import transform

    function = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in function:
        function["CodeUri"] = code
    return transform(template, {}, NoManagedPolicies())


def stub(template):
    resources = template["Resources"]
    stubbed = {}
    for logical, resource in resources.items():
        kind = resource["Type"]
        if kind not in STUBS:
            continue
        name_property, attributes = STUBS[kind]
        name = resource.get("Properties", {}).get(name_property) if name_property else None
        stubbed[logical] = attributes
        resources[logical] = {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": name or {"Fn::Sub": "${AWS::StackName}-" + logical},
                "Type": "String",
                "Value": f"stub of {kind}",
            },
            **{k: v for k, v in resource.items() if k in ("Condition", "DependsOn", "DeletionPolicy")},
        }

    # `!Sub "${Param}"` (a parameter as text) is `!Join ["", [!Ref Param]]` to
    # CloudFormation; moto finds a changed parameter's users by their Refs only, so
    # an update would otherwise leave a function's environment as it was.
    parameters = set(template.get("Parameters", {}))

    def walk(node):
        if isinstance(node, dict):
            text = node.get("Fn::Sub")
            if len(node) == 1 and isinstance(text, str) and text.startswith("${") \
                    and text.endswith("}") and text[2:-1] in parameters:
                return {"Fn::Join": ["", [{"Ref": text[2:-1]}]]}
            target = node.get("Fn::GetAtt")
            if isinstance(target, list) and target[0] in stubbed:
                return stubbed[target[0]][target[1]]
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(template)


def main(path, code):
    with open(path) as f:
        template = yaml.load(f, Loader=Loader)
    print(json.dumps(stub(translate(template, code)), indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
