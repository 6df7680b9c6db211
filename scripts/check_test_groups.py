#!/usr/bin/env python3
"""Fails when a test group that should exist did not build or did not run.

A missing package can make CMake leave out a whole group (the widget and lab tests without Qt) or make a test
skip itself (the lab tour without Xvfb); ctest still ends green. This reads the JUnit file of a ctest run and
checks each expected group: at least its minimum number of tests, none of them skipped.

    check_test_groups.py CTEST_JUNIT_XML PREFIX:MINIMUM [PREFIX:MINIMUM ...]

A PREFIX matches test names that start with it ("core." for every core test, "lab.tour" for that one test).
"""
import sys
import xml.etree.ElementTree as ElementTree


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    junit_path, expectations = argv[1], argv[2:]
    try:
        cases = ElementTree.parse(junit_path).getroot().iter("testcase")
    except (OSError, ElementTree.ParseError) as error:
        print(f"check_test_groups: cannot read {junit_path}: {error}", file=sys.stderr)
        return 1
    # name -> ran (a skipped test, or one ctest did not run, did not run)
    tests = {}
    for case in cases:
        status = case.get("status", "run")
        skipped = case.find("skipped") is not None or status in ("notrun", "disabled")
        tests[case.get("name", "")] = not skipped

    problems = []
    for expectation in expectations:
        prefix, _, minimum = expectation.rpartition(":")
        names = [name for name in tests if name.startswith(prefix)]
        skipped = sorted(name for name in names if not tests[name])
        if len(names) < int(minimum):
            problems.append(f"{prefix}: {len(names)} tests, expected at least {minimum} (did the group build?)")
        if skipped:
            problems.append(f"{prefix}: {len(skipped)} skipped: {', '.join(skipped[:5])}")
        print(f"check_test_groups: {prefix:<10} {len(names) - len(skipped)} ran, {len(skipped)} skipped")
    for problem in problems:
        print(f"check_test_groups: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
