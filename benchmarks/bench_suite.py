"""Time this repository's own test suite at a base commit and at HEAD, side by side.

Run from the repository root with the package installed:

    .venv/bin/python benchmarks/bench_suite.py --base c00ec4e --rounds 2
    .venv/bin/python benchmarks/bench_suite.py --base c00ec4e --rounds 1 --full

Each round checks out both commits into temporary worktrees and runs the same
command in each, alternating which goes first, with this interpreter and its
installed packages (so only the tests and the template differ). `--full` times
the whole suite as well as the fast tier. Prints a Markdown table of medians
and the pass/fail counts pytest reported.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIERS = {"fast tier (-m 'not slow')": ["-m", "not slow"], "full suite": []}


def worktree(commit: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--quiet", "--detach", str(into), commit],
        check=True,
    )
    return into


def run_suite(checkout: Path, args: list[str], home: Path) -> tuple[float, str]:
    """Seconds the suite took and pytest's closing line; the checkout's own pytest config."""
    env = os.environ | {
        "MLOPS_LADDER_HOME": str(home),
        # The checkout's sources and template, not the installed editable copy.
        "PYTHONPATH": str(checkout / "src"),
    }
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - start
    summary = [
        line for line in result.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)
    ]
    return elapsed, (summary[-1].strip("= ") if summary else f"exit {result.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare HEAD with")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="also time the whole suite")
    options = parser.parse_args()
    tiers = dict(list(TIERS.items())[: 2 if options.full else 1])
    times: dict[tuple[str, str], list[float]] = {}
    closing: dict[tuple[str, str], str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        checkouts = {
            "base": worktree(options.base, Path(tmp, "base")),
            "HEAD": worktree("HEAD", Path(tmp, "head")),
        }
        try:
            for number in range(options.rounds):
                order = list(checkouts.items())
                if number % 2:
                    order.reverse()
                for tier, args in tiers.items():
                    for name, checkout in order:
                        home = Path(tmp, f"home-{name}-{number}")
                        elapsed, line = run_suite(checkout, args, home)
                        times.setdefault((tier, name), []).append(elapsed)
                        closing[(tier, name)] = line
        finally:
            for checkout in checkouts.values():
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(checkout)],
                    check=False,
                )
    print(f"| tier | base ({options.base}) | HEAD | HEAD / base |")
    print("| --- | --- | --- | --- |")
    for tier in tiers:
        base = statistics.median(times[(tier, "base")])
        head = statistics.median(times[(tier, "HEAD")])
        print(f"| {tier} | {base:.0f} s | {head:.0f} s | {head / base:.2f} |")
    print()
    for (tier, name), line in closing.items():
        print(f"- {tier}, {name}: {line}")


if __name__ == "__main__":
    main()
