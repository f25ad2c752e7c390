"""`make train` as users run it (`dvc repro`), with and without the register stage.

Run from the repository root with the package installed:

    .venv/bin/python benchmarks/bench_make_train.py --baseline /tmp/base --repeat 5

At level 2 and up `make train` runs `dvc repro`: each stage in its own
interpreter. This script generates one project per checkout (this one and, with
`--baseline`, an older one: a `git worktree` of an older commit), installs and
commits it, then, round by round and alternating between the projects so that
machine noise hits all alike, times:

- tracked: `dvc repro -f`, every stage including register, from a store whose
  tables exist but which holds no model (so register logs and registers one);
- untracked: `dvc repro -f evaluate`, the same stages without register;
- each stage's command on its own, without DVC (register then finds the model
  registered above: the "registered nothing new" path of a retrain on
  unchanged inputs);
- what any tracked stage pays before it does anything, in a new interpreter of
  the project: `import mlflow` alone (all a client of a tracking server pays)
  and `import mlflow` plus opening the project's SQLite store with one query
  (what the register stage cannot avoid with a local store).

Prints medians, the tracked/untracked ratio per checkout, and the lowest ratio
each of those two fixed costs allows, as Markdown.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from bench_generated_tests import ROOT, generate
from generated import ENV

EMPTY_STORE = "empty-store"
# What a tracked stage pays before it does anything, as code for `python -c`.
FIXED_COSTS = {
    "import mlflow": "import mlflow",
    "import mlflow + open the store": "import pathlib, bench_project.tracking as t;"
    "t.connect(pathlib.Path.cwd()).search_experiments()",
}


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{done.stdout}\n{done.stderr}")
    return elapsed


def prepare(project: Path) -> None:
    """Commit the project, run the pipeline once (bytecode, caches) and keep an empty store."""
    for command in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(command, cwd=project, env=ENV, capture_output=True, check=True)
    commit = ["git", "commit", "-qm", "installed", "--allow-empty"]
    subprocess.run(commit, cwd=project, env=ENV, capture_output=True, check=True)
    timed(["uv", "run", "dvc", "repro", "-q"], project)
    shutil.rmtree(project / "mlruns")
    timed(["uv", "run", "python", "-c", FIXED_COSTS["import mlflow + open the store"]], project)
    shutil.copytree(project / "mlruns", project / EMPTY_STORE)


def stage_commands(project: Path) -> dict[str, list[str]]:
    """Each stage's command, as this project's dvc.yaml gives it."""
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    return {name: [".venv/bin/python", *stage["cmd"].split()[1:]] for name, stage in stages.items()}


def one_round(project: Path) -> dict[str, float]:
    shutil.rmtree(project / "mlruns")
    shutil.copytree(project / EMPTY_STORE, project / "mlruns")
    times = {"tracked": timed(["uv", "run", "dvc", "repro", "-f", "-q"], project)}
    times["untracked"] = timed(["uv", "run", "dvc", "repro", "-f", "-q", "evaluate"], project)
    # Each stage's process on its own; register finds the model registered above.
    for name, command in stage_commands(project).items():
        times[name] = timed(command, project)
    for name, code in FIXED_COSTS.items():
        times[name] = timed([".venv/bin/python", "-c", code], project)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="an older checkout to compare with")
    parser.add_argument("--level", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    sources = {"this checkout": ROOT}
    if options.baseline:
        sources = {"baseline": options.baseline.resolve(), **sources}
    with tempfile.TemporaryDirectory() as tmp:
        projects = {}
        for n, (name, source) in enumerate(sources.items()):
            dest = Path(tmp, f"project{n}")
            projects[name] = generate(source, options.level, dest, Path(tmp, f"home{n}"))
            prepare(projects[name])
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in projects}
        for n in range(options.repeat):
            order = list(projects) if n % 2 == 0 else list(reversed(projects))
            for name in order:
                rounds[name].append(one_round(projects[name]))
    print(f"Level {options.level}, demo data, medians of {options.repeat} alternating rounds.\n")
    medians = {
        name: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for name, results in rounds.items()
    }
    print("| checkout | `dvc repro -f` (tracked) | `dvc repro -f evaluate` | ratio |")
    print("| --- | --- | --- | --- |")
    for name, median in medians.items():
        tracked, untracked = median["tracked"], median["untracked"]
        print(f"| {name} | {tracked:.2f} s | {untracked:.2f} s | {tracked / untracked:.2f}x |")
    print("\n| checkout | fixed cost | its process | lowest ratio it allows |")
    print("| --- | --- | --- | --- |")
    for name, median in medians.items():
        for cost in FIXED_COSTS:
            floor = (median["untracked"] + median[cost]) / median["untracked"]
            print(f"| {name} | {cost} | {median[cost]:.2f} s | {floor:.2f}x |")
    skip = {"tracked", "untracked", *FIXED_COSTS}
    stages = [key for key in next(iter(medians.values())) if key not in skip]
    print("\n| checkout | " + " | ".join(f"`{stage}` stage process" for stage in stages) + " |")
    print("| --- |" + " --- |" * len(stages))
    for name, median in medians.items():
        print(f"| {name} | " + " | ".join(f"{median[stage]:.2f} s" for stage in stages) + " |")
    print(f"\nsources: {', '.join(f'{k}={v}' for k, v in sources.items())}", file=sys.stderr)


if __name__ == "__main__":
    main()
