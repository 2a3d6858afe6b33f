#!/usr/bin/env python3
"""Compare two analysis reports (JSON files) field by field.

Numbers must agree to a relative tolerance (default 1e-9, absolute below 1e-12),
nulls and integers exactly, and both reports must have the same keys. Prints each
difference; exits 1 if there is any.

Usage: compare_reports.py A.json B.json [--rtol 1e-9]
"""
import argparse
import json
import sys


def diff(a, b, path, rtol, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: present in only one report")
            else:
                diff(a[k], b[k], f"{path}.{k}", rtol, out)
    elif a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        if a != b:
            out.append(f"{path}: {a!r} != {b!r}")
    elif isinstance(a, int) and isinstance(b, int):
        if a != b:
            out.append(f"{path}: {a} != {b}")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if abs(a - b) > rtol * max(abs(a), abs(b)) + 1e-12:
            out.append(f"{path}: {a!r} != {b!r} (rel {abs(a - b) / max(abs(a), abs(b)):.2e})")
    elif a != b:
        out.append(f"{path}: {a!r} != {b!r}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rtol", type=float, default=1e-9)
    args = parser.parse_args()
    with open(args.a) as fa, open(args.b) as fb:
        a, b = json.load(fa), json.load(fb)
    out = []
    diff(a, b, "$", args.rtol, out)
    for line in out:
        print(line)
    if out:
        sys.exit(1)
    print(f"reports agree (rtol {args.rtol})")


if __name__ == "__main__":
    main()
