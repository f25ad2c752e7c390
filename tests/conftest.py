"""Shared fixtures: one tagged template repository and one render per level, per session."""

import ast
import fcntl
import hashlib
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from copier import run_copy
from hypothesis import HealthCheck, settings

# Few examples in the fast loop on a laptop, more in CI (CI=true) or when asked.
_SLOW_FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile(
    "dev", max_examples=2, deadline=None, suppress_health_check=_SLOW_FIXTURES
)
settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=_SLOW_FIXTURES
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

ROOT = Path(__file__).resolve().parents[1]
# xdist hands whole files to the two workers in collection order (--dist loadfile,
# --no-loadscope-reorder in pyproject.toml). The longest files go first, so neither
# worker starts a long file while the other is finishing: the files that install and
# run generated projects, then the fast tier's by `--durations=0`. Others keep their order.
LONGEST_FIRST = (
    "test_generated.py",
    "test_day_two.py",
    "test_climb_steps.py",
    "test_training_path.py",
    "test_climb.py",
    "test_cli.py",
    "test_gitlab.py",
    "test_property.py",
    "test_render.py",
    "test_adopt.py",
    "test_validators.py",
    "test_update.py",
    "test_hostile_answers.py",
)
ANSWERS = {
    "project_name": "Demo Model",
    "author_name": "Test Author",
    "author_email": "test@example.com",
    "copyright_year": "2026",
}
CLI = Path(sys.executable).with_name("mlops-ladder")


RAM = Path("/dev/shm")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The fast tier keeps its temporary files in RAM when the machine has a tmpfs.

    A fast-tier run writes and deletes some 20,000 files (renders, copies, git
    repositories); on a disk that discards freed blocks that alone cost 20 s of
    the run. The full suite stays on disk: its installed environments are gigabytes.
    `--basetemp` chooses the place yourself; MLOPS_LADDER_TEST_RAM=0 turns this off.
    """
    wanted = os.environ.get("MLOPS_LADDER_TEST_RAM", "1") != "0"
    fast_tier = config.option.markexpr == "not slow"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not (wanted and fast_tier and not worker and config.option.basetemp is None):
        return
    if not (RAM.is_dir() and os.access(RAM, os.W_OK) and shutil.disk_usage(RAM).free > 2**31):
        return
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
    base = RAM / f"mlops-ladder-tests-{os.getuid()}-{checkout}"  # one per clone
    config.option.basetemp = str(base / "run")  # pytest empties it at the start of a run
    scratch = base / "tmp"  # for the temporary folders of copier and the CLI under test
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    os.environ["TMPDIR"] = str(scratch)
    tempfile.tempdir = None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def shared_tmp(factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder of this session that every xdist worker shares (each has its own tmp)."""
    base = factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    folder.mkdir(exist_ok=True)
    return folder


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (a file made for it) across processes."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def copy_of_cached(cache: Path, key: str, build: Callable[[Path], object], dest: Path) -> Path:
    """Copy into `dest` the tree `build` makes for `key`; the first caller of the session
    (in any worker) builds it, the others wait for it and copy it."""
    entry = cache / key
    with locked(cache / f"{key}.lock"):
        if not entry.is_dir():
            partial = cache / f"{key}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            build(partial)
            partial.rename(entry)
    shutil.copytree(entry, dest, symlinks=True, dirs_exist_ok=True)
    return dest


_SESSION_CACHE: list[Path] = []  # set once per session by `isolated_environment`


def made_once(key: object, build: Callable[[Path], object], dest: Path) -> Path:
    """Copy into `dest` what `build` makes for `key` (any JSON value), built once per session."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return copy_of_cached(_SESSION_CACHE[-1], digest[:20], build, dest)


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The CLI's cache goes to the session's tmp, one for all workers (the embedded
    template repository is then the same in each); commits get an identity."""
    os.environ["MLOPS_LADDER_HOME"] = str(shared_tmp(tmp_path_factory, "ladder-home"))
    _SESSION_CACHE.append(shared_tmp(tmp_path_factory, "made"))
    for name, value in {
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test Author",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }.items():
        os.environ.setdefault(name, value)
    yield
    while _CLI_SERVER:
        _CLI_SERVER.pop().close()


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, text=True
    ).stdout


def commit_all(path: Path, message: str = "commit") -> None:
    if not (path / ".git").exists():
        git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "--allow-empty", "-m", message)


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under `path` (git's own folder and ignored venvs aside) with its bytes."""
    skip = {".git", ".venv"}
    return {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and not skip & set(p.relative_to(path).parts)
    }


def project_commands(project: Path, package: str = "demo_model") -> set[str]:
    """The subcommands of a generated project's own command line (its cli.COMMANDS whose
    module the project holds), read from the files without running them."""
    source = project / "src" / package
    tree = ast.parse((source / "cli.py").read_text())
    table = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMMANDS"
    )
    commands = ast.literal_eval(table)
    return {name for name, (module, _) in commands.items() if (source / f"{module}.py").is_file()}


