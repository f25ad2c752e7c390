"""Service speed: level 3 and level 4 against `mlflow models serve` and a floor (issue 10).

Run from the repository root with the package installed:

    .venv/bin/python benchmarks/bench_service.py --rounds 5 --seconds 5

It generates a level-3 and a level-4 project from the embedded template
(`mlops-ladder new --no-lock`, then `make install train validate promote
bundle`), and starts, each with one worker on a loopback port:

- level 3 and level 4: the generated services (`uvicorn --factory`), and
  level 3 once more with SERVE_INFERENCE=sklearn (the scikit-learn path
  instead of the compiled one);
- mlflow: `mlflow models serve --env-manager local --workers 1` on the same
  bundled model;
- floor: a raw ASGI app (orjson, uvloop, httptools) that calls the same
  pipeline's predict_proba on a DataFrame built from the rows.

An asyncio client in this process keeps N connections alive and sends POST
requests back to back for `--seconds`, with 1-row and 100-row bodies and 1 and
8 connections. Rounds are interleaved (the order of the systems rotates), and
the tables give the median over rounds of: requests per second, p50 and p99
latency, and the server process's CPU time per request (from /proc). With
`--workdir DIR --reuse`, projects already prepared in DIR are used as they are.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench_serve import free_port
from generated import BIN, ENV, run

PACKAGE = "bench_project"
SIZES = (1, 100)
CLIENTS = (1, 8)
ROWS = (
    f"from {PACKAGE}.data import load_demo, split_features; import json;"
    "print(json.dumps(split_features(load_demo().head(100))[0].to_dict('records')))"
)
FLOOR = '''"""The floor: the least an HTTP service can do around the same pipeline."""
import gc
import os
from pathlib import Path

import orjson
import pandas as pd

from bench_project.bundle import load_variant, read_lineages

BUNDLE = Path(os.environ["SERVING_DIR"])
VARIANT = load_variant(BUNDLE, read_lineages(BUNDLE)[0])
MODEL, FEATURES = VARIANT.model, VARIANT.lineage.features
gc.freeze()


async def app(scope, receive, send):
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    rows = orjson.loads(body)["rows"]
    frame = pd.DataFrame([[row[name] for name in FEATURES] for row in rows], columns=FEATURES)
    scores = MODEL.predict_proba(frame)
    labels = MODEL.classes_[scores.argmax(axis=1)]
    answer = [{"label": int(a), "probability": float(b)} for a, b in zip(labels, scores[:, 1])]
    body = orjson.dumps({"predictions": answer})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
'''


FAST = ("--lifespan", "off", "--loop", "uvloop", "--http", "httptools")


@dataclass
class System:
    name: str
    command: list[str]
    cwd: Path
    path: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    def body(self, rows: list[dict[str, float]]) -> bytes:
        if self.name == "mlflow":
            columns = list(rows[0])
            data = [[row[name] for name in columns] for row in rows]
            return json.dumps({"dataframe_split": {"columns": columns, "data": data}}).encode()
        return json.dumps({"rows": rows}).encode()

    def request(self, rows: list[dict[str, float]]) -> bytes:
        body = self.body(rows)
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


def prepare(level: int, dest: Path, reuse: bool) -> Path:
    if reuse and (dest / "models/serving/champion/lineage.json").is_file():
        return dest
    new = [str(BIN / "mlops-ladder"), "new", str(dest), "--level", str(level), "--defaults"]
    run([*new, "--no-lock", "-d", "project_name=Bench Project"], dest.parent)
    run(["make", "install", "train", "validate", "promote", "bundle"], dest)
    return dest


def ensure_orjson(project: Path) -> None:
    python = str(project / ".venv/bin/python")
    if subprocess.run([python, "-c", "import orjson"], capture_output=True).returncode:
        run(["uv", "pip", "install", "--quiet", "--python", python, "orjson"], project)


def systems(projects: dict[int, Path], workdir: Path) -> list[System]:
    def uvicorn(project: Path, target: str, *extra: str) -> list[str]:
        python = str(project / ".venv/bin/python")
        return [python, "-m", "uvicorn", target, "--log-level", "warning", *extra]

    three, four = projects[3], projects[4]
    (workdir / "floor_app.py").write_text(FLOOR)
    ensure_orjson(three)
    floor_env = ENV | {
        "SERVING_DIR": str(three / "models/serving"),
        "PYTHONPATH": str(workdir),
    }
    quiet = {"AB_LOG": os.devnull}  # the A/B log is part of the service; keep it, off the disk
    on_path = f"{three / '.venv/bin'}{os.pathsep}{ENV['PATH']}"  # it runs `uvicorn`
    mlflow = [str(three / ".venv/bin/mlflow"), "models", "serve", "--env-manager", "local"]
    mlflow += ["-m", str(three / "models/serving/champion/model"), "--workers", "1"]
    service = f"{PACKAGE}.service:create_app"
    return [
        System("level 3", uvicorn(three, service, "--factory"), three, "/predict", ENV | quiet),
        System(
            "level 3, scikit-learn path",
            uvicorn(three, service, "--factory"),
            three,
            "/predict",
            ENV | quiet | {"SERVE_INFERENCE": "sklearn"},
        ),
        System("level 4", uvicorn(four, service, "--factory"), four, "/predict", ENV | quiet),
        System("mlflow", mlflow, three, "/invocations", ENV | {"PATH": on_path}),
        System(
            "floor",
            uvicorn(three, "floor_app:app", *FAST),
            three,
            "/predict",
            floor_env,
        ),
    ]


def start(system: System) -> None:
    system.port = free_port()
    command = [*system.command, "--port", str(system.port)]
    if system.name == "mlflow":
        command += ["--host", "127.0.0.1"]
    system.process = subprocess.Popen(
        command, cwd=system.cwd, env=system.env, stdout=subprocess.DEVNULL
    )


async def wait_ready(system: System, rows: list[dict[str, float]]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            latencies = await load(system.port, system.request(rows[:1]), 1, 0.2)
            if latencies:
                return
        except (OSError, asyncio.IncompleteReadError, AssertionError):
            pass
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{system.name} did not answer")


async def client(port: int, request: bytes, stop: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
            lengths = [
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ]
            assert lengths, f"no Content-Length: {head[:300]!r}"
            length = lengths[0]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def load(port: int, request: bytes, clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    await asyncio.gather(*(client(port, request, stop, latencies) for _ in range(clients)))
    return latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants, from /proc."""
    total = 0.0
    pending = [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except (OSError, IndexError):
            continue
    return total


@dataclass
class Sample:
    per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float


def measure(system: System, request: bytes, clients: int, seconds: float) -> Sample:
    assert system.process is not None
    before = cpu_seconds(system.process.pid)
    latencies = asyncio.run(load(system.port, request, clients, seconds))
    cpu = cpu_seconds(system.process.pid) - before
    latencies.sort()
    return Sample(
        per_second=len(latencies) / seconds,
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
        cpu_ms=cpu / len(latencies) * 1000,
    )


def model_costs(project: Path, rows: list[dict[str, float]]) -> str:
    """In-process time of one predict call on each inference path, 1 and 100 rows."""
    script = f"""
import json, sys, timeit
from pathlib import Path
from {PACKAGE}.bundle import load_variant, read_lineages
from {PACKAGE} import inference
rows = json.loads(sys.stdin.read())
bundle = Path("models/serving")
variant = load_variant(bundle, read_lineages(bundle)[0])
paths = {{"compiled": inference.compile_model(variant.model, variant.lineage.features),
          "scikit-learn": inference.SklearnPredictor(variant.model, variant.lineage.features)}}
for size in (1, 100):
    matrix = inference.matrix(rows[:size], variant.lineage.features)
    for name, path in paths.items():
        if path is None:
            continue
        number = 2000
        seconds = min(timeit.repeat(lambda: path.predict(matrix), number=number, repeat=5))
        print(f"| {{size}} | {{name}} | {{seconds / number * 1e6:.0f}} µs |")
"""
    python = str(project / ".venv/bin/python")
    done = subprocess.run(
        [python, "-c", script],
        cwd=project,
        env=ENV,
        input=json.dumps(rows),
        capture_output=True,
        text=True,
    )
    return done.stdout or done.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0, help="per system, size and clients")
    parser.add_argument("--workdir", type=Path, help="where the projects go (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="use projects already in --workdir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = (args.workdir or Path(tmp)).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        projects = {
            level: prepare(level, workdir / f"level{level}", args.reuse) for level in (3, 4)
        }
        rows = json.loads(run([str(projects[3] / ".venv/bin/python"), "-c", ROWS], projects[3]))
        found = systems(projects, workdir)
        samples: dict[tuple[str, int, int], list[Sample]] = {}
        try:
            for system in found:
                start(system)
            for system in found:
                asyncio.run(wait_ready(system, rows))
                measure(system, system.request(rows[:1]), 1, 2.0)  # warm-up, not counted
            for round_number in range(args.rounds):
                shift = round_number % len(found)
                order = found[shift:] + found[:shift]
                for size in SIZES:
                    for clients in CLIENTS:
                        for system in order:
                            request = system.request(rows[:size])
                            sample = measure(system, request, clients, args.seconds)
                            samples.setdefault((system.name, size, clients), []).append(sample)
                print(f"round {round_number + 1} of {args.rounds} done", file=sys.stderr)
        finally:
            for system in found:
                if system.process is not None:
                    system.process.terminate()
                    system.process.wait(timeout=30)
        report(found, samples, args)
        print("\nOne predict call in-process (best of 5 x 2,000), level 3's champion:\n")
        print("| rows | path | time per call |\n| --- | --- | --- |")
        print(model_costs(projects[3], rows))


def median(samples: list[Sample], field: str) -> float:
    return statistics.median(getattr(sample, field) for sample in samples)


def report(found: list[System], samples: dict, args: argparse.Namespace) -> None:
    rounds = f"{args.rounds} interleaved rounds of {args.seconds:g} s"
    print(f"\nMedians over {rounds}, one worker each.\n")
    names = [system.name for system in found]
    columns = [f"{name} req/s (p50, p99 ms)" for name in names]
    print("| rows / clients | " + " | ".join(columns) + " |")
    print("| --- " * (len(names) + 1) + "|")
    for size in SIZES:
        for clients in CLIENTS:
            cells = [
                f"{median(found_, 'per_second'):.0f} ({median(found_, 'p50_ms'):.2f}, "
                f"{median(found_, 'p99_ms'):.2f})"
                for found_ in (samples[(name, size, clients)] for name in names)
            ]
            print(f"| {size} / {clients} | " + " | ".join(cells) + " |")
    print("\nServer CPU per request (ms), and ratios to level 3:\n")
    print(
        "| rows / clients | "
        + " | ".join(names)
        + " | level 3 / mlflow req/s | level 4 / level 3 CPU |"
    )
    print("| --- " * (len(names) + 3) + "|")
    for size in SIZES:
        for clients in CLIENTS:
            cpu = {name: median(samples[(name, size, clients)], "cpu_ms") for name in names}
            rate = {name: median(samples[(name, size, clients)], "per_second") for name in names}
            cells = [f"{cpu[name]:.3f}" for name in names]
            print(
                f"| {size} / {clients} | "
                + " | ".join(cells)
                + f" | {rate['level 3'] / rate['mlflow']:.1f}x"
                + f" | {cpu['level 4'] / cpu['level 3']:.2f} |"
            )


if __name__ == "__main__":
    main()
