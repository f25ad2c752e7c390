"""Serving costs: level 4's prediction logging and metrics against the level-3 service.

Run from the repository root with the package installed:

    .venv/bin/python benchmarks/bench_serve.py --rounds 7 --requests 200

It generates a level-3 and a level-4 project from the embedded template,
installs both with `uv sync`, trains, promotes and bundles the same model in
each, and starts both services (uvicorn, one worker) on loopback ports. Then,
round by round, alternating which level goes first so machine noise hits both
alike, one client on a kept-alive connection sends `--requests` sequential
POST /predict requests of 1 row and of 100 rows to each. It reports the median
over rounds of each round's median latency and throughput, the level-4
overhead, and the size of both environments.
"""

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from generated import BIN, ENV, run, size_mb

ROWS = (
    "from bench_project.data import load_demo, split_features; import json;"
    "print(json.dumps(split_features(load_demo().head(100))[0].to_dict('records')))"
)


def prepare(level: int, dest: Path) -> Path:
    new = [str(BIN / "mlops-ladder"), "new", str(dest), "--level", str(level), "--defaults"]
    run([*new, "-d", "project_name=Bench Project"], dest.parent)
    run(["uv", "sync", "--quiet"], dest)
    for command in ("train", "promote", "bundle"):
        run([str(dest / ".venv/bin" / f"bench-project-{command}")], dest)
    return dest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(project: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [str(project / ".venv/bin/python"), "-m", "uvicorn", "--factory"]
    command += ["bench_project.service:create_app", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=project, env=ENV)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ready")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"the service in {project} did not start")


def hammer(port: int, body: bytes, requests: int) -> list[float]:
    """Sequential requests on one kept-alive connection; seconds per request."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json"}
    seconds = []
    for _ in range(requests):
        started = time.perf_counter()
        connection.request("POST", "/predict", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        seconds.append(time.perf_counter() - started)
    connection.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200, help="requests per round and size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        projects = {level: prepare(level, Path(tmp) / f"level{level}") for level in (3, 4)}
        rows = json.loads(run([str(projects[3] / ".venv/bin/python"), "-c", ROWS], projects[3]))
        bodies = {size: json.dumps({"rows": rows[:size]}).encode() for size in (1, 100)}
        servers = {level: start(project) for level, project in projects.items()}
        latency: dict[tuple[int, int], list[float]] = {}
        try:
            for _, port in servers.values():  # warm-up, not counted
                hammer(port, bodies[1], 50)
            for round_number in range(args.rounds):
                order = (3, 4) if round_number % 2 == 0 else (4, 3)
                for size, body in bodies.items():
                    for level in order:
                        seconds = hammer(servers[level][1], body, args.requests)
                        latency.setdefault((level, size), []).append(statistics.median(seconds))
            logs = (projects[4] / "logs").glob("predictions.jsonl*")
            logged = sum(1 for path in logs for _ in path.open())
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=30)
        sizes = {level: size_mb(project / ".venv") for level, project in projects.items()}

    print(f"Median over {args.rounds} rounds of each round's median, {args.requests} requests.\n")
    header = ["rows per request", "level 3", "level 4", "level-4 overhead"]
    print("| " + " | ".join([*header, "level 3 req/s", "level 4 req/s"]) + " |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in bodies:
        three = statistics.median(latency[(3, size)])
        four = statistics.median(latency[(4, size)])
        print(
            f"| {size} | {three * 1000:.2f} ms | {four * 1000:.2f} ms | {four / three - 1:+.1%} "
            f"| {1 / three:.0f} | {1 / four:.0f} |"
        )
    print(
        f"\nLevel 4 kept {logged} requests with their inputs and outputs (two files, 50 MB each)."
    )
    print("\n| environment (.venv) | MB |\n| --- | --- |")
    for level, size in sizes.items():
        print(f"| level {level} | {size:.0f} |")


if __name__ == "__main__":
    main()
