#!/usr/bin/env python3
"""Print one resource of a template as CloudFormation would create it for the given
parameters, with tests/iam/policy.py's resolver (cfn-lint's loader, the template's
Conditions and Rules, us-east-1, account 123456789012, stack "test").

    python tests/stack/resource.py TEMPLATE LOGICAL_ID [Name=Value ...]

Output (JSON): {"created": false} when the resource's Condition is false, else
{"created": true, "type": TYPE, "properties": {...}}. Fn::FindInMap is resolved from
the template's Mappings.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "iam"))
import policy  # noqa: E402


class Resolver(policy.Resolver):
    def function(self, fn, arg, where):
        if fn == "Fn::FindInMap":
            name, first, second = (policy.scalar(self.value(x, where)) for x in arg)
            try:
                return self.template["Mappings"][name][first][second]
            except KeyError:
                raise policy.Unresolvable(f"{where}: no {name}.{first}.{second} in Mappings") from None
        return super().function(fn, arg, where)


def main(path, logical, *parameters):
    try:
        given = dict(p.split("=", 1) for p in parameters)
        template = policy.load(path)
        resolver = Resolver(template, given)
        resolver.check_rules()
        resource = template["Resources"][logical]
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            out = {"created": False}
        else:
            out = {
                "created": True,
                "type": resource["Type"],
                "properties": resolver.value(resource.get("Properties", {}), logical),
            }
    except (policy.Unresolvable, KeyError, ValueError) as e:
        print(f"resource.py: {e}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
