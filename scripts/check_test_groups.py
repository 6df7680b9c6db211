#!/usr/bin/env python3
"""Fails when a test group that should exist did not build or did not run.

A missing package can make CMake leave out a whole group (the widget and lab tests without Qt) or make a test
skip itself (the lab tour without Xvfb); ctest still ends green. This reads the JUnit file of a ctest run and
checks that each expected group ran at least its minimum number of tests. Skipped tests do not count as run;
they are listed, and a group of one test (the lab tour) fails when it skips. Single tests may skip for a
stated reason (reference data of ../shared absent, no GPU) as long as their group still reaches its minimum.

    check_test_groups.py CTEST_JUNIT_XML PREFIX:MINIMUM[/LISTED] [PREFIX:MINIMUM[/LISTED] ...]

A PREFIX matches test names that start with it ("core." for every core test, "lab.tour" for that one test).
LISTED, when given, is how many tests of the group must at least be listed (built and known to ctest), run
or skipped: "cuda.:0/100" asks that the GPU tests were built, at least 100 of them, while all may skip (a
machine without a GPU); "cuda.:100" asks that 100 ran. A group must always be listed at least MINIMUM times.
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
        prefix, _, counts = expectation.rpartition(":")
        minimum, _, listed = counts.partition("/")
        try:
            minimum, listed = int(minimum), int(listed or 0)
        except ValueError:
            print(f"check_test_groups: '{expectation}' is not PREFIX:MINIMUM[/LISTED]", file=sys.stderr)
            return 2
        names = [name for name in tests if name.startswith(prefix)]
        skipped = sorted(name for name in names if not tests[name])
        ran = len(names) - len(skipped)
        if len(names) < listed:
            problems.append(f"{prefix}: {len(names)} tests listed, expected at least {listed}: did the group build?")
        if ran < minimum:
            problems.append(f"{prefix}: {ran} tests ran ({len(skipped)} skipped), expected at least {minimum}: "
                            "did the group build, and can it run here?")
        print(f"check_test_groups: {prefix:<10} {ran} ran, {len(skipped)} skipped")
        for name in skipped:
            print(f"check_test_groups:   skipped: {name}")
    for problem in problems:
        print(f"check_test_groups: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
