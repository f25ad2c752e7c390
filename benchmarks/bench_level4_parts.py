"""Where a 100-row request's CPU goes, part by part, in a level-4 service (issue 10).

Run from the repository root, on a level-4 project bench_service.py prepared:

    .venv/bin/python benchmarks/bench_level4_parts.py /tmp/svc/level4 --calls 2000

In a fresh process of the project's own environment, with its app started
(`create_app` and its lifespan, so the models are loaded), it times by the
process's CPU clock, per request of 100 demo rows:

- reading the body: `orjson.loads` of the rows as the contract has them
  (`{"rows": [{name: value, ...}, ...]}`), and, for reference, of the same
  numbers in columns (`{"columns": [...], "data": [[...], ...]}`);
- what level 4 adds after the answer: the metrics' `answered` hook, building
  and encoding the prediction-log line, and appending the lines to a log
  file (the log writer's `write_many`, in batches of 10, rolling over at
  50 MB as the service's log does, so the cost of dropping old files counts);
- the A/B record both levels write, for comparison.

Each figure is the best of 5 rounds of `--calls` calls (the write: of
`--calls` lines). Prints a Markdown table in µs per request.
"""

import argparse
import json
import subprocess
from pathlib import Path

from generated import ENV

PACKAGE = "bench_project"
SCRIPT = f"""
import asyncio, json, sys, tempfile, time
from pathlib import Path

import numpy as np
import orjson

from {PACKAGE} import jsonl
from {PACKAGE}.data import load_demo, split_features
from {PACKAGE}.prediction_log import prediction_record
from {PACKAGE}.service import Answer, create_app

CALLS = int(sys.argv[1])
ROWS = split_features(load_demo().head(100))[0].to_dict("records")
COLUMNS = list(ROWS[0])
BODY = orjson.dumps({{"rows": ROWS}})
SPLIT = orjson.dumps({{"columns": COLUMNS, "data": [[r[c] for c in COLUMNS] for r in ROWS]}})
app = create_app(Path.cwd())


def best(call, calls=CALLS):
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(calls):
            call()
        rounds.append((time.process_time() - start) / calls * 1e6)
    return min(rounds)


async def main():
    async with app.router.lifespan_context(app):
        models = app.state.service.models
        inputs = np.array([[row[name] for name in models.features] for row in ROWS])
        labels, probabilities = models.predictors["champion"].predict(inputs)
        lineage = models.variants["champion"].lineage

        def answer():
            return Answer("0" * 32, lineage, inputs, labels, probabilities, 1e-5, BODY)

        given = answer()
        given.record  # computed once per answer, as the A/B log does before level 4
        line = lambda: orjson.dumps(prediction_record(given), option=jsonl.OPTIONS)
        with tempfile.TemporaryDirectory() as folder:
            log = jsonl.JsonLinesLog(Path(folder, "predictions.jsonl"))
            records = [prediction_record(given)] * 10
            write = best(lambda: log.write_many(records), CALLS // 10) / 10
        parts = {{
            "orjson.loads, rows (the contract)": best(lambda: orjson.loads(BODY)),
            "orjson.loads, the same numbers in columns": best(lambda: orjson.loads(SPLIT)),
            "A/B record, built and encoded (levels 3 and 4)": best(
                lambda: orjson.dumps(answer().record, option=jsonl.OPTIONS)
            ),
            "level 4: metrics `answered` hook": best(
                lambda: app.state.metrics.answered(given)
            ),
            "level 4: prediction-log line, built and encoded": best(line),
            "level 4: the log writer appending it (encoding included)": write,
        }}
        print(json.dumps({{"line_bytes": len(line()), "parts": parts}}))


asyncio.run(main())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="a level-4 project bench_service.py made")
    parser.add_argument("--calls", type=int, default=2000)
    options = parser.parse_args()
    python = options.project / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", SCRIPT, str(options.calls)],
        cwd=options.project,
        env=ENV,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"the measurement failed:\n{done.stderr}")
    found = json.loads(done.stdout.splitlines()[-1])
    print(f"100 rows per request; one prediction-log line is {found['line_bytes']:,} bytes\n")
    print("| part | CPU per request |")
    print("| --- | --- |")
    for part, micros in found["parts"].items():
        print(f"| {part} | {micros:.0f} µs |")


if __name__ == "__main__":
    main()
