#!/usr/bin/env python3
"""Writes N schedules x 4 groups x 5 instances (schedule files and a fleet file) for
benchmarking `schedctl simulate`. Usage: gen_sim_fleet.py OUT_DIR [N]"""
import json
import os
import sys

ZONES = ["Asia/Seoul", "America/New_York", "Europe/Berlin", "UTC", "Australia/Sydney"]


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    sched_dir = os.path.join(out, "schedules")
    os.makedirs(sched_dir, exist_ok=True)
    instances = []
    for k in range(n):
        name = f"Env{k:04d}"
        start_h = 6 + k % 5
        doc = {
            "ScheduleName": name,
            "DaysActive": "weekdays" if k % 3 else "mon,wed,fri",
            "StartTime": f"{start_h:02d}:{(k * 7) % 60:02d}",
            "StopTime": "02:00" if k % 10 == 0 else f"{start_h + 10:02d}:00",
            "TimeZone": ZONES[k % len(ZONES)],
            "Groups": [
                {"GroupName": "DB", "InstanceType": "RDS"},
                {"GroupName": "MW", "InstanceType": "EC2", "Dependency": ["DB"]},
                {"GroupName": "API", "InstanceType": "EC2", "Dependency": ["MW"]},
                {"GroupName": "BATCH", "InstanceType": "EC2", "Dependency": ["API", "DB"]},
            ],
            "Exceptions": [{"ExceptionDate": "2026-12-25", "ExceptionType": "start", "ExceptionValue": "None"}],
        }
        with open(os.path.join(sched_dir, f"{name}.json"), "w") as f:
            json.dump(doc, f)
        for group in ["DB", "MW", "API", "BATCH"]:
            for i in range(5):
                kind = "rds" if group == "DB" else "ec2"
                instances.append({
                    "id": f"{name}-{group}-{i}".lower(),
                    "kind": kind,
                    "tags": {"ScheduleName": name, "ScheduleGroupName": group, "Name": f"{name}-{group}-{i}"},
                    "state": "stopped",
                    "boot_seconds": 300 if kind == "rds" else 60 + 10 * i,
                    "stop_seconds": 120 if kind == "rds" else 30,
                })
    with open(os.path.join(out, "fleet.json"), "w") as f:
        json.dump({"instances": instances}, f)


if __name__ == "__main__":
    main()
