"""Wall time of a generated project's own test targets: test, coverage and integration.

Run from the repository root with the package installed:

    .venv/bin/python benchmarks/bench_generated_tests.py --repeat 3
    .venv/bin/python benchmarks/bench_generated_tests.py --source /tmp/base --levels 2 3 4
    .venv/bin/python benchmarks/bench_generated_tests.py --baseline /tmp/base --levels 3 4

For each level it generates a project from the embedded template of `--source`
(a checkout of this repository, by default this one: a `git worktree` of an
older commit measures "before"), installs it once with `make install`, runs
each target once to warm up bytecode and caches, then takes the median of
`--repeat` timed runs. A target the level does not have is reported as "-".
Prints a Markdown table with the tests each target ran (pytest's closing line).

With `--baseline`, a second project is generated from that checkout and the
two take turns, run by run, in alternating order, so that both see the same
machine: the table gives both medians side by side.
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

from generated import ENV

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("test", "coverage", "integration")


def generate(source: Path, level: int, dest: Path, home: Path) -> Path:
    # The checkout's sources and template, not the installed editable copy.
    env = ENV | {"PYTHONPATH": str(source / "src"), "MLOPS_LADDER_HOME": str(home)}
    command = [sys.executable, "-m", "mlops_ladder", "new", str(dest), "--level", str(level)]
    command += ["--defaults", "-d", "project_name=Bench Project"]
    subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    subprocess.run(["make", "install"], cwd=dest, env=ENV, capture_output=True, check=True)
    return dest


def has_target(project: Path, target: str) -> bool:
    return re.search(rf"^{target}:", (project / "Makefile").read_text(), re.M) is not None


def timed(project: Path, target: str) -> tuple[float, str]:
    """Seconds `make <target>` took and pytest's closing line; fails loudly on a failure."""
    start = time.perf_counter()
    done = subprocess.run(["make", target], cwd=project, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"make {target} failed in {project}:\n{done.stdout}\n{done.stderr}")
    lines = [ln for ln in done.stdout.splitlines() if re.search(r"\d+ (passed|failed)", ln)]
    return elapsed, (lines[-1].strip("= ") if lines else "")


def side_by_side(options: argparse.Namespace, tmp: str) -> None:
    """Baseline and source projects per level, their runs interleaved."""
    print("| level | target | baseline | this checkout | ratio | tests (baseline / this) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for level in options.levels:
        projects = [
            generate(source.resolve(), level, Path(tmp, f"{name}{level}"), Path(tmp, name))
            for name, source in (("base", options.baseline), ("this", options.source))
        ]
        for target in TARGETS:
            if not all(has_target(project, target) for project in projects):
                print(f"| {level} | `make {target}` | - | - | - | - |", flush=True)
                continue
            runs: list[list[tuple[float, str]]] = [[], []]
            for project in projects:
                timed(project, target)  # warm-up
            for turn in range(options.repeat):
                for index in (0, 1) if turn % 2 == 0 else (1, 0):
                    runs[index].append(timed(projects[index], target))
            base, this = (statistics.median(seconds for seconds, _ in run) for run in runs)
            print(
                f"| {level} | `make {target}` | {base:.1f} s | {this:.1f} s | {this / base:.2f} "
                f"| {runs[0][-1][1]} / {runs[1][-1][1]} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT, help="checkout to generate from")
    parser.add_argument("--baseline", type=Path, help="checkout to compare with, side by side")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    if options.baseline is not None:
        print(f"baseline: {options.baseline.resolve()}, {os.cpu_count()} cores", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            side_by_side(options, tmp)
        return
    print(f"source: {options.source.resolve()}, {os.cpu_count()} cores", file=sys.stderr)
    print("| level | target | median wall time | runs | tests |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for level in options.levels:
            project = generate(
                options.source.resolve(), level, Path(tmp, f"level{level}"), Path(tmp, "home")
            )
            for target in TARGETS:
                if not has_target(project, target):
                    print(f"| {level} | `make {target}` | - | - | - |", flush=True)
                    continue
                timed(project, target)  # warm-up
                runs = [timed(project, target) for _ in range(options.repeat)]
                median = statistics.median(seconds for seconds, _ in runs)
                spread = ", ".join(f"{seconds:.1f}" for seconds, _ in runs)
                print(
                    f"| {level} | `make {target}` | {median:.1f} s | {spread} | {runs[-1][1]} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
