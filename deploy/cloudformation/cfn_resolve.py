"""Our CloudFormation template resolved for one set of parameter values, offline.

Shared by test_template.py (what the template grants, statement by statement) and
deploy/local/lab_setup.py (the local lab's bucket and queue policies, which the emulator's
CloudFormation skips, and the lab gateway's test fixtures). The template is parsed with
cfn-lint's own YAML decoder, then resolved: Conditions evaluated, Fn::If branches chosen,
AWS::NoValue dropped. Ref and Fn::GetAtt give what the caller's `ref` and `getatt` say; by
default readable placeholders ("<RestrictedBucket>", "<Queue.Arn>"), so that a policy reads as
what it allows.
"""

import re

from cfnlint.decode import cfn_yaml

NO_VALUE = object()
PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "lab",
    "AWS::URLSuffix": "amazonaws.com",
}


def load(path):
    """The template as plain data (intrinsic functions in their long form: {"Ref": x})."""
    return cfn_yaml.load(str(path))


class Stack:
    """The template as deployed with these parameter values (the others at their defaults).

    ref(logical) names a resource's physical id, getatt(logical, attribute) an attribute;
    both default to placeholders."""

    def __init__(self, template, ref=None, getatt=None, **params):
        self.template = template
        self.params = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
        unknown = set(params) - set(self.params)
        assert not unknown, f"no such parameters: {unknown}"
        self.params.update({k: str(v) for k, v in params.items()})
        self.ref_of = ref or self.placeholder
        self.getatt_of = getatt or (lambda name, attribute: f"<{name}.{attribute}>")
        self.conditions = {}

    def placeholder(self, name):
        assert name in self.template["Resources"], f"Ref to unknown {name}"
        return f"<{name}>"

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = self.test(self.template["Conditions"][name])
        return self.conditions[name]

    def test(self, expr):
        (fn, arg), = expr.items()
        if fn == "Fn::Equals":
            return self.value(arg[0]) == self.value(arg[1])
        if fn == "Fn::Not":
            return not self.test(arg[0])
        if fn == "Fn::And":
            return all(self.test(a) for a in arg)
        if fn == "Fn::Or":
            return any(self.test(a) for a in arg)
        if fn == "Condition":
            return self.condition(arg)
        raise ValueError(f"condition function {fn}")

    def ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        return self.ref_of(name)

    def sub(self, text, variables):
        def one(m):
            name = m.group(1)
            if name in variables:
                return str(self.value(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                return str(self.getatt_of(*name.split(".", 1)))
            return str(self.ref(name))

        # ${!Literal} is how Fn::Sub writes a literal ${Literal}.
        return re.sub(r"\$\{!", "${", re.sub(r"\$\{([^}!]+)\}", one, text))

    def value(self, node):
        if isinstance(node, dict):
            if len(node) == 1:
                (fn, arg), = node.items()
                if fn == "Ref":
                    return self.ref(arg)
                if fn == "Fn::GetAtt":
                    name, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                    return self.getatt_of(name, attribute)
                if fn == "Fn::Sub":
                    text, variables = (arg, {}) if isinstance(arg, str) else arg
                    return self.sub(text, variables)
                if fn == "Fn::If":
                    return self.value(arg[1] if self.condition(arg[0]) else arg[2])
                if fn == "Fn::Base64":
                    return self.value(arg)
                if fn in ("Fn::Select", "Fn::GetAZs"):
                    return f"<{fn}>"
            out = {}
            for k, v in node.items():
                v = self.value(v)
                if v is not NO_VALUE:
                    out[k] = v
            return out
        if isinstance(node, list):
            return [v for v in (self.value(x) for x in node) if v is not NO_VALUE]
        return node

    def resource(self, name):
        """The resource's resolved Properties, or None when its Condition is false."""
        res = self.template["Resources"][name]
        if "Condition" in res and not self.condition(res["Condition"]):
            return None
        return self.value(res.get("Properties", {}))

    def resources_of(self, type_name):
        return {
            name: self.resource(name)
            for name, res in self.template["Resources"].items()
            if res["Type"] == type_name and self.resource(name) is not None
        }

    def outputs(self):
        return {
            name: self.value(out)
            for name, out in self.template["Outputs"].items()
            if "Condition" not in out or self.condition(out["Condition"])
        }
