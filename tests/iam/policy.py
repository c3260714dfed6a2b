#!/usr/bin/env python3
"""Print the IAM statements one role of a CloudFormation or SAM template would get.

    python tests/iam/policy.py TEMPLATE ROLE_LOGICAL_ID [Name=Value ...] [--without SID]

The template is read with cfn-lint's own loader (cfnlint.decode.decode, the one
`cfn-lint` and `sam validate --lint` use), the parameters are the given values over the
template's defaults, and every intrinsic function on the way to the role's statements
is resolved as CloudFormation would in us-east-1, account 123456789012, stack "test":
Ref (parameters, pseudo parameters, resources), Fn::Sub (both forms), Fn::If with the
template's Conditions (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition), Fn::Split,
Fn::Join, Fn::Select and Fn::GetAtt X.Arn. The template's Rules are checked too: a set
of parameters CloudFormation would refuse is refused here, with the rule's message.

Output (JSON on stdout):

    {"role": ID, "statements": [...], "trust": [...], "managed_policy_arns": [...]}

`statements` holds every statement of the role's inline Policies and of any
AWS::IAM::Policy / AWS::IAM::ManagedPolicy resource of the template attached to it,
conditions kept; `trust` the statements of its AssumeRolePolicyDocument;
`managed_policy_arns` lists ManagedPolicyArns unresolved into statements (they live
outside the template). `--without SID` drops the statement with that Sid (to show that a
test fails without it). Anything that cannot be resolved is an error: a message on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

PARTITION = "aws"
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "test"


class Unresolvable(Exception):
    """Something in the template this tool (or CloudFormation) cannot resolve."""


class _NoValue:
    """AWS::NoValue: the property or list item disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

# Ref of these resource types returns the resource's name, found in this property.
NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Scheduler::ScheduleGroup": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::S3::Bucket": "BucketName",
}

# Fn::GetAtt X.Arn: the ARN of a resource of this type, given its name.
ARN_FORMAT = {
    "AWS::DynamoDB::Table": "arn:{p}:dynamodb:{r}:{a}:table/{n}",
    "AWS::Logs::LogGroup": "arn:{p}:logs:{r}:{a}:log-group:{n}:*",
    "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{n}",
    "AWS::Serverless::Function": "arn:{p}:lambda:{r}:{a}:function:{n}",
    "AWS::IAM::Role": "arn:{p}:iam::{a}:role/{n}",
    "AWS::SNS::Topic": "arn:{p}:sns:{r}:{a}:{n}",
    "AWS::SQS::Queue": "arn:{p}:sqs:{r}:{a}:{n}",
    "AWS::Scheduler::ScheduleGroup": "arn:{p}:scheduler:{r}:{a}:schedule-group/{n}",
    "AWS::Events::Rule": "arn:{p}:events:{r}:{a}:rule/{n}",
    "AWS::S3::Bucket": "arn:{p}:s3:::{n}",
}

PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": STACK,
    "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/00000000-0000-0000-0000-000000000000",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}


