"""Run the mlops-ladder console script many times without paying its start-up each time.

`run_cli` in conftest.py starts this once per test worker. It imports the CLI and
copier, which a rendering command would import anyway (about a second of CPU per
command), then serves requests, one JSON line each on stdin. For each request it
forks a child that does exactly what the console script does, in the request's
folder and environment, with stdin from /dev/null and stdout and stderr written to
the request's files, and it answers with the child's exit code. So each command is
still a process of its own, with its own folder, environment, file descriptors,
signals and exit code; only the imports are shared.

`MLOPS_LADDER_TEST_CLI=exec` (the default under CI) starts the console script afresh
for every command instead.
"""

import atexit
import json
import os
import sys
import traceback

import copier  # noqa: F401 (imported once here rather than in every command)

from mlops_ladder.cli import main


def _exit_code(code: object) -> int:
    """What the interpreter makes of `sys.exit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _run_command(request: dict) -> int:
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    streams = [(os.devnull, os.O_RDONLY), (request["stdout"], os.O_WRONLY)]
    streams.append((request["stderr"], os.O_WRONLY))
    for fd, (path, flags) in enumerate(streams):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False, errors="backslashreplace", buffering=1)  # noqa: SIM115
    sys.argv = [request["script"], *request["args"]]
    try:
        code = _exit_code(main())
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # the handlers a fresh interpreter would run on exit
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _serve_one(request: dict) -> int:
    child = os.fork()
    if child == 0:
        code = 1
        try:
            code = _run_command(request)
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


def serve() -> None:
    for line in sys.stdin:
        returncode = _serve_one(json.loads(line))
        sys.stdout.write(json.dumps({"returncode": returncode}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
