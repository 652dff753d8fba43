"""The template, deploy/push.sh and deploy/instance-install.sh on the local emulator, as far as it goes.

Run with the emulator venv's python (deploy/local/emulator.sh venv creates .venv-moto):

    .venv-moto/bin/python deploy/test_push.py [-v]

Starts its own moto_server on 127.0.0.1 (a free port; $MOTO_SERVER, else
.venv-moto/bin/moto_server), deploys the template with emulator_deploy.py (the default stack
and one with every other branch: each must keep all its outputs), runs push.sh with
a dummy release and checks what moto records: the artifact in the artifacts bucket, and one
SSM SendCommand per instance (moto records Run Command calls without running them). Then it
runs the very command moto recorded, on this machine, with --root DIR: it fetches the
artifact from the emulator, verifies it, writes the configuration and lays the release out.
The AWS CLI is $AWS_CLI, else $E2E_AWS_CLI, else `aws` on PATH. Only 127.0.0.1 is contacted.
"""

import ast
import base64
import hashlib
import json
import os
import pathlib
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
PUSH = HERE / "push.sh"
INSTALLER = HERE / "instance-install.sh"
TEMPLATE = HERE / "cloudformation" / "vpce-lab.yaml"
DEPLOY = HERE / "cloudformation" / "emulator_deploy.py"
STACK = "pushlab"

# A stand-in for the release's salesapp: only `configure --stack-outputs F -o OUT` and
# `--version`, enough for instance-install.sh.
FAKE_SALESAPP = """#!/usr/bin/env python3
import json, sys
args = sys.argv[1:]
if args == ["--version"]:
    print("salesapp 0.0.0-test")
    sys.exit(0)
assert args[0] == "configure", args
src = args[args.index("--stack-outputs") + 1]
dst = args[args.index("-o") + 1]
o = json.load(open(src))
with open(dst, "x") as f:
    f.write('region = "us-east-1"\\nbucket = "%s"\\nqueue_url = "%s"\\n' % (o["RestrictedS3Bucket"], o["SQSQueueURL"]))
"""


def endpoint_policy(endpoint):
    # moto answers with the policy written as a Python literal, not JSON.
    text = endpoint["PolicyDocument"]
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aws_cli():
    cli = os.environ.get("AWS_CLI") or os.environ.get("E2E_AWS_CLI") or shutil.which("aws")
    if not cli:
        raise unittest.SkipTest("no AWS CLI: set AWS_CLI or E2E_AWS_CLI (deploy/local/test.sh does)")
    return cli


def make_release(directory, version="0.0.0-test"):
    """A tarball laid out like deploy/build-release.sh's, with stand-in binaries."""
    name = f"vpce-lab-{version}"
    root = directory / name
    (root / "bin").mkdir(parents=True)
    (root / "systemd").mkdir()
    (root / "deploy").mkdir()
    (root / "bin" / "salesapp").write_text(FAKE_SALESAPP)
    (root / "bin" / "reportsengine").write_text("#!/bin/sh\necho reportsengine 0.0.0-test\n")
    for f in (root / "bin").iterdir():
        f.chmod(0o755)
    for unit in (REPO / "systemd").glob("*.service"):
        shutil.copy(unit, root / "systemd")
    shutil.copy(REPO / "deploy" / "install.sh", root / "deploy" / "install.sh")
    tarball = directory / f"{name}-x86_64-linux-gnu.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(root, arcname=name)
    return tarball


