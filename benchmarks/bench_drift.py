"""Drift at the limit: the level-4 drift check against a numpy floor and Evidently (issue 10).

Run from the repository root with the package installed:

    .venv/bin/python benchmarks/bench_drift.py --repeats 3 [--evidently /path/to/python]
    .venv/bin/python benchmarks/bench_drift.py --project DIR --repeats 3   # an installed project

It generates a level-4 project (`mlops-ladder new --no-lock`, `make install`)
unless --project names one. Each measurement runs in a fresh Python process
of that project's environment, on 30 normal features of which 8 are shifted
(seeded), at 5,000 reference / 100,000 current rows and 100,000 / 1,000,000:

- import: the time to import the drift module (a process that imports only it);
- ours: `drift.check` on two DataFrames, with the default settings (10 bins);
- floor: plain numpy on the same bins: quantile edges, counts by searchsorted
  and bincount, PSI, nothing else;
- Evidently: `Report([DataDriftPreset()]).run(current, reference)`, in the
  environment of --evidently (Evidently 0.7 needs pandas < 3, so its own).

Compute time is the best of --repeats; peak memory is tracemalloc's peak during
the call (numpy reports its arrays to tracemalloc), measured in a separate run.
Then `make monitor`'s reading of the log: `recent_inputs` for its window of
5,000 rows from prediction logs of 10 MB and 200 MB.
"""

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from generated import BIN, ENV, run

PACKAGE = "bench_project"
SIZES = ((5_000, 100_000), (100_000, 1_000_000))
DATA = """
import numpy as np, pandas as pd
def data(n_ref, n_cur):
    rng = np.random.default_rng(7)
    names = [f"feature_{i:02}" for i in range(30)]
    reference = rng.normal(size=(n_ref, 30))
    current = rng.normal(size=(n_cur, 30))
    current[:, :8] = current[:, :8] * 1.5 + 1.0
    return pd.DataFrame(reference, columns=names), pd.DataFrame(current, columns=names)
"""
MEASURE = """
import json, sys, time, tracemalloc
def measure(function, repeats):
    best = min(_timed(function) for _ in range(repeats))
    tracemalloc.start()
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak
def _timed(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started
"""
OURS = f"""
from {PACKAGE}.drift import MonitorSettings, check
settings = MonitorSettings(0.2, 0.25, 0.0, 1, 10**9, 10, 0.0)
reference, current = data(N_REF, N_CUR)
result = check(reference, current, settings)
assert result.fired and sum(f.drifted for f in result.features) == 8, result.reason
seconds, peak = measure(lambda: check(reference, current, settings), REPEATS)
print(json.dumps({{"seconds": seconds, "peak": peak,
                  "psi": sorted(round(f.psi, 6) for f in result.features)}}))
"""
FLOOR = """
def floor(reference, current, bins=10):
    found = []
    ref, cur = reference.to_numpy(), current.to_numpy()
    for column in range(ref.shape[1]):
        edges = np.unique(np.quantile(ref[:, column], np.linspace(0, 1, bins + 1)[1:-1]))
        counts = [np.bincount(np.searchsorted(edges, values[:, column]), minlength=len(edges) + 1)
                  for values in (ref, cur)]
        expected, actual = (np.clip(c / c.sum(), 1e-4, None) for c in counts)
        found.append(float(np.sum((actual - expected) * np.log(actual / expected))))
    return found
reference, current = data(N_REF, N_CUR)
psi = floor(reference, current)
seconds, peak = measure(lambda: floor(reference, current), REPEATS)
print(json.dumps({"seconds": seconds, "peak": peak, "psi": sorted(round(p, 6) for p in psi)}))
"""
EVIDENTLY = """
from evidently import Report
from evidently.presets import DataDriftPreset
reference, current = data(N_REF, N_CUR)
seconds, peak = measure(lambda: Report([DataDriftPreset()]).run(current, reference), 1)
print(json.dumps({"seconds": seconds, "peak": peak}))
"""
IMPORT = f"""
import time
started = time.perf_counter()
import {PACKAGE}.drift
import sys
print(time.perf_counter() - started, "mlflow" in sys.modules, "sklearn" in sys.modules)
"""
PANDAS = """
import time
started = time.perf_counter()
import numpy, pandas
print(time.perf_counter() - started)
"""
WINDOW = f"""
import sys, time
from pathlib import Path
from {PACKAGE}.predictions import recent_inputs
path = Path(sys.argv[1])
started = time.perf_counter()
frame = recent_inputs(path, 5000)
print(time.perf_counter() - started, len(frame))
"""


