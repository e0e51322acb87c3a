#!/usr/bin/env python3
"""Every CTest entry of the build has a label and a timeout (ctest -L picks suites by label).

Usage: every_test_labelled.py BUILD_DIR
"""
import json
import subprocess
import sys

LABELS = {"unit", "model", "kernels", "api", "cluster", "deploy"}

listing = json.loads(subprocess.run(
    ["ctest", "--test-dir", sys.argv[1], "--show-only=json-v1"],
    check=True, capture_output=True, text=True).stdout)
problems = []
for test in listing["tests"]:
    properties = {p["name"]: p["value"] for p in test.get("properties", [])}
    labels = set(properties.get("LABELS", []))
    if not labels & LABELS:
        problems.append(f"{test['name']}: no label among {sorted(LABELS)}")
    if not properties.get("TIMEOUT"):
        problems.append(f"{test['name']}: no timeout")
for problem in problems:
    print(problem)
print(f"{len(listing['tests'])} tests, {len(problems)} problems")
sys.exit(1 if problems else 0)