def plain(node: Any) -> Any:
    """cfn-lint's nodes (str_node, dict_node, list_node) as plain Python values."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def load(path: str) -> dict:
    from cfnlint.decode import decode

    template, matches = decode(path)
    if matches or template is None:
        problems = "; ".join(str(m) for m in matches) or "empty template"
        raise Unresolvable(f"{path}: cannot be read: {problems}")
    return plain(template)


def scalar(value: Any) -> str:
    """A parameter or literal as CloudFormation compares it: a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Resolver:
    """Resolves intrinsic functions of one template for one set of parameter values."""

    def __init__(self, template: dict, given: dict[str, str]):
        self.template = template
        self.resources: dict = template.get("Resources", {})
        self.conditions: dict = template.get("Conditions", {})
        self.condition_values: dict[str, bool] = {}
        self.evaluating: set[str] = set()
        self.params = self._parameters(template.get("Parameters", {}), given)

    # ------------------------------------------------------------ parameters

    @staticmethod
    def _parameters(declared: dict, given: dict[str, str]) -> dict[str, Any]:
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise Unresolvable(f"unknown parameter(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in given:
                raw = given[name]
            elif "Default" in spec:
                raw = scalar(spec["Default"])
            else:
                raise Unresolvable(f"parameter {name} has no default: give {name}=VALUE")
            kind = spec.get("Type", "String")
            if kind == "CommaDelimitedList" or kind.startswith("List<"):
                items = raw.split(",")
                for item in items:
                    Resolver._check(name, spec, item, list_item=True)
                values[name] = items
            else:
                Resolver._check(name, spec, raw, list_item=False)
                values[name] = raw
        return values

    @staticmethod
    def _check(name: str, spec: dict, value: str, list_item: bool) -> None:
        """The constraints CloudFormation checks before anything else."""
        why = spec.get("ConstraintDescription")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [scalar(v) for v in allowed]:
            raise Unresolvable(f"parameter {name}: {value!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not list_item and not re.fullmatch(pattern, value):
            raise Unresolvable(
                f"parameter {name}: {value!r} does not match {pattern}" + (f" ({why})" if why else "")
            )
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                raise Unresolvable(f"parameter {name}: {value!r} is not a number") from None
            low, high = spec.get("MinValue"), spec.get("MaxValue")
            if low is not None and number < float(low) or high is not None and number > float(high):
                raise Unresolvable(f"parameter {name}: {value} is outside {low}..{high}")
        for key, test in (("MinLength", lambda n: len(value) < n), ("MaxLength", lambda n: len(value) > n)):
            if key in spec and test(int(spec[key])):
                raise Unresolvable(f"parameter {name}: {value!r} breaks {key} {spec[key]}")

    # ------------------------------------------------------------ conditions and rules

    def condition(self, name: str) -> bool:
        if name in self.condition_values:
            return self.condition_values[name]
        if name not in self.conditions:
            raise Unresolvable(f"unknown condition {name}")
        if name in self.evaluating:
            raise Unresolvable(f"condition {name} refers to itself")
        self.evaluating.add(name)
        value = self.truth(self.conditions[name], f"condition {name}")
        self.evaluating.discard(name)
        self.condition_values[name] = value
        return value

    def truth(self, node: Any, where: str) -> bool:
        """A condition expression (also a rule's RuleCondition or Assert)."""
        if not isinstance(node, dict) or len(node) != 1:
            raise Unresolvable(f"{where}: not a condition function: {json.dumps(node)}")
        (fn, arg), = node.items()
        if fn == "Fn::Equals":
            a, b = (self.value(x, where) for x in arg)
            return self._same(a, b)
        if fn == "Fn::Not":
            return not self.truth(arg[0], where)
        if fn == "Fn::And":
            return all(self.truth(x, where) for x in arg)
        if fn == "Fn::Or":
            return any(self.truth(x, where) for x in arg)
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Contains":
            items, item = self.value(arg[0], where), self.value(arg[1], where)
            return any(self._same(x, item) for x in items)
        if fn == "Fn::EachMemberEquals":
            items, item = self.value(arg[0], where), self.value(arg[1], where)
            return all(self._same(x, item) for x in items)
        if fn == "Fn::EachMemberIn":
            items, pool = self.value(arg[0], where), self.value(arg[1], where)
            return all(any(self._same(x, y) for y in pool) for x in items)
        raise Unresolvable(f"{where}: unsupported condition function {fn}")

    @staticmethod
    def _same(a: Any, b: Any) -> bool:
        if isinstance(a, list) or isinstance(b, list):
            return isinstance(a, list) and isinstance(b, list) and [scalar(x) for x in a] == [scalar(x) for x in b]
        return scalar(a) == scalar(b)

    def check_rules(self) -> None:
        for name, rule in self.template.get("Rules", {}).items():
            where = f"rule {name}"
            if "RuleCondition" in rule and not self.truth(rule["RuleCondition"], where):
                continue
            for assertion in rule.get("Assertions", []):
                if not self.truth(assertion["Assert"], where):
                    message = assertion.get("AssertDescription", "assertion failed")
                    raise Unresolvable(f"{where} refuses these parameters: {message}")

    # ------------------------------------------------------------ values

    def value(self, node: Any, where: str) -> Any:
        if isinstance(node, list):
            out = [self.value(x, where) for x in node]
            return [x for x in out if x is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg, where)
            if key.startswith("Fn::"):
                return self.function(key, arg, where)
        out = {k: self.value(v, f"{where}.{k}") for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def function(self, fn: str, arg: Any, where: str) -> Any:
        if fn == "Fn::If":
            name, yes, no = arg
            return self.value(yes if self.condition(name) else no, where)
        if fn == "Fn::Sub":
            return self.sub(arg, where)
        if fn == "Fn::Join":
            delimiter, items = arg
            items = self.value(items, where)
            if not isinstance(items, list):
                raise Unresolvable(f"{where}: Fn::Join of a non-list {items!r}")
            return self.value(delimiter, where).join(self.text(x, where) for x in items)
        if fn == "Fn::Split":
            delimiter, source = arg
            return self.text(self.value(source, where), where).split(self.value(delimiter, where))
        if fn == "Fn::Select":
            index, items = self.value(arg[0], where), self.value(arg[1], where)
            try:
                return items[int(index)]
            except (IndexError, ValueError, TypeError):
                raise Unresolvable(f"{where}: Fn::Select {index} of {items!r}") from None
        if fn == "Fn::GetAtt":
            if isinstance(arg, str):
                logical, _, attribute = arg.partition(".")
            else:
                logical, attribute = arg
            return self.get_att(logical, self.value(attribute, where), where)
        if fn in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self.truth({fn: arg}, where)
        raise Unresolvable(f"{where}: cannot resolve {fn}")

    def text(self, value: Any, where: str) -> str:
        if isinstance(value, (list, dict)) or value is NO_VALUE:
            raise Unresolvable(f"{where}: expected a string, got {value!r}")
        return scalar(value)

    def ref(self, name: str, where: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            return self.resource_ref(name, where)
        raise Unresolvable(f"{where}: Ref to unknown {name}")

    def _resource(self, logical: str, where: str) -> dict:
        if logical not in self.resources:
            raise Unresolvable(f"{where}: unknown resource {logical}")
        resource = self.resources[logical]
        condition = resource.get("Condition")
        if condition and not self.condition(condition):
            raise Unresolvable(f"{where}: resource {logical} is not created with these parameters (condition {condition})")
        return resource

    def physical_name(self, logical: str, where: str) -> str | None:
        resource = self._resource(logical, where)
        prop = NAME_PROPERTY.get(resource.get("Type", ""))
        if prop and prop in resource.get("Properties", {}):
            return self.text(self.value(resource["Properties"][prop], f"{logical}.{prop}"), where)
        return None

    def resource_ref(self, logical: str, where: str) -> str:
        resource = self._resource(logical, where)
        if resource.get("Type") == "AWS::SNS::Topic":  # Ref of a topic is its ARN
            return self.get_att(logical, "TopicArn", where)
        return self.physical_name(logical, where) or logical

    def get_att(self, logical: str, attribute: str, where: str) -> str:
        resource = self._resource(logical, where)
        kind = resource.get("Type", "")
        if attribute in ("Arn", "TopicArn") and kind in ARN_FORMAT:
            # Without a name property, CloudFormation makes one up from the stack name
            # and the logical id; this stands in for it.
            name = self.physical_name(logical, where) or f"{STACK}-{logical}"
            return ARN_FORMAT[kind].format(p=PARTITION, r=REGION, a=ACCOUNT, n=name)
        raise Unresolvable(f"{where}: cannot resolve Fn::GetAtt {logical}.{attribute} ({kind})")

    def sub(self, arg: Any, where: str) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = arg[0], {k: self.value(v, where) for k, v in arg[1].items()}

        def replace(match: re.Match) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return self.text(variables[inner], where)
            if "." in inner and inner.split(".", 1)[0] in self.resources:
                logical, attribute = inner.split(".", 1)
                return self.get_att(logical, attribute, where)
            return self.text(self.ref(inner, where), where)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def role_statements(resolver: Resolver, role: str) -> dict:
    resources = resolver.resources
    if role not in resources:
        roles = sorted(k for k, v in resources.items() if v.get("Type") == "AWS::IAM::Role")
        raise Unresolvable(f"no resource {role} in the template (roles: {', '.join(roles)})")
    resource = resources[role]
    if resource.get("Type") != "AWS::IAM::Role":
        raise Unresolvable(f"{role} is a {resource.get('Type')}, not an AWS::IAM::Role")
    resolver._resource(role, role)  # refuses a role whose condition is false
    props = resource.get("Properties", {})

    documents: list[tuple[str, Any]] = []
    policies = resolver.value(props.get("Policies", []), f"{role}.Policies")
    if policies is NO_VALUE:
        policies = []
    if not isinstance(policies, list):
        raise Unresolvable(f"{role}.Policies is not a list: {policies!r}")
    for i, policy in enumerate(policies):
        documents.append((f"{role}/{policy.get('PolicyName', i)}", policy.get("PolicyDocument", {})))
    # Policies of the template attached to the role by their own resources.
    for logical, other in resources.items():
        if other.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        if {"Ref": role} not in other.get("Properties", {}).get("Roles", []):
            continue
        condition = other.get("Condition")
        if condition and not resolver.condition(condition):
            continue
        documents.append((logical, resolver.value(other["Properties"].get("PolicyDocument", {}), logical)))

    statements = []
    for origin, document in documents:
        body = document.get("Statement", [])
        statements.extend(body if isinstance(body, list) else [body])
    trust = resolver.value(props.get("AssumeRolePolicyDocument", {}), f"{role}.AssumeRolePolicyDocument")
    trust_body = trust.get("Statement", [])
    return {
        "role": role,
        "statements": statements,
        "trust": trust_body if isinstance(trust_body, list) else [trust_body],
        "managed_policy_arns": props.get("ManagedPolicyArns", []),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template")
    parser.add_argument("role", metavar="ROLE_LOGICAL_ID")
    parser.add_argument("parameters", nargs="*", metavar="Name=Value")
    parser.add_argument("--without", metavar="SID", action="append", default=[],
                        help="drop the statement with this Sid (repeatable)")
    args = parser.parse_args(argv)
    try:
        given = {}
        for item in args.parameters:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise Unresolvable(f"{item!r} is not Name=Value")
            given[name] = value
        template = load(args.template)
        resolver = Resolver(template, given)
        resolver.check_rules()
        result = role_statements(resolver, args.role)
        for sid in args.without:
            kept = [s for s in result["statements"] if s.get("Sid") != sid]
            if len(kept) == len(result["statements"]):
                raise Unresolvable(f"--without {sid}: no statement of {args.role} has that Sid")
            result["statements"] = kept
    except Unresolvable as e:
        print(f"policy.py: {e}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
