"""Reads vpce-lab.yaml and checks what it grants, statement by statement, in both lab states.

Run with the python of the pinned cfn-lint venv (deploy/cloudformation/lint.sh creates it):

    .venv-cfn/bin/python deploy/cloudformation/test_template.py [-v]

The template is parsed with cfn-lint's own YAML decoder, then resolved for one set of
parameter values (cfn_resolve.Stack): Conditions evaluated, Fn::If branches chosen,
AWS::NoValue dropped, and Ref / Fn::GetAtt / Fn::Sub written as readable placeholders
("<RestrictedBucket>", "<Queue.Arn>"), so that a policy reads as what it allows. Offline: no
AWS, no emulator.
"""

import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

from cfn_resolve import Stack, load

TEMPLATE = pathlib.Path(__file__).with_name("vpce-lab.yaml")
REGION = "us-east-1"

# Every output of the original workshop template (aws-samples/vpcendpointworkshop,
# cfn/vpc-endpoints-lab.yaml; docs/deploying.md, The outputs): `salesapp configure` and the workshop's steps use them.
ORIGINAL_OUTPUTS = [
    "StackName", "VPCID", "Cloud9Instance", "Cloud9InstanceURL", "EC2Instance1IP",
    "SSHtoSalesApp", "EC2Instance2IP", "SSHtoReportsEngine", "S3VPCGatewayEndpoint",
    "UnrestrictedS3Bucket", "UnrestrictedS3BucketPermsURL", "RestrictedS3Bucket",
    "RestrictedS3BucketPermsURL", "IAMRoleForSalesApp", "IAMRoleForSalesAppURL",
    "IAMRoleForReportsEngine", "IAMRoleForReportsEngineURL", "SecurityGroupForSalesApp",
    "SecurityGroupForSalesAppURL", "SecurityGroupForReportsEngine",
    "SecurityGroupForReportsEngineURL", "InterfaceSecurityGroupURL",
    "InterfaceEndpointPolicyURL", "SQSQueueName", "SQSQueueARN", "SQSQueueURL",
    "SQSVPCInterfaceEndpoint", "PrivateSubnet1ARouteTable", "PrivateSubnet2ARouteTable",
    "PublicSubnetRouteTable", "AWSAccountID", "keypairName",
]

RESTRICTED = ["arn:aws:s3:::<RestrictedBucket>", "arn:aws:s3:::<RestrictedBucket>/*"]
ARTIFACTS = ["arn:aws:s3:::<ArtifactsBucket>/releases/*"]
AL2023_REPOS = [f"arn:aws:s3:::al2023-repos-{REGION}-de612dc2/*"]
AL2_REPOS = [
    f"arn:aws:s3:::amazonlinux.{REGION}.amazonaws.com/*",
    f"arn:aws:s3:::amazonlinux-2-repos-{REGION}/*",
]
SSM_AGENT = [
    f"arn:aws:s3:::amazon-ssm-{REGION}/*",
    f"arn:aws:s3:::aws-ssm-{REGION}/*",
    f"arn:aws:s3:::patch-baseline-snapshot-{REGION}/*",
]
QUEUE_ACTIONS = ["sqs:DeleteMessage", "sqs:ReceiveMessage", "sqs:SendMessage"]
FULL_ACCESS = {"FullAccessAsTheWorkshopStarts": ("Allow", ["*"], ["*"])}
TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}

def as_list(v):
    return sorted(v) if isinstance(v, list) else [v]


def statements(policy):
    """{Sid: (Effect, sorted actions, sorted resources)}; every statement has a Sid, a
    Principal of everyone (endpoint policies) or none (identity policies), no Not* element."""
    out = {}
    for s in policy["Statement"]:
        assert set(s) <= {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}, s
        assert s["Sid"] not in out, f"duplicate Sid {s['Sid']}"
        out[s["Sid"]] = (s["Effect"], as_list(s["Action"]), as_list(s["Resource"]))
    return out


def by_sid(policy):
    return {s["Sid"]: s for s in policy["Statement"]}


class TemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = load(TEMPLATE)

    def stack(self, **params):
        return Stack(self.template, **params)

    # ------------------------------------------------------------ endpoint policies
    def test_gateway_endpoint_policy_secured(self):
        for os_name, repos in (("AL2023", AL2023_REPOS), ("AL2", AL2_REPOS)):
            with self.subTest(os=os_name):
                ep = self.stack(OperatingSystem=os_name).resource("S3GatewayEndpoint")
                policy = ep["PolicyDocument"]
                self.assertTrue(all(s["Principal"] == "*" for s in policy["Statement"]))
                self.assertEqual(statements(policy), {
                    "RestrictedBucketObjectsOnly": ("Allow", ["s3:GetObject", "s3:PutObject"], RESTRICTED),
                    "ReadReleaseArtifacts": ("Allow", ["s3:GetObject"], ARTIFACTS),
                    "ReadAmazonLinuxRepositories": ("Allow", ["s3:GetObject"], sorted(repos)),
                    "ReadSsmAgentBuckets": ("Allow", ["s3:GetObject"], sorted(SSM_AGENT)),
                })
                self.assertEqual(sorted(ep["RouteTableIds"]),
                                 ["<PrivateSubnet1RouteTable>", "<PrivateSubnet2RouteTable>"])

    def test_gateway_endpoint_policy_without_package_repositories(self):
        policy = self.stack(AllowPackageRepositories="false").resource("S3GatewayEndpoint")["PolicyDocument"]
        self.assertEqual(statements(policy), {
            "RestrictedBucketObjectsOnly": ("Allow", ["s3:GetObject", "s3:PutObject"], RESTRICTED),
            "ReadReleaseArtifacts": ("Allow", ["s3:GetObject"], ARTIFACTS),
        })

    def test_gateway_endpoint_policy_starting(self):
        policy = self.stack(LabState="starting").resource("S3GatewayEndpoint")["PolicyDocument"]
        self.assertEqual(statements(policy), FULL_ACCESS)

    def test_interface_endpoint_policy(self):
        ep = self.stack().resource("SQSInterfaceEndpoint")
        self.assertTrue(ep["PrivateDnsEnabled"])
        policy = ep["PolicyDocument"]
        self.assertEqual(statements(policy), {
            "LabQueueMessagesOnly": ("Allow", QUEUE_ACTIONS, ["<Queue.Arn>"]),
        })
        self.assertEqual(by_sid(policy)["LabQueueMessagesOnly"]["Condition"],
                         {"StringEquals": {"aws:PrincipalAccount": "123456789012"}})
        starting = self.stack(LabState="starting").resource("SQSInterfaceEndpoint")
        self.assertEqual(statements(starting["PolicyDocument"]), FULL_ACCESS)

    def test_interface_endpoint_security_group(self):
        ingress = self.stack().resource("InterfaceEndpointSecurityGroup")["SecurityGroupIngress"]
        self.assertEqual(
            sorted((r["IpProtocol"], r["FromPort"], r["ToPort"], r["SourceSecurityGroupId"]) for r in ingress),
            [("tcp", 443, 443, "<ReportsEngineSecurityGroup.GroupId>"),
             ("tcp", 443, 443, "<SalesAppSecurityGroup.GroupId>")])
        self.assertFalse(any("CidrIp" in r for r in ingress))
        starting = self.stack(LabState="starting").resource("InterfaceEndpointSecurityGroup")
        self.assertEqual([(r["FromPort"], r["ToPort"], r["CidrIp"]) for r in starting["SecurityGroupIngress"]],
                         [(443, 443, "<VPC.CidrBlock>")])

    def test_app_security_groups_have_no_ingress(self):
        for name in ("SalesAppSecurityGroup", "ReportsEngineSecurityGroup"):
            sg = self.stack().resource(name)
            self.assertNotIn("SecurityGroupIngress", sg)
            self.assertEqual([(r["FromPort"], r["ToPort"]) for r in sg["SecurityGroupEgress"]], [(443, 443)])

    # ------------------------------------------------------------ bucket and queue policies
    def test_restricted_bucket_policy(self):
        policy = self.stack().resource("RestrictedBucketPolicy")["PolicyDocument"]
        self.assertEqual(statements(policy), {
            "DenyPutObjectOutsideTheGatewayEndpoint": ("Deny", ["s3:PutObject"], ["arn:aws:s3:::<RestrictedBucket>/*"]),
            "DenyInsecureTransport": ("Deny", ["s3:*"], RESTRICTED),
        })
        s = by_sid(policy)
        self.assertEqual(s["DenyPutObjectOutsideTheGatewayEndpoint"]["Condition"],
                         {"StringNotEquals": {"aws:sourceVpce": "<S3GatewayEndpoint>"}})
        self.assertEqual(s["DenyInsecureTransport"]["Condition"], TLS_ONLY)
        self.assertIsNone(self.stack(LabState="starting").resource("RestrictedBucketPolicy"))

    def test_queue_policy(self):
        policy = self.stack().resource("QueuePolicy")["PolicyDocument"]
        self.assertEqual(statements(policy), {
            "AllowMessagesThroughTheInterfaceEndpoint": ("Allow", QUEUE_ACTIONS, ["<Queue.Arn>"]),
            "DenyMessagesFromAnywhereElse": ("Deny", QUEUE_ACTIONS, ["<Queue.Arn>"]),
            "DenyInsecureTransport": ("Deny", ["sqs:*"], ["<Queue.Arn>"]),
        })
        s = by_sid(policy)
        self.assertEqual(s["AllowMessagesThroughTheInterfaceEndpoint"]["Principal"],
                         {"AWS": "arn:aws:iam::123456789012:root"})
        self.assertEqual(s["AllowMessagesThroughTheInterfaceEndpoint"]["Condition"],
                         {"StringEquals": {"aws:sourceVpce": "<SQSInterfaceEndpoint>"}})
        self.assertEqual(s["DenyMessagesFromAnywhereElse"]["Condition"],
                         {"StringNotEquals": {"aws:sourceVpce": "<SQSInterfaceEndpoint>"}})
        self.assertEqual(s["DenyInsecureTransport"]["Condition"], TLS_ONLY)
        self.assertIsNone(self.stack(LabState="starting").resource("QueuePolicy"))

    def test_every_bucket_refuses_plain_http(self):
        # The workshop starts with no policy on the restricted bucket; the others keep theirs.
        for state, buckets in (("secured", ["RestrictedBucket", "UnrestrictedBucket", "ArtifactsBucket"]),
                               ("starting", ["UnrestrictedBucket", "ArtifactsBucket"])):
            policies = self.stack(LabState=state).resources_of("AWS::S3::BucketPolicy")
            covered = {p["Bucket"]: p["PolicyDocument"] for p in policies.values()}
            self.assertEqual(sorted(covered), sorted(f"<{b}>" for b in buckets), state)
            for bucket, policy in covered.items():
                tls = by_sid(policy)["DenyInsecureTransport"]
                self.assertEqual((tls["Effect"], tls["Principal"], tls["Action"], tls["Condition"]),
                                 ("Deny", "*", "s3:*", TLS_ONLY))
                name = bucket.strip("<>")
                self.assertEqual(sorted(tls["Resource"]),
                                 [f"arn:aws:s3:::<{name}>", f"arn:aws:s3:::<{name}>/*"])

    # ------------------------------------------------------------ data at rest
    def test_buckets_encrypted_private_and_retained(self):
        buckets = self.stack().resources_of("AWS::S3::Bucket")
        self.assertEqual(sorted(buckets), ["ArtifactsBucket", "RestrictedBucket", "UnrestrictedBucket"])
        for name, b in buckets.items():
            with self.subTest(bucket=name):
                rule = b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                self.assertEqual(rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
                self.assertEqual(set(b["PublicAccessBlockConfiguration"].values()), {True})
                self.assertEqual(len(b["PublicAccessBlockConfiguration"]), 4)
                self.assertEqual(b["OwnershipControls"]["Rules"], [{"ObjectOwnership": "BucketOwnerEnforced"}])
                self.assertEqual(self.template["Resources"][name]["DeletionPolicy"], "Retain")
                aborts = [r for r in b["LifecycleConfiguration"]["Rules"] if "AbortIncompleteMultipartUpload" in r]
                self.assertTrue(aborts and all(r["Status"] == "Enabled" for r in aborts))

    def test_restricted_bucket_versioning_and_noncurrent_expiry(self):
        b = self.stack(NoncurrentVersionRetentionDays=45).resource("RestrictedBucket")
        self.assertEqual(b["VersioningConfiguration"], {"Status": "Enabled"})
        rules = {r["Id"]: r for r in b["LifecycleConfiguration"]["Rules"]}
        self.assertEqual(rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"], {"NoncurrentDays": "45"})
        self.assertNotIn("Prefix", rules["ExpireNoncurrentVersions"])
        self.assertTrue(rules["RemoveExpiredDeleteMarkers"]["ExpiredObjectDeleteMarker"])
        self.assertEqual(rules["ExpireDoctorProbes"]["Prefix"], "doctor/")
        self.assertTrue(all(r["Status"] == "Enabled" for r in rules.values()))

    def test_queue_retention_and_encryption(self):
        q = self.stack().resource("Queue")
        self.assertEqual(q["MessageRetentionPeriod"], 1209600)
        self.assertTrue(q["SqsManagedSseEnabled"])
        self.assertEqual(q["VisibilityTimeout"], "30")

    # ------------------------------------------------------------ instances
    def test_instances_imdsv2_encrypted_gp3_standard_credits(self):
        for os_name, ami in (("AL2023", "AL2023ImageId"), ("AL2", "AL2ImageId")):
            stack = self.stack(OperatingSystem=os_name)
            instances = stack.resources_of("AWS::EC2::Instance")
            self.assertEqual(sorted(instances), ["ReportsEngineInstance", "SalesAppInstance"])
            for name, i in instances.items():
                with self.subTest(os=os_name, instance=name):
                    self.assertEqual(i["ImageId"], stack.params[ami])
                    self.assertEqual(i["MetadataOptions"],
                                     {"HttpEndpoint": "enabled", "HttpTokens": "required", "HttpPutResponseHopLimit": 1})
                    (root,) = i["BlockDeviceMappings"]
                    self.assertEqual(root["DeviceName"], "/dev/xvda")
                    self.assertEqual((root["Ebs"]["VolumeType"], root["Ebs"]["Encrypted"]), ("gp3", True))
                    self.assertEqual(i["CreditSpecification"], {"CPUCredits": "standard"})
                    self.assertEqual(i["InstanceType"], "t3.micro")
                    self.assertNotIn("UserData", i)
                    self.assertNotIn("KeyName", i)

    def test_images_and_instance_types(self):
        p = self.template["Parameters"]
        self.assertEqual(p["OperatingSystem"]["Default"], "AL2023")
        self.assertEqual(p["AL2023ImageId"]["Default"],
                         "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
        self.assertTrue(p["AL2ImageId"]["Default"].startswith("/aws/service/ami-amazon-linux-latest/amzn2-ami-"))
        for name in ("AL2023ImageId", "AL2ImageId"):
            self.assertEqual(p[name]["Type"], "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>")
        # Current-generation burstable types only (CPUCredits applies to T instances).
        self.assertTrue(all(re.fullmatch(r"t3a?\.\w+", t) for t in p["InstanceType"]["AllowedValues"]))

    def test_user_data_installs_a_verified_release(self):
        self.assertEqual(self.template["Rules"]["ReleaseNeedsItsDigest"]["Assertions"][0]["Assert"],
                         {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReleaseSha256"}, ""]}]})
        stack = self.stack(ReleaseUrl="https://example.com/vpce-lab-1.0.0-1.x86_64.rpm", ReleaseSha256="a" * 64)
        sales = stack.resource("SalesAppInstance")["UserData"]
        engine = stack.resource("ReportsEngineInstance")["UserData"]
        self.assertIn("role=salesapp ", sales)
        self.assertEqual(sales.replace("role=salesapp ", "role=reportsengine "), engine, "one script, two roles")
        self.assertIn(f'echo "{"a" * 64}  $f" | sha256sum --check --strict -', sales)
        self.assertIn('basename "${url%%\\?*}"', sales)
        self.assertIn('"RestrictedS3Bucket": "<RestrictedBucket>"', sales)
        # The script as the instance gets it parses (and passes shellcheck where installed).
        with tempfile.NamedTemporaryFile("w", suffix=".sh") as f:
            f.write(sales)
            f.flush()
            subprocess.run(["bash", "-n", f.name], check=True)
            if shutil.which("shellcheck"):
                subprocess.run(["shellcheck", "-s", "bash", f.name], check=True)

    # ------------------------------------------------------------ roles
    def role_statements(self, stack, role):
        """Every statement granted to the role: its inline policies and the AWS::IAM::Policy
        resources attached to it."""
        docs = [p["PolicyDocument"] for p in stack.resource(role)["Policies"]]
        docs += [p["PolicyDocument"] for p in stack.resources_of("AWS::IAM::Policy").values()
                 if f"<{role}>" in p["Roles"]]
        merged = {}
        for d in docs:
            s = statements(d)
            self.assertFalse(set(s) & set(merged), "a Sid twice")
            merged.update(s)
        return merged

    def test_roles_least_privilege_when_secured(self):
        stack = self.stack()
        downloads = {
            "ReadReleaseArtifacts": ("Allow", ["s3:GetObject"], ARTIFACTS),
            "ReadSsmAgentBuckets": ("Allow", ["s3:GetObject"], sorted(SSM_AGENT)),
        }
        objects = ("Allow", ["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::<RestrictedBucket>/*"])
        self.assertEqual(self.role_statements(stack, "SalesAppRole"), {
            **downloads, "RestrictedBucketObjects": objects,
            "LabQueueMessages": ("Allow", QUEUE_ACTIONS, ["<Queue.Arn>"]),
        })
        self.assertEqual(self.role_statements(stack, "ReportsEngineRole"), {
            **downloads, "RestrictedBucketObjects": objects,
            "LabQueueConsume": ("Allow", ["sqs:DeleteMessage", "sqs:ReceiveMessage"], ["<Queue.Arn>"]),
        })
        no_ssm = self.stack(EnableSessionManager="false")
        self.assertNotIn("ReadSsmAgentBuckets", self.role_statements(no_ssm, "SalesAppRole"))
        self.assertNotIn("ManagedPolicyArns", no_ssm.resource("SalesAppRole"))

    def test_roles_in_the_starting_state_have_the_workshops_grants(self):
        stack = self.stack(LabState="starting")
        for role in ("SalesAppRole", "ReportsEngineRole"):
            s = self.role_statements(stack, role)
            self.assertEqual(s["WorkshopStartingObjects"][1], ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"])
            self.assertEqual(s["WorkshopStartingObjects"][2],
                             ["arn:aws:s3:::<RestrictedBucket>/*", "arn:aws:s3:::<UnrestrictedBucket>/*"])
            self.assertIn("sqs:ListQueues", s["WorkshopStartingListing"][1])

    # ------------------------------------------------------------ flow logs
    def test_flow_logs(self):
        stack = self.stack()
        group = stack.resource("FlowLogGroup")
        self.assertEqual(group["RetentionInDays"], "30")
        log = stack.resource("FlowLog")
        self.assertEqual((log["ResourceId"], log["TrafficType"], log["LogDestinationType"]),
                         ("<VPC>", "ALL", "cloud-watch-logs"))
        trust = stack.resource("FlowLogRole")["AssumeRolePolicyDocument"]["Statement"][0]
        self.assertEqual(trust["Principal"], {"Service": "vpc-flow-logs.amazonaws.com"})
        self.assertEqual(trust["Condition"]["StringEquals"], {"aws:SourceAccount": "123456789012"})
        off = self.stack(EnableFlowLogs="false")
        for name in ("FlowLogGroup", "FlowLog", "FlowLogRole"):
            self.assertIsNone(off.resource(name))
        self.assertNotIn("FlowLogGroup", off.outputs())

    # ------------------------------------------------------------ outputs
    def test_outputs_keep_every_original_name_and_are_exported(self):
        outputs = self.stack().outputs()
        missing = [n for n in ORIGINAL_OUTPUTS if n not in outputs]
        self.assertEqual(missing, [], "outputs of the original template")
        for name, out in outputs.items():
            with self.subTest(output=name):
                self.assertEqual(out["Export"]["Name"], f"lab-{name}")
                self.assertTrue(out["Description"])
                if name.endswith("URL") and name != "SQSQueueURL":
                    self.assertRegex(out["Value"], r"^https://[a-z0-9.-]*console\.aws\.amazon\.com/")
        for name in ("SSHtoSalesApp", "SSHtoReportsEngine"):
            self.assertTrue(outputs[name]["Value"].startswith("aws ssm start-session --region us-east-1 --target <"))
            self.assertIn("Session Manager", outputs[name]["Description"])
        self.assertIn("Session Manager", outputs["Cloud9Instance"]["Description"])
        self.assertIn("/systems-manager/session-manager/<SalesAppInstance>", outputs["Cloud9InstanceURL"]["Value"])
        self.assertEqual(outputs["keypairName"]["Value"], "none")
        self.assertEqual(self.stack(KeyPairName="mine").outputs()["keypairName"]["Value"], "mine")

    def test_template_fits_a_direct_upload(self):
        # CloudFormation takes a template body of at most 51,200 bytes without an S3 bucket
        # (`aws cloudformation deploy` fails beyond it unless given --s3-bucket).
        size = TEMPLATE.stat().st_size
        self.assertLess(size, 51200, f"{size} bytes: trim the template or deploy through S3")

    def test_outputs_resolve_under_the_emulator(self):
        # moto cannot resolve Queue.QueueUrl, and one unresolvable output blanks them all.
        def uses_queue_url(node):
            if isinstance(node, dict):
                att = node.get("Fn::GetAtt")
                if att in ("Queue.QueueUrl", ["Queue", "QueueUrl"]):
                    return True
                return any(uses_queue_url(v) for v in node.values())
            if isinstance(node, list):
                return any(uses_queue_url(v) for v in node)
            return isinstance(node, str) and "${Queue.QueueUrl}" in node

        self.assertFalse(uses_queue_url(self.template["Resources"]), "a resource uses Queue.QueueUrl")
        self.assertFalse(uses_queue_url(self.template["Outputs"]), "an output uses Queue.QueueUrl")


if __name__ == "__main__":
    unittest.main()
