#!/usr/bin/env python3
"""Validate real wsscope output against the checked-in JSON Schemas.

Runs the built binary ($WSSCOPE, else $CARGO_TARGET_DIR/debug/wsscope, else target/debug/wsscope)
on every fixture (and the shared corpus when present) in --json,
--ndjson and `flows --json` modes and validates each document with jsonschema.
"""
import glob
import json
import os
import subprocess
import sys

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The binary: $WSSCOPE, else the debug build in cargo's target directory ($CARGO_TARGET_DIR,
# relative to the current directory as cargo reads it, else target/ in the repository).
TARGET_DIR = os.path.abspath(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"))
BIN = os.environ.get("WSSCOPE", os.path.join(TARGET_DIR, "debug", "wsscope"))
# Third-party captures, validated too when present: $WSSCOPE_CORPUS, else ../shared/corpus.
CORPUS = os.environ.get("WSSCOPE_CORPUS") or os.path.join(ROOT, "..", "shared", "corpus")


def load(name):
    with open(os.path.join(ROOT, "schema", name)) as f:
        return json.load(f)


def main():
    report_schema = load("report.schema.json")
    events_schema = load("events.schema.json")
    flows_schema = load("flows.schema.json")
    captures = sorted(glob.glob(os.path.join(ROOT, "fixtures", "*.pcap")))
    corpus = sorted(glob.glob(os.path.join(CORPUS, "*.pcap")))
    if not corpus:
        print(f"note: no third-party corpus in {CORPUS}; validating the fixtures only")
    captures += corpus
    if not os.access(BIN, os.X_OK):
        print(f"error: {BIN} is not an executable: run `cargo build` first (or set WSSCOPE)")
        return 2
    passed = failed = 0
    for cap in captures:
        checks = []
        out = subprocess.run([BIN, "analyze", "--json", "-", "--payload", "full", cap], capture_output=True, check=False)
        checks.append(("report", report_schema, [out.stdout]))
        out = subprocess.run([BIN, "analyze", "--ndjson", cap], capture_output=True, check=False)
        checks.append(("events", events_schema, [l for l in out.stdout.splitlines() if l.strip()]))
        out = subprocess.run([BIN, "flows", "--json", "-", cap], capture_output=True, check=False)
        checks.append(("flows", flows_schema, [out.stdout]))
        for kind, schema, docs in checks:
            try:
                if not docs:
                    raise ValueError("no output")
                for doc in docs:
                    jsonschema.validate(json.loads(doc), schema)
                passed += 1
            except Exception as e:  # noqa: BLE001 - report every kind of failure
                failed += 1
                print(f"FAIL {kind} {os.path.relpath(cap, ROOT)}: {str(e).splitlines()[0]}")
    print(f"schema: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
