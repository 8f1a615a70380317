#!/usr/bin/env python3
"""Checks that each published crate's `rust-version` is not below the highest `rust-version`
among the locked dependencies a user of it compiles (normal and build dependencies, all
features; dev-dependencies and the benches package do not count): the core, the store, the
gateway library, its command line and the mock.

No second toolchain can be installed here, so this, with clippy's `incompatible_msrv` lint, is how
CI keeps the stated minimum honest. Exits 1, naming the dependencies that need more, when it is
too low.

Usage: scripts/check-msrv.py   (from anywhere in the repository)
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRATES = [
    "pagerduty-mcp-connect",
    "pagerduty-mcp-connect-store",
    "pagerduty-mcp-connect-gateway",
    "pagerduty-mcp-gateway",
    "pagerduty-mcp-connect-mock",
]


def version_key(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = load_metadata()
    return max(check(meta, crate) for crate in CRATES)


def load_metadata():
    return json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )


def check(meta, CRATE):
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p for p in meta["packages"] if p["name"] == CRATE and p["source"] is None)
    ours = root.get("rust_version")
    if not ours:
        print(f"{CRATE} states no rust-version in Cargo.toml", file=sys.stderr)
        return 1

    # Every package reachable from the library through normal or build dependencies.
    seen, stack = set(), [root["id"]]
    while stack:
        node = nodes[stack.pop()]
        for dep in node["deps"]:
            if any(kind["kind"] != "dev" for kind in dep["dep_kinds"]) and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])

    needs = sorted(
        ((packages[i].get("rust_version"), packages[i]["name"], packages[i]["version"]) for i in seen),
        key=lambda t: version_key(t[0]) if t[0] else (0, 0, 0),
        reverse=True,
    )
    stated = [n for n in needs if n[0]]
    highest = stated[0][0] if stated else "0"
    too_new = [n for n in stated if version_key(n[0]) > version_key(ours)]
    if too_new:
        print(
            f"rust-version {ours} of {CRATE} is below what its locked dependencies need:",
            file=sys.stderr,
        )
        for rv, name, version in too_new:
            print(f"  {name} {version} needs Rust {rv}", file=sys.stderr)
        print(f"Raise rust-version to {highest} (and README's MSRV section).", file=sys.stderr)
        return 1
    top = ", ".join(f"{name} {version} ({rv})" for rv, name, version in stated[:3])
    print(
        f"rust-version {ours} covers all {len(seen)} locked dependencies of the library "
        f"(highest stated: {highest}; {top})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
