"""Time `mlops-ladder new` against plain `copier copy` of the same template, and `cp -r`.

Run from the repository root with the package installed:

    .venv/bin/python benchmarks/bench_new.py --repeat 10

The three commands run interleaved, round by round, in one process tree, so
machine noise hits them alike. Prints a Markdown table of medians per level.
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


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def commands(level: int, src: str, tag: str, work: Path, n: int) -> dict[str, list[str]]:
    answers = ["-d", "project_name=Bench"]
    return {
        "mlops-ladder new": [
            str(BIN / "mlops-ladder"),
            "new",
            str(work / f"cli{n}"),
            "--level",
            str(level),
            "--defaults",
            "--no-git",
            *answers,
        ],
        "copier copy": [
            str(BIN / "copier"),
            "copy",
            "--quiet",
            "--defaults",
            "-d",
            f"mlops_level={level}",
            *answers,
            "--vcs-ref",
            tag,
            src,
            str(work / f"copier{n}"),
        ],
        "cp -r (floor)": ["cp", "-r", str(work / "copier0"), str(work / f"cp{n}")],
    }


def bench_level(level: int, repeat: int, env: dict[str, str]) -> dict[str, float]:
    from mlops_ladder.embedded import ensure_template_repo

    src, tag = ensure_template_repo()
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for n in range(repeat + 1):  # round 0 warms caches and is not counted
            for name, command in commands(level, str(src), tag, work, n).items():
                seconds = timed(command, env)
                if n:
                    samples.setdefault(name, []).append(seconds)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--levels", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="bench-home-")
    os.environ["MLOPS_LADDER_HOME"] = home
    env = os.environ | {"MLOPS_LADDER_HOME": home}
    print(f"{args.repeat} rounds, medians, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print("| level | mlops-ladder new | copier copy | cp -r (floor) | CLI overhead |")
    print("| --- | --- | --- | --- | --- |")
    for level in args.levels:
        medians = bench_level(level, args.repeat, env)
        cli, copier, floor = medians.values()
        overhead = cli / copier - 1
        print(f"| {level} | {cli:.3f} s | {copier:.3f} s | {floor:.4f} s | {overhead:+.1%} |")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
