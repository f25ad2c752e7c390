"""Time `mlops-ladder assess` on a level-4 project and on a repository with 10,000 files.

Run from the repository root with the package installed:

    .venv/bin/python benchmarks/bench_assess.py --repeat 7 --files 10000

Both trees are assessed in-process (the command's own start-up is measured once,
separately), next to two baselines measured in the same rounds on the same tree:
listing every file name (the floor: assess walks the tree once) and reading every
file (what a naive scan would cost). The large repository is the level-4 project
with --files more files: nine tenths small CSV files under data/raw/, one tenth
Python modules under analysis/ (walked before src/, so code checks read them).
Prints a Markdown table of medians and how many files assess read.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlops_ladder.assess import assess
from mlops_ladder.catalogue import load_catalogue

BIN = Path(sys.executable).parent


def list_names(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


def read_all(root: Path) -> int:
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            total += len((Path(folder) / name).read_bytes())
    return total


def timed(action, *args) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start


def make_tree(work: Path, files: int) -> tuple[Path, Path]:
    small = work / "level4"
    new = [str(BIN / "mlops-ladder"), "new", str(small), "--level", "4", "--defaults"]
    subprocess.run([*new, "--no-lock", "--no-git", "-d", "project_name=Bench"], check=True)
    large = work / "large"
    subprocess.run(["cp", "-r", str(small), str(large)], check=True)
    data = large / "data" / "raw"
    for n in range(files - files // 10):
        (data / f"part-{n:05}.csv").write_text("a,b\n1,2\n")
    code = large / "analysis" / "modules"  # walked before src/: code checks read them
    code.mkdir(parents=True)
    for n in range(files // 10):
        (code / f"module_{n:04}.py").write_text(f"def f{n}(x):\n    return x + {n}\n")
    return small, large


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--files", type=int, default=10000)
    args = parser.parse_args()
    catalogue = load_catalogue()
    with tempfile.TemporaryDirectory() as tmp:
        small, large = make_tree(Path(tmp), args.files)
        rows = []
        for tree in (small, large):
            times = {"assess": [], "list names": [], "read every file": []}
            result = assess(tree, catalogue)
            for _ in range(args.repeat + 1):  # round 0 warms the caches
                times["assess"].append(timed(assess, tree, catalogue))
                times["list names"].append(timed(list_names, tree))
                times["read every file"].append(timed(read_all, tree))
            medians = {key: statistics.median(values[1:]) for key, values in times.items()}
            rows.append((tree.name, result.files_seen, result.files_read, medians))
        start = time.perf_counter()
        subprocess.run([str(BIN / "mlops-ladder"), "assess", str(large)], capture_output=True)
        command = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([str(BIN / "mlops-ladder"), "--version"], capture_output=True)
        startup = time.perf_counter() - start
    print("| tree | files | files assess read | assess | list names | read every file |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, seen, read, medians in rows:
        print(
            f"| {name} | {seen} | {read} | {medians['assess']:.3f} s | "
            f"{medians['list names']:.3f} s | {medians['read every file']:.3f} s |"
        )
    print(
        f"\n`mlops-ladder assess` on the large tree, as a command: {command:.2f} s "
        f"(`mlops-ladder --version`, start-up alone: {startup:.2f} s)"
    )


if __name__ == "__main__":
    main()
