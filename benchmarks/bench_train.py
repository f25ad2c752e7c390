"""Level 2 costs: `make train` split into phases, tracking overhead, environment size.

Run from the repository root with the package installed:

    .venv/bin/python benchmarks/bench_train.py --repeat 7

It generates a level-1 and a level-2 project from the embedded template,
installs both with `uv sync` (from uv's cache after the first time), then:

1. times each phase of the pipeline inside the level-2 environment: imports,
   data (prepare), fit (train), evaluation and reports, tracking (MLflow run,
   model logging, registration, alias);
2. times the whole training command with tracking on and off, alternating
   round by round so machine noise hits both alike, and reports the ratio;
3. measures the size of both environments on disk.
"""

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from generated import BIN, run, size_mb

# Runs inside the level-2 project's interpreter: one pipeline run, step by step.
PHASES = """
import json, shutil, sys, time
from pathlib import Path
start = time.perf_counter()
from bench_project import pipeline
from bench_project.params import load_params
imported = time.perf_counter()
root = Path()
params = load_params()
pipeline.prepare(root, params)
prepared = time.perf_counter()
pipeline.train(root, params)
trained = time.perf_counter()
pipeline.evaluate(root, params)
evaluated = time.perf_counter()
from bench_project import tracking  # MLflow's import counts as tracking's
tracking.register(root, params)
registered = time.perf_counter()
print(json.dumps({
    "import": imported - start,
    "data": prepared - imported,
    "fit": trained - prepared,
    "evaluate and reports": evaluated - trained,
    "tracking (register)": registered - evaluated,
}))
"""
# The store a tracked run starts from: tables made, no model registered yet, so each
# tracked run logs and registers a model as it does after a change.
EMPTY_STORE = "empty-store"


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    run(command, cwd)
    return time.perf_counter() - start


def generate(level: int, dest: Path) -> Path:
    run(
        [
            str(BIN / "mlops-ladder"),
            "new",
            str(dest),
            "--level",
            str(level),
            "--defaults",
            "-d",
            "project_name=Bench Project",
        ],
        dest.parent,
    )
    run(["uv", "sync", "--quiet"], dest)
    return dest


def make_csv(project: Path, rows: int) -> None:
    """A synthetic CSV in data/raw/ (30 features), which replaces the demo data."""
    script = (
        "import pandas as pd; from sklearn.datasets import make_classification;"
        f"x, y = make_classification(n_samples={rows}, n_features=30, random_state=0);"
        "frame = pd.DataFrame(x, columns=[f'f{i}' for i in range(30)]).assign(target=y);"
        "frame.to_csv('data/raw/synthetic.csv', index=False)"
    )
    run([str(project / ".venv/bin/python"), "-c", script], project)


def fresh_store(project: Path) -> None:
    """Put back the empty store, so that the next tracked run registers a new version."""
    shutil.rmtree(project / "mlruns", ignore_errors=True)
    shutil.copytree(project / EMPTY_STORE, project / "mlruns")


def measure(project: Path, repeat: int) -> dict[str, object]:
    python = str(project / ".venv/bin/python")
    train = [str(project / ".venv/bin/bench-project"), "train"]
    run([*train, "--no-track"], project)  # warm-up: bytecode and the page cache
    shutil.rmtree(project / "mlruns", ignore_errors=True)
    run(
        [
            python,
            "-c",
            "from pathlib import Path; from bench_project import tracking;"
            "tracking.connect(Path.cwd()).search_experiments()",
        ],
        project,
    )
    shutil.rmtree(project / EMPTY_STORE, ignore_errors=True)
    shutil.copytree(project / "mlruns", project / EMPTY_STORE)
    phases = []
    for _ in range(repeat):
        fresh_store(project)
        phases.append(json.loads(run([python, "-c", PHASES], project).splitlines()[-1]))
    tracked, untracked = [], []
    for _ in range(repeat):
        fresh_store(project)
        tracked.append(timed(train, project))
        untracked.append(timed([*train, "--no-track"], project))
    return {
        "phases": {name: statistics.median(p[name] for p in phases) for name in phases[0]},
        "on": statistics.median(tracked),
        "off": statistics.median(untracked),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--rows", type=int, default=200_000, help="rows of the larger synthetic data set"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        level1 = generate(1, work / "level1")
        level2 = generate(2, work / "level2")
        python = str(level2 / ".venv/bin/python")
        import_mlflow = [timed([python, "-c", "import mlflow"], level2) for _ in range(args.repeat)]
        import_sklearn = [
            timed([python, "-c", "import sklearn.linear_model, pandas"], level2)
            for _ in range(args.repeat)
        ]
        results = {"demo data (569 rows)": measure(level2, args.repeat)}
        make_csv(level2, args.rows)
        results[f"synthetic data ({args.rows:,} rows)"] = measure(level2, args.repeat)
        sizes = {n: size_mb(p / ".venv") for n, p in {"level 1": level1, "level 2": level2}.items()}

    print(f"Medians of {args.repeat} runs.\n")
    names = list(results)
    print("| phase of one pipeline run | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for phase in results[names[0]]["phases"]:
        cells = [f"{results[n]['phases'][phase]:.3f} s" for n in names]
        print(f"| {phase} | " + " | ".join(cells) + " |")
    print("\n| whole `bench-project train` process | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    print("| tracking on | " + " | ".join(f"{results[n]['on']:.3f} s" for n in names) + " |")
    print(
        "| tracking off (`--no-track`) | "
        + " | ".join(f"{results[n]['off']:.3f} s" for n in names)
        + " |"
    )
    ratios = [f"{results[n]['on'] / results[n]['off']:.2f}x" for n in names]
    print("| ratio on/off | " + " | ".join(ratios) + " |")
    print("\n| a new interpreter importing | seconds |\n| --- | --- |")
    print(f"| mlflow | {statistics.median(import_mlflow):.3f} |")
    print(f"| sklearn.linear_model, pandas | {statistics.median(import_sklearn):.3f} |")
    print("\n| environment (.venv) | MB |\n| --- | --- |")
    for name, size in sizes.items():
        print(f"| {name} | {size:.0f} |")


if __name__ == "__main__":
    main()
