"""Time `mlops-ladder climb` against raw `copier update`, and `fleet status` serial vs parallel.

Run from the repository root with the package installed:

    .venv/bin/python benchmarks/bench_climb.py --repeat 7 --fleet 50

Climb: the same committed project is copied twice per round and climbed one level
both ways, alternating which goes first, so machine noise hits both alike.
Fleet: one committed project copied --fleet times, then `fleet status` over all
of them with one worker and with the default number, alternating round by round.
Prints Markdown tables of medians.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def make_project(work: Path, level: int, env: dict[str, str], name: str) -> Path:
    base = work / name
    run(
        [
            str(BIN / "mlops-ladder"),
            "new",
            str(base),
            "--level",
            str(level),
            "--defaults",
            "-d",
            "project_name=Bench",
        ],
        work,
        env,
    )
    return base


def bench_climb(work: Path, level: int, repeat: int, env: dict[str, str]) -> tuple[float, float]:
    base = make_project(work, level, env, f"climb-base{level}")
    commands = {
        "cli": [str(BIN / "mlops-ladder"), "climb"],
        "copier": [
            str(BIN / "copier"),
            "update",
            "--quiet",
            "--defaults",
            "-d",
            f"mlops_level={level + 1}",
            "--vcs-ref=:current:",
        ],
    }
    samples: dict[str, list[float]] = {"cli": [], "copier": []}
    for n in range(repeat + 1):  # round 0 warms caches and is not counted
        order = ["cli", "copier"] if n % 2 else ["copier", "cli"]
        for name in order:
            project = work / f"{name}-{level}-{n}"
            shutil.copytree(base, project, symlinks=True)
            seconds = run(commands[name], project, env)
            if n:
                samples[name].append(seconds)
            shutil.rmtree(project)
    return statistics.median(samples["cli"]), statistics.median(samples["copier"])


def bench_fleet(work: Path, count: int, repeat: int, env: dict[str, str]) -> dict[str, float]:
    base = make_project(work, 1, env, "fleet-base")
    paths = []
    for n in range(count):
        shutil.copytree(base, work / f"fleet{n}", symlinks=True)
        paths.append(str(work / f"fleet{n}"))
    status = [str(BIN / "mlops-ladder"), "fleet", "status", "--json"]
    samples: dict[str, list[float]] = {"serial (--jobs 1)": [], "parallel (default, 8)": []}
    for n in range(repeat + 1):
        for name, jobs in [("serial (--jobs 1)", "1"), ("parallel (default, 8)", "8")]:
            seconds = run([*status, "--jobs", jobs, *paths], work, env)
            if n:
                samples[name].append(seconds)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--fleet", type=int, default=50, help="projects for fleet status (0: skip)")
    parser.add_argument("--levels", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = os.environ | {"MLOPS_LADDER_HOME": str(work / "home")}
        print(f"{args.repeat} rounds, medians, {os.cpu_count()} cores\n")
        print("| climb | mlops-ladder climb | copier update | CLI overhead |")
        print("| --- | --- | --- | --- |")
        for level in args.levels:
            cli, copier = bench_climb(work, level, args.repeat, env)
            overhead = cli / copier - 1
            print(f"| {level} -> {level + 1} | {cli:.3f} s | {copier:.3f} s | {overhead:+.1%} |")
        if not args.fleet:
            return
        fleet = bench_fleet(work, args.fleet, args.repeat, env)
        print(f"\n| fleet status over {args.fleet} projects | seconds |\n| --- | --- |")
        for name, seconds in fleet.items():
            print(f"| {name} | {seconds:.3f} |")
        serial, parallel = fleet.values()
        print(f"| speed-up | {serial / parallel:.2f}x |")


if __name__ == "__main__":
    main()
