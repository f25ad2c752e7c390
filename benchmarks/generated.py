"""What the benchmarks that install generated projects share: their environment,
a command runner and a size measure."""

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
# Bytecode caching on, as on a user's machine; no tracking server from the shell.
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in {"PYTHONDONTWRITEBYTECODE", "MLFLOW_TRACKING_URI"}
} | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, check=True)
    return done.stdout


def size_mb(path: Path) -> float:
    total = sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6
