"""How often the engine and the reference interpreter agreed in one run of the property tests.

    python tools/oracle_agreement.py            # the suite's hypothesis profile
    python tools/oracle_agreement.py --deep     # the deep profile (docs/verification.md)

Runs tests/test_properties.py in this process and prints, per definition, the verdicts the
two compared (allowed, refused with the same blocker kinds, not available). A disagreement
fails the tests, so every printed comparison is an agreement.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1] / "tests"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(TESTS))
    profile = ["--hypothesis-profile=deep"] if "--deep" in argv else []
    code = pytest.main(
        ["-q", "-p", "no:cacheprovider", str(TESTS / "test_properties.py"), *profile]
    )
    import test_properties  # noqa: PLC0415 - the module pytest just ran

    agreed = test_properties.AGREED
    for definition in sorted({d for d, _ in agreed}):
        counts = {v: agreed[definition, v] for v in ("allowed", "refused", "not available")}
        total = sum(counts.values())
        parts = ", ".join(f"{v} {n:,}" for v, n in counts.items())
        print(f"{definition}: {total:,} verdicts agreed ({parts})")
    print(f"total: {sum(agreed.values()):,}")
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