def default_interrupt() -> None:
    """Ctrl-C as in a terminal: a shell's background job (`pytest ... &`) inherits SIGINT
    ignored, and the interrupt tests would then wait for a signal that never lands."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(
    args: Sequence[str], cwd: Path, *, stdin: int, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """The installed console script, started with its output captured."""
    return subprocess.Popen(
        [str(CLI), *args],
        cwd=cwd,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_interrupt,
    )


def interrupted(
    args: list[str], cwd: Path, point: str, signum: int, seconds: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with `args`, send `signum` once it pauses at `point` (a transaction
    checkpoint, MLOPS_LADDER_PAUSE_AT), and wait for it to end."""
    paused = cwd.parent / "paused"
    paused.unlink(missing_ok=True)
    env = os.environ | {"MLOPS_LADDER_PAUSE_AT": point, "MLOPS_LADDER_PAUSE_FILE": str(paused)}
    process = start_cli(args, cwd, stdin=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + seconds
    while not paused.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{args[0]} never reached its pause point {point}"
        time.sleep(0.02)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


class _CliServer:
    """tests/cli_server.py: a Python that has imported the CLI once and forks a process
    per command, so a command does not pay Python's and copier's start-up every time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("cli_server.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, args: Sequence[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
        assert self.process.stdin and self.process.stdout
        with tempfile.TemporaryDirectory(prefix="cli-") as scratch:
            out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
            out.touch()
            err.touch()
            request = {
                "script": str(CLI),
                "args": list(args),
                "cwd": str(cwd or Path.cwd()),
                "env": dict(os.environ),
                "stdout": str(out),
                "stderr": str(err),
            }
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            reply = self.process.stdout.readline()
            assert reply, f"tests/cli_server.py died (exit {self.process.wait()})"
            returncode = json.loads(reply)["returncode"]
            return subprocess.CompletedProcess(
                [str(CLI), *args], returncode, out.read_text(), err.read_text()
            )

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait(timeout=30)


_CLI_SERVER: list[_CliServer] = []
# "fork" (the default): commands fork from tests/cli_server.py; "exec": each starts the
# console script afresh, as a user's shell does. CI runs the slower, plainer "exec".
CLI_MODE = os.environ.get("MLOPS_LADDER_TEST_CLI", "exec" if os.environ.get("CI") else "fork")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, with no terminal on stdin, as in CI."""
    if CLI_MODE == "fork":
        if not _CLI_SERVER:
            _CLI_SERVER.append(_CliServer())
        return _CLI_SERVER[0].run(args, cwd)
    return subprocess.run(
        [str(CLI), *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def run_cli_on_a_terminal(
    *args: str, cwd: Path, seconds: float = 60
) -> subprocess.CompletedProcess[str]:
    """The installed console script with a terminal on stdin, where it may ask questions.

    Nothing answers them: a command that asks anything times out here.
    """
    _controller, terminal = pty.openpty()
    process = start_cli(args, cwd, stdin=terminal)
    try:
        stdout, stderr = process.communicate(timeout=seconds)
    finally:
        process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def assert_refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    """The CLI refused: exit 2 and one line on stderr that carries `message`."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


@pytest.fixture(scope="session")
def template_repo(isolated_environment: None) -> tuple[str, str]:
    """The embedded template as the CLI sees it: a git repository with a version tag."""
    from mlops_ladder.embedded import ensure_template_repo

    path, tag = ensure_template_repo()
    return str(path), tag


def tiered(cases: list, fast: list, ids: list[str] | None = None) -> list:
    """Parameter sets for `parametrize`: those in `fast` run in the fast tier, the rest are slow.

    The fast tier keeps one representative of each kind; the full suite runs them all.
    """
    return [
        pytest.param(
            *(case if isinstance(case, tuple) else (case,)),
            id=ids[n] if ids else None,
            marks=() if case in fast else pytest.mark.slow,
        )
        for n, case in enumerate(cases)
    ]


Generate = Callable[..., Path]


@pytest.fixture(scope="session")
def generate(template_repo: tuple[str, str]) -> Generate:
    """Render the template at `level` into `dest` with the standard answers plus overrides.

    Each set of answers is rendered once per session and copied after that: a render
    takes a second, a copy milliseconds, and the bytes are the same.
    """
    src, tag = template_repo

    def _generate(dest: Path, level: int, **answers: object) -> Path:
        data = ANSWERS | {"mlops_level": level} | answers

        def render(into: Path) -> None:
            run_copy(src, into, data=data, defaults=True, vcs_ref=tag, quiet=True, unsafe=False)

        if dest.exists() and any(dest.iterdir()):
            render(dest)  # onto existing files: copier decides what to write
            return dest
        return made_once(["copy", src, tag, data], render, dest)

    return _generate


@pytest.fixture(scope="session")
def rendered(generate: Generate, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """One untouched render per offered level, shared by the whole session."""
    from mlops_ladder.catalogue import load_catalogue

    base = tmp_path_factory.mktemp("rendered")
    return {level: generate(base / f"level{level}", level) for level in load_catalogue().offered}


@pytest.fixture(scope="session")
def rendered_gitlab(
    generate: Generate, tmp_path_factory: pytest.TempPathFactory
) -> dict[int, Path]:
    """One untouched render per level with ci_provider=gitlab; level 0 has no CI to choose."""
    from mlops_ladder.catalogue import load_catalogue

    base = tmp_path_factory.mktemp("rendered-gitlab")
    return {
        level: generate(
            base / f"level{level}", level, **({"ci_provider": "gitlab"} if level else {})
        )
        for level in load_catalogue().offered
    }


@pytest.fixture
def no_git_identity(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment in which `git commit` fails: no name or e-mail anywhere."""
    home = tmp_path_factory.mktemp("no-identity-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER"))}
    return env | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "user.useConfigOnly",
        "GIT_CONFIG_VALUE_0": "true",
    }
