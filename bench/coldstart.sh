#!/usr/bin/env bash
# Cold start and memory of the packaged function: starts moto on 127.0.0.1, loads
# schedules/ and a Development fleet, then times the release binary from process
# start to the end of its first run (the 09:30 start of the whole chain), and prints
# the binary size and peak memory. Run after `make package`.
set -euo pipefail
cd "$(dirname "$0")/.."
zip=target/lambda/instance-scheduler/bootstrap.zip
[ -f "$zip" ] || { echo "run make package first" >&2; exit 1; }
unpacked=$(mktemp -d)
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$unpacked"
chmod +x "$unpacked/bootstrap"
bin="$unpacked/bootstrap"
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true; rm -rf "$unpacked"' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
cargo build --quiet --bin schedctl
./target/debug/schedctl init-tables >/dev/null
./target/debug/schedctl sync schedules >/dev/null
.venv/bin/python - <<'PY'
import boto3
ec2 = boto3.client("ec2"); rds = boto3.client("rds")
tags = lambda g: [{"Key": "ScheduleName", "Value": "Development"}, {"Key": "ScheduleGroupName", "Value": g}]
for g, n in [("MIDDLEWARE", 2), ("API", 2), ("BATCH", 1)]:
    r = ec2.run_instances(ImageId="ami-12c6146b", MinCount=n, MaxCount=n,
                          TagSpecifications=[{"ResourceType": "instance", "Tags": tags(g)}])
    ec2.stop_instances(InstanceIds=[i["InstanceId"] for i in r["Instances"]])
rds.create_db_instance(DBInstanceIdentifier="dev-db", DBInstanceClass="db.t3.micro", Engine="postgres",
                       MasterUsername="a", MasterUserPassword="password1", AllocatedStorage=20, Tags=tags("DB"))
rds.stop_db_instance(DBInstanceIdentifier="dev-db")
PY
echo "binary: $(stat -c %s "$bin") bytes ($(stat -c %s "$zip") zipped)"
POLL_SECONDS=0 RUST_LOG=warn /usr/bin/time -f "first run: %e s wall, %M KiB peak memory" \
  "$bin" invoke --at 2026-12-21T09:30:00+09:00 '{"action":"run"}' > /tmp/coldstart-answer.json
echo "actions: $(.venv/bin/python -c 'import json; print(len(json.load(open("/tmp/coldstart-answer.json"))["actions"]))')"