def python_run(python: str, code: str, cwd: Path, *args: str) -> str:
    """The last line `code` prints, run in `cwd` (a project: its package named in the code)."""
    package = next((cwd / "src").glob("*/drift.py")).parent.name
    command = [python, "-c", code.replace(PACKAGE, package), *args]
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    return done.stdout.strip().splitlines()[-1]


def prepare(dest: Path) -> Path:
    new = [str(BIN / "mlops-ladder"), "new", str(dest), "--level", "4", "--defaults"]
    run([*new, "--no-lock", "-d", "project_name=Bench Project"], dest.parent)
    run(["make", "install"], dest)
    return dest


def compute(python: str, body: str, project: Path, n_ref: int, n_cur: int, repeats: int) -> dict:
    code = DATA + MEASURE + f"N_REF, N_CUR, REPEATS = {n_ref}, {n_cur}, {repeats}\n" + body
    return json.loads(python_run(python, code, project))


def write_log(path: Path, megabytes: int) -> None:
    """A prediction log as the service writes it: 30 features, 10 rows a line."""
    names = [f"feature_{i:02}" for i in range(30)]
    line = {
        "time": "2026-12-01T00:00:00+00:00",
        "version": "1",
        "features": names,
        "inputs": [[0.123456789 * (i + j) for j in range(30)] for i in range(10)],
        "labels": [1] * 10,
        "probabilities": [0.5] * 10,
    }
    encoded = (json.dumps(line) + "\n").encode()
    with path.open("wb") as log:
        for _ in range(megabytes * 1_000_000 // len(encoded)):
            log.write(encoded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--project", type=Path, help="an installed level-4 project")
    parser.add_argument("--evidently", help="a Python with evidently installed")
    parser.add_argument("--evidently-max-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = (args.project or prepare(Path(tmp) / "level4")).resolve()
        python = str(project / ".venv/bin/python")
        imports = [python_run(python, IMPORT, project).split() for _ in range(5)]
        seconds = sorted(float(found[0]) for found in imports)
        pandas = sorted(float(python_run(python, PANDAS, project)) for _ in range(5))
        print(f"Importing the drift module: median {seconds[2]:.3f} s of 5 fresh processes")
        print(f"(numpy and pandas alone: {pandas[2]:.3f} s);")
        print(f"mlflow imported: {imports[0][1]}, scikit-learn imported: {imports[0][2]}\n")
        print("| reference / current rows | ours | floor (numpy) | ours / floor | Evidently |")
        print("| --- | --- | --- | --- | --- |")
        for n_ref, n_cur in SIZES:
            ours = compute(python, OURS, project, n_ref, n_cur, args.repeats)
            floor = compute(python, FLOOR, project, n_ref, n_cur, args.repeats)
            assert ours["psi"] == floor["psi"], "the PSI differs from the floor's"
            evidently = "-"
            if args.evidently and n_cur <= args.evidently_max_rows:
                found = compute(args.evidently, EVIDENTLY, project, n_ref, n_cur, 1)
                evidently = f"{found['seconds']:.2f} s, {found['peak'] / 1e6:.0f} MB"
            print(
                f"| {n_ref:,} / {n_cur:,} | {ours['seconds']:.3f} s, {ours['peak'] / 1e6:.0f} MB "
                f"| {floor['seconds']:.3f} s, {floor['peak'] / 1e6:.0f} MB "
                f"| {ours['seconds'] / floor['seconds']:.2f}x time, "
                f"{ours['peak'] / floor['peak']:.2f}x memory | {evidently} |"
            )
        print("\n| prediction log | `recent_inputs(log, 5000)` |\n| --- | --- |")
        for megabytes in (10, 200):
            log = Path(tmp) / f"predictions-{megabytes}.jsonl"
            write_log(log, megabytes)
            found = [python_run(python, WINDOW, project, str(log)).split() for _ in range(3)]
            best = min(float(seconds) for seconds, _ in found)
            print(f"| {megabytes} MB | {best * 1000:.0f} ms ({found[0][1]} rows) |")
            log.unlink()
    print(f"\nMeasured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.")


if __name__ == "__main__":
    main()
