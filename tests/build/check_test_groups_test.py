#!/usr/bin/env python3
"""scripts/check_test_groups.py on small JUnit files of the form ctest writes: a group must run its minimum
(skipped tests do not count), and with PREFIX:MINIMUM/LISTED it must also be listed LISTED times, run or
skipped, so that a group of GPU tests may skip on a machine without a GPU but must still have been built.

    check_test_groups_test.py SOURCE_DIR
"""
import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(sys.argv.pop(1) if len(sys.argv) > 1 else ".", "scripts"))
import check_test_groups  # noqa: E402


def junit(ran: list[str], skipped: list[str]) -> str:
    cases = [f'<testcase name="{name}" status="run"/>' for name in ran]
    cases += [f'<testcase name="{name}" status="run"><skipped message="no GPU"/></testcase>' for name in skipped]
    return '<?xml version="1.0"?><testsuite>' + "".join(cases) + "</testsuite>"


class CheckTestGroups(unittest.TestCase):
    def check(self, xml: str, *expectations: str) -> int:
        with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as file:
            file.write(xml)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                return check_test_groups.main(["check_test_groups.py", file.name, *expectations])
        finally:
            os.unlink(file.name)

    def test_a_group_must_run_its_minimum(self):
        xml = junit(["core.A.a", "core.A.b"], ["core.A.c"])
        self.assertEqual(self.check(xml, "core.:2"), 0)
        self.assertEqual(self.check(xml, "core.:3"), 1)  # the skipped test does not count

    def test_a_listed_minimum_lets_every_test_skip_but_not_go_missing(self):
        all_skipped = junit(["core.A.a"], ["cuda.Copy.a", "cuda.Copy.b", "cuda.Matmul.a"])
        self.assertEqual(self.check(all_skipped, "cuda.:0/3"), 0)
        self.assertEqual(self.check(all_skipped, "cuda.:0/4"), 1)  # fewer listed than asked
        self.assertEqual(self.check(all_skipped, "cuda.:3"), 1)  # on a GPU machine they must run
        not_built = junit(["core.A.a"], [])
        self.assertEqual(self.check(not_built, "cuda.:0/1"), 1)
        self.assertEqual(self.check(not_built, "cuda.:0"), 0)  # no listed minimum: nothing is asked

    def test_a_malformed_expectation_is_refused(self):
        xml = junit(["core.A.a"], [])
        self.assertEqual(self.check(xml, "core.:x"), 2)
        self.assertEqual(self.check(xml, "core.:1/y"), 2)


if __name__ == "__main__":
    unittest.main()
