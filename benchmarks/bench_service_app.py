"""The service's own CPU per request, without a server or a client (issue 10).

Run from the repository root, on projects bench_service.py prepared:

    .venv/bin/python benchmarks/bench_service_app.py \
        before=/tmp/perf/before/level3 after=/tmp/perf/after/level3 --rounds 5

Each project's ASGI app (`create_app`, its lifespan run, so the models load
and the log writer thread runs) is called directly in a fresh process of the
project's own environment, with a POST /predict of 1 and of 100 rows of the
demo data. A round times 1,000 calls per size by the process's CPU clock
(threads included, so the log writer counts); the projects take turns, round
by round, so they share the machine's load. The table gives the median and
the best round in µs per request, and the compiled model's own time per call
for reference: what is left is the service's own cost, minus the HTTP server's
(uvicorn parsing the request, which bench_service.py's figures include).
"""

import argparse
import json
import statistics
import subprocess
from pathlib import Path

from generated import ENV

PACKAGE = "bench_project"
CALLS = 1000
SIZES = (1, 100)
ROUND = f"""
import asyncio, json, os, sys, time
import orjson
from pathlib import Path
from {PACKAGE}.data import load_demo, split_features
from {PACKAGE}.service import create_app

ROWS = split_features(load_demo().head(100))[0].to_dict("records")
app = create_app(Path.cwd())


async def call(scope, body):
    async def receive():
        return {{"type": "http.request", "body": body, "more_body": False}}

    status = []

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    assert status == [200], status


async def main():
    found = {{}}
    async with app.router.lifespan_context(app):
        service = app.state.service
        scorer = next(iter(service.models.predictors.values()))
        for size in {SIZES}:
            body = orjson.dumps({{"rows": ROWS[:size]}})
            headers = [(b"content-type", b"application/json"),
                       (b"content-length", str(len(body)).encode())]
            scope = {{"type": "http", "asgi": {{"version": "3.0"}}, "http_version": "1.1",
                      "method": "POST", "scheme": "http", "path": "/predict",
                      "raw_path": b"/predict", "root_path": "", "query_string": b"",
                      "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 9),
                      "headers": headers}}
            for _ in range(200):  # warm up
                await call(scope, body)
            started = time.process_time()
            for _ in range({CALLS}):
                await call(scope, body)
            request = (time.process_time() - started) / {CALLS}
            matrix = __import__("numpy").asarray([[row[name] for name in service.models.features]
                                                  for row in ROWS[:size]], dtype=float)
            started = time.process_time()
            for _ in range({CALLS}):
                scorer.predict(matrix)
            found[size] = [request * 1e6, (time.process_time() - started) / {CALLS} * 1e6]
    print(json.dumps(found))


asyncio.run(main())
"""


def one_round(project: Path) -> dict[int, list[float]]:
    done = subprocess.run(
        [str(project / ".venv/bin/python"), "-c", ROUND],
        cwd=project,
        env=ENV | {"PYTHONPATH": str(project / "src"), "AB_LOG": "/dev/null"},
        capture_output=True,
        text=True,
        check=True,
    )
    return {int(size): times for size, times in json.loads(done.stdout.splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="+", help="label=path of a prepared project")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    projects = dict(item.split("=", 1) for item in args.projects)
    samples: dict[str, list[dict[int, list[float]]]] = {label: [] for label in projects}
    for number in range(args.rounds):
        labels = list(projects)
        shift = number % len(labels)
        for label in labels[shift:] + labels[:shift]:
            samples[label].append(one_round(Path(projects[label]).resolve()))
    print(f"\nCPU per POST /predict, in-process, {args.rounds} rounds of {CALLS} calls (µs):\n")
    print("| project | rows | request: median (best) | the model's predict | the rest |")
    print("| --- | --- | --- | --- | --- |")
    for label, rounds in samples.items():
        for size in SIZES:
            requests = [found[size][0] for found in rounds]
            model = statistics.median(found[size][1] for found in rounds)
            median = statistics.median(requests)
            print(
                f"| {label} | {size} | {median:.0f} ({min(requests):.0f}) "
                f"| {model:.0f} | {median - model:.0f} |"
            )


if __name__ == "__main__":
    main()