class OnTheEmulator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cli = aws_cli()
        cls.tmp = pathlib.Path(tempfile.mkdtemp(prefix="vpce-push-test."))
        cls.port = free_port()
        moto = os.environ.get("MOTO_SERVER") or str(REPO / ".venv-moto" / "bin" / "moto_server")
        cls.log = open(cls.tmp / "moto.log", "w")
        # The recorder writes to a file: keep it in the test's directory.
        cls.server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(cls.port)],
                                      stdout=cls.log, stderr=subprocess.STDOUT, cwd=cls.tmp,
                                      env={**os.environ, "MOTO_RECORDER_FILEPATH": str(cls.tmp / "recording")})
        cls.endpoint = f"http://127.0.0.1:{cls.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(cls.endpoint + "/moto-api/", timeout=1)
                break
            except Exception:
                if cls.server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start: " + (cls.tmp / "moto.log").read_text())
                time.sleep(0.2)
        cls.env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CLI": cls.cli,
        }
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "VPCE_LAB_ENDPOINT_URL"):
            cls.env.pop(k, None)
        cls.outputs = cls.deploy(STACK)

    @classmethod
    def deploy(cls, name, *parameters):
        """Creates a stack of the template in the emulator; returns its outputs."""
        args = [sys.executable, str(DEPLOY), "--port", str(cls.port), "--stack-name", name,
                "--template", str(TEMPLATE)]
        for p in parameters:
            args += ["--parameter", p]
        deployed = subprocess.run(args, env=cls.env, capture_output=True, text=True, check=False)
        if deployed.returncode != 0:
            raise AssertionError(f"deploy {name} {parameters} failed: {deployed.stderr}")
        return {o["OutputKey"]: o["OutputValue"] for o in json.loads(deployed.stdout)["Stacks"][0]["Outputs"]}

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        try:
            cls.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.server.kill()
            cls.server.wait()
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def client(self, service):
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def push(self, *args, cwd=None):
        return subprocess.run(["bash", str(PUSH), "--stack", STACK, "--endpoint-url", self.endpoint, *args],
                              env=self.env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)

    def commands(self):
        return self.client("ssm").list_commands()["Commands"]

    def moto_api(self, path):
        method = "GET" if path.startswith("download") else "POST"
        req = urllib.request.Request(f"{self.endpoint}/moto-api/recorder/{path}", method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode()

    def recorded_send_commands(self, recording):
        """The SendCommand requests as push.sh sent them (moto's own list_commands names every
        instance when a command has no Targets, so it cannot tell which instance was asked)."""
        sent = []
        for line in recording.splitlines():
            if not line.strip():
                continue
            req = json.loads(line)
            if req["headers"].get("X-Amz-Target") == "AmazonSSM.SendCommand":
                body = base64.b64decode(req["body"]) if req.get("body_encoded") else req["body"]
                sent.append(json.loads(body))
        return sent

    def test_push_uploads_the_release_and_runs_the_installer_on_both_instances(self):
        release = make_release(self.tmp / "release")
        digest = hashlib.sha256(release.read_bytes()).hexdigest()
        before = len(self.commands())
        self.moto_api("reset-recording")
        self.moto_api("start-recording")
        try:
            r = self.push(str(release))
        finally:
            self.moto_api("stop-recording")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"salesapp\s+i-\w+\s+Success")
        self.assertRegex(r.stdout, r"reportsengine\s+i-\w+\s+Success")

        # The artifact, content-addressed, in the bucket the endpoint policy admits.
        key = f"releases/{digest}/{release.name}"
        obj = self.client("s3").get_object(Bucket=self.outputs["ArtifactsS3Bucket"], Key=key)
        self.assertEqual(obj["Body"].read(), release.read_bytes())
        self.assertEqual(obj["Metadata"]["sha256"], digest)
        self.assertEqual(obj["ServerSideEncryption"], "AES256")

        # One Run Command per instance, each running our installer for its role.
        self.assertEqual(len(self.commands()) - before, 2, "moto recorded two commands")
        sent = self.recorded_send_commands(self.moto_api("download-recording"))
        self.assertEqual([len(c["InstanceIds"]) for c in sent], [1, 1])
        by_instance = {c["InstanceIds"][0]: c for c in sent}
        expected = {self.outputs["SalesAppInstanceId"]: "salesapp",
                    self.outputs["ReportsEngineInstanceId"]: "reportsengine"}
        self.assertEqual(sorted(by_instance), sorted(expected))
        for instance, role in expected.items():
            with self.subTest(role=role):
                c = by_instance[instance]
                self.assertEqual(c["DocumentName"], "AWS-RunShellScript")
                lines = c["Parameters"]["commands"]
                self.assertEqual(len(lines), 3)
                shipped = base64.b64decode(shlex.split(lines[1])[2])
                self.assertEqual(shipped, INSTALLER.read_bytes(), "the installer, byte for byte")
                argv = shlex.split(lines[2])
                self.assertEqual(argv[:4], ["bash", "/root/vpce-lab-instance-install.sh", "--role", role])
                opts = dict(zip(argv[4::2], argv[5::2]))
                self.assertEqual(opts["--artifact"], f"s3://{self.outputs['ArtifactsS3Bucket']}/{key}")
                self.assertEqual(opts["--sha256"], digest)
                self.assertEqual(opts["--region"], "us-east-1")
                sent_outputs = json.loads(base64.b64decode(opts["--outputs-b64"]))
                for name in ("RestrictedS3Bucket", "SQSQueueURL", "SQSQueueARN", "UnrestrictedS3Bucket"):
                    self.assertEqual(sent_outputs[name], self.outputs[name])

        # The recorded command, run here as it would run on the instance, laid out under a root.
        c = by_instance[self.outputs["SalesAppInstanceId"]]
        argv = shlex.split(c["Parameters"]["commands"][2])[2:]
        root = self.tmp / "root"
        env = {**self.env, "AWS_ENDPOINT_URL": self.endpoint,
               "PATH": os.path.dirname(self.cli) + os.pathsep + os.environ["PATH"]}
        run = subprocess.run(["bash", str(INSTALLER), *argv, "--root", str(root)],
                             env=env, capture_output=True, text=True, timeout=120, check=False)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("SHA-256 verified", run.stdout)
        config = (root / "etc/vpce-lab/config.toml").read_text()
        self.assertIn(f'bucket = "{self.outputs["RestrictedS3Bucket"]}"', config)
        self.assertTrue(os.access(root / "usr/local/bin/salesapp", os.X_OK))
        self.assertTrue((root / "var/lib/salesapp/spool/incoming").is_dir())

        # Again: a configuration that names this stack's bucket is the operator's, and stays.
        (root / "etc/vpce-lab/config.toml").write_text(config + "# tuned by the operator\n")
        again = subprocess.run(["bash", str(INSTALLER), *argv, "--root", str(root)],
                               env=env, capture_output=True, text=True, timeout=120, check=False)
        self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
        self.assertIn("keeping", again.stdout)
        self.assertIn("# tuned by the operator", (root / "etc/vpce-lab/config.toml").read_text())

        # A release whose digest is not the one sent is refused before anything is installed.
        bad = list(argv)
        bad[bad.index("--sha256") + 1] = "0" * 64
        other_root = self.tmp / "refused"
        refused = subprocess.run(["bash", str(INSTALLER), *bad, "--root", str(other_root)],
                                 env=env, capture_output=True, text=True, timeout=120, check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("refusing to install", refused.stderr)
        self.assertFalse(other_root.exists())

    def test_the_stack_as_the_emulator_creates_it(self):
        # What moto applies of the template (it skips bucket and queue policies, lifecycle
        # rules, versioning and MetadataOptions; the template test covers those).
        ec2 = self.client("ec2")
        endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[self.outputs["S3VPCGatewayEndpoint"]])["VpcEndpoints"][0]
        policy = endpoint_policy(endpoint)
        allowed = {s["Sid"]: sorted(s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
                   for s in policy["Statement"]}
        bucket = self.outputs["RestrictedS3Bucket"]
        self.assertEqual(allowed["RestrictedBucketObjectsOnly"], [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"])
        self.assertEqual(allowed["ReadReleaseArtifacts"], [f"arn:aws:s3:::{self.outputs['ArtifactsS3Bucket']}/releases/*"])
        self.assertEqual(allowed["ReadAmazonLinuxRepositories"], ["arn:aws:s3:::al2023-repos-us-east-1-de612dc2/*"])
        attrs = self.client("sqs").get_queue_attributes(QueueUrl=self.outputs["SQSQueueURL"],
                                                        AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["MessageRetentionPeriod"], "1209600")
        self.assertEqual(attrs["SqsManagedSseEnabled"], "true")
        instances = [self.outputs["SalesAppInstanceId"], self.outputs["ReportsEngineInstanceId"]]
        volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": instances}])["Volumes"]
        self.assertEqual(sorted((v["VolumeType"], v["Encrypted"]) for v in volumes), [("gp3", True)] * 2)
        (flow,) = [f for f in ec2.describe_flow_logs()["FlowLogs"] if f["ResourceId"] == self.outputs["VPCID"]]
        self.assertEqual((flow["TrafficType"], flow["LogGroupName"]), ("ALL", self.outputs["FlowLogGroup"]))

    def test_every_variant_deploys_with_all_its_outputs(self):
        # Under moto one output that does not resolve blanks them all: deploy the other branches.
        outputs = self.deploy(
            "variant", "LabState=starting", "OperatingSystem=AL2", "EnableFlowLogs=false",
            "AllowPackageRepositories=false", "EnableSessionManager=false", "KeyPairName=mine",
            "ReleaseUrl=https://example.com/vpce-lab-1.0.0-1.x86_64.rpm", f"ReleaseSha256={'a' * 64}")
        self.assertEqual(sorted(set(self.outputs) - set(outputs)), ["FlowLogGroup"])
        self.assertEqual((outputs["LabState"], outputs["OperatingSystem"], outputs["keypairName"]),
                         ("starting", "AL2", "mine"))
        ec2 = self.client("ec2")
        endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[outputs["S3VPCGatewayEndpoint"]])["VpcEndpoints"][0]
        policy = endpoint_policy(endpoint)
        self.assertEqual([(s["Action"], s["Resource"]) for s in policy["Statement"]], [("*", "*")])
        for instance, role in ((outputs["SalesAppInstanceId"], "salesapp"),
                               (outputs["ReportsEngineInstanceId"], "reportsengine")):
            data = ec2.describe_instance_attribute(InstanceId=instance, Attribute="userData")["UserData"]["Value"]
            self.assertIn(f"role={role} ", base64.b64decode(data).decode())

    def test_push_without_a_release_sends_nothing(self):
        empty = self.tmp / "empty"
        empty.mkdir(exist_ok=True)
        before = len(self.commands())
        r = self.push(str(empty / "missing.rpm"))
        self.assertEqual(r.returncode, 64, r.stderr)
        self.assertIn("no such file", r.stderr)
        self.assertEqual(len(self.commands()), before)

    def test_push_to_a_stack_that_does_not_exist(self):
        release = make_release(self.tmp / "release-nostack")
        r = subprocess.run(["bash", str(PUSH), "--stack", "no-such-stack", "--endpoint-url", self.endpoint,
                            str(release)], env=self.env, capture_output=True, text=True, timeout=120, check=False)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("cannot describe stack no-such-stack", r.stderr)


if __name__ == "__main__":
    unittest.main()
