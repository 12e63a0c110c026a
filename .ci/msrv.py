#!/usr/bin/env python3
"""The declared MSRV, checked against what is installed and what the dependencies declare.

Reads `cargo metadata --format-version 1 --filter-platform <host>` on stdin. For every
workspace member, walks its normal and build dependencies (what a user compiles; dev-dependencies
only build our tests) and fails if any declares a `rust-version` above the member's own. Then
fails if the installed rustc (`rustc --version`, first argument) is older than the highest
`rust-version` of the members. Prints each member's floor: the highest `rust-version` among its
dependencies, the least its own may honestly be.
"""
import json
import re
import sys


def version(text):
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def shown(v):
    return ".".join(str(p) for p in v[:2]) + (f".{v[2]}" if v[2] else "")


def main():
    rustc = version(sys.argv[1])
    meta = json.load(sys.stdin)
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    failures = []
    highest = (0, 0, 0)
    for member in meta["workspace_members"]:
        own = packages[member].get("rust_version")
        if own is None:
            failures.append(f"{packages[member]['name']}: no rust-version")
            continue
        own = version(own)
        highest = max(highest, own)
        seen, todo, floor, culprit = set(), [member], (0, 0, 0), None
        while todo:
            at = todo.pop()
            for dep in nodes[at]["deps"]:
                kinds = {k["kind"] for k in dep["dep_kinds"]}
                if not kinds & {None, "build"}:
                    continue  # a dev-dependency: never built for a user
                if dep["pkg"] in seen:
                    continue
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
                rv = packages[dep["pkg"]].get("rust_version")
                if rv and version(rv) > floor:
                    floor, culprit = version(rv), packages[dep["pkg"]]
        name = packages[member]["name"]
        who = f" ({culprit['name']} {culprit['version']})" if culprit else ""
        print(f"{name}: rust-version {shown(own)}, dependencies need {shown(floor)}{who}")
        if floor > own:
            failures.append(
                f"{name}: rust-version {shown(own)} but {culprit['name']} {culprit['version']} "
                f"needs {shown(floor)}"
            )
    if rustc < highest:
        failures.append(f"rustc {shown(rustc)} is older than the declared rust-version {shown(highest)}")
    if failures:
        print("*** MSRV check failed ***\n  " + "\n  ".join(failures))
        sys.exit(1)
    print(f"rustc {shown(rustc)} >= every rust-version declared")


main()
