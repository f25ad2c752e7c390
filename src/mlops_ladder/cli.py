"""The mlops-ladder command line: new, status, climb, update, assess and levels."""

import argparse
import json
import shutil
import signal
import sys
import warnings
from pathlib import Path

import yaml

from . import __version__
from .adopt import Inferred, adopt, plan_adoption
from .assess import assess, render_text
from .assess import schema_json as assessment_schema_json
from .catalogue import Catalogue, load_catalogue, markdown_table, plan_climb, read_yaml
from .errors import LadderError, report
from .fleet import fleet_change, fleet_status, read_paths
from .project import load_project
from .render import Outcome, climb, climb_data, dry_run, new_project, preflight, update
from .schema import check_answers, schema_json
from .status import Status, project_status
from .transaction import abort, resume


def parse_pairs(pairs: list[str]) -> dict:
    """`-d key=value` pairs as strings; copier casts each to its question's type."""
    data = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LadderError(f"-d {pair!r} is not KEY=VALUE: write it as -d project_name=Demo")
        data[key.strip()] = value
    return data


def read_data_file(path: Path) -> dict:
    if not path.is_file():
        raise LadderError(f"data file {path} does not exist: give the path of a YAML answers file")
    try:
        content = read_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise LadderError(f"data file {path} is not valid YAML: {error}".splitlines()[0]) from None
    if not isinstance(content, dict):
        raise LadderError(f"data file {path} must hold a mapping of question: answer")
    # An answers file from another project works too: copier's private keys are dropped.
    return {key: value for key, value in content.items() if not str(key).startswith("_")}


def check_level(level: object, catalogue: Catalogue) -> int:
    if isinstance(level, str) and level.strip().isdigit():
        level = int(level)
    if isinstance(level, bool) or not isinstance(level, int) or level not in catalogue.offered:
        offered = ", ".join(map(str, catalogue.offered))
        raise LadderError(f"level {level!r} is not offered: choose one of {offered}")
    return level


def checked_answers(args: argparse.Namespace) -> tuple[dict, dict]:
    """The --data-file and the -d answers, each checked against the answers schema."""
    from_file = read_data_file(args.data_file) if args.data_file else {}
    check_answers(from_file, source=f"data file {args.data_file}")
    given = parse_pairs(args.data)
    check_answers(given, source="-d", typed=False)
    return from_file, given


def read_answers(args: argparse.Namespace) -> dict:
    """--data-file then -d answers; -d wins."""
    from_file, given = checked_answers(args)
    return from_file | given


def cmd_new(args: argparse.Namespace, catalogue: Catalogue) -> int:
    data = read_answers(args)
    if args.level is not None:
        data["mlops_level"] = args.level
    if "mlops_level" in data:
        data["mlops_level"] = check_level(data["mlops_level"], catalogue)
    dest = args.dest.resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise LadderError(f"{args.dest} already exists and is not empty: choose a new folder")
    interactive = sys.stdin.isatty() and not args.defaults
    result = new_project(
        dest,
        data,
        defaults=not interactive,
        template=args.template,
        vcs_ref=args.vcs_ref,
        init_git=not args.no_git,
        lock=not args.no_lock,
    )
    level = catalogue.level(result.level)
    print(f"Created {args.dest}: level {level.label}, {result.files} files, template {result.ref}.")
    print(result.lock_note)
    print(result.git_note)
    steps = " && ".join(f"make {step}" for step in level.first_steps)
    print(f"Next: cd {args.dest} && {steps}   (MLOPS_LEVEL.md says what this level gives)")
    return 0


def print_status(status: Status) -> None:
    print(f"Project:   {status.project}")
    print(f"Level:     {status.level} - {status.level_name}")
    print(f"Template:  {status.template} @ {status.template_version}")
    newer = "unknown" if status.version_unknown else status.newer_version
    print(f"Newer:     {newer or 'none, up to date'}")
    if status.unfinished:
        print(f"Doctor:    {status.unfinished}")
        return
    if status.healthy:
        print(
            f"Doctor:    ok, {status.checked_files} files and {status.checked_targets} make "
            "targets of this level are present"
        )
        return
    print(f"Doctor:    {len(status.missing)} problem(s):")
    for item in status.missing:
        print(
            f"  - missing {item.kind} {item.name} "
            f"(level {item.level} capability '{item.capability}')"
        )
    print(
        "  copier does not bring deleted files back: restore each from git "
        "(git checkout <commit>^ -- PATH) or from a fresh copy of the template."
    )


def cmd_status(args: argparse.Namespace, catalogue: Catalogue) -> int:
    status = project_status(args.path, catalogue)
    if args.json:
        print(json.dumps(status.to_json(), indent=2))
    else:
        print_status(status)
    return 0 if status.healthy else 1


def climb_answers(args: argparse.Namespace) -> tuple[dict, dict]:
    """The --data-file and -d answers of a climb, checked; the level itself comes from --to."""
    if any(pair.partition("=")[0].strip() == "mlops_level" for pair in args.data):
        raise LadderError("give the target level with --to N, not as an answer")
    return checked_answers(args)


def finish_or_undo(args: argparse.Namespace) -> int | None:
    """`--continue` or `--abort` of an interrupted climb or update; None when neither is given."""
    if args.resume:
        print(f"Finished the interrupted {resume(args.path.resolve())}. Review `git status`.")
        return 0
    if args.abort:
        print(f"Undid the interrupted {abort(args.path.resolve())}: the project is as it was.")
        return 0
    return None


def cmd_climb(args: argparse.Namespace, catalogue: Catalogue) -> int:
    if (done := finish_or_undo(args)) is not None:
        return done
    project = load_project(args.path)
    answers = climb_data(project, *climb_answers(args))
    preflight(project)
    plan = plan_climb(catalogue, project.level, args.to)
    target = plan.target
    if args.dry_run:
        changes = dry_run(project, target, answers)
        print(f"A climb from level {project.level} to {target} would:")
        for verb, paths in changes.items():
            for path in paths:
                print(f"  {verb:<8} {path}")
        print("Nothing was changed.")
        return 0
    outcome = climb(project, target, answers)
    print(
        f"Climbed {project.path.name} from level {project.level} to {target}: "
        f"{catalogue.level(target).name}."
    )
    gained = plan.gained
    for capability in gained:
        adds = capability.adds.replace("{package_name}", project.package_name)
        print(f"  + {capability.title}: {adds}")
    if report_outcome(outcome):
        return 1
    steps = ", ".join(f"make {step}" for step in catalogue.level(target).first_steps)
    print(
        "Next: review `git diff` and commit"
        + (f", then run in this order: {steps}" if steps else "")
        + " (MLOPS_LEVEL.md lists them)."
    )
    return 0


def report_outcome(outcome: Outcome) -> bool:
    """Print the files a climb or update touched; True when conflicts remain."""
    for note in outcome.notes:
        print(note)
    for verb, paths in (
        ("added", outcome.added),
        ("changed", outcome.changed),
        ("deleted", outcome.deleted),
    ):
        if paths:
            print(f"Files {verb}: {', '.join(paths)}")
    if outcome.conflicts:
        print(f"Conflicts in {len(outcome.conflicts)} file(s): {', '.join(outcome.conflicts)}")
        print(
            "Edit each to keep the right lines between '<<<<<<< before updating' and "
            "'>>>>>>> after updating', delete the markers, then `git add` and commit."
        )
    return bool(outcome.conflicts)


def update_answers(args: argparse.Namespace) -> dict:
    """The -d answers an update changes (say ci_provider=gitlab), checked; never the level."""
    if any(pair.partition("=")[0].strip() == "mlops_level" for pair in args.data):
        raise LadderError("update keeps the level: climb with `mlops-ladder climb --to N`")
    given = parse_pairs(args.data)
    check_answers(given, source="-d", typed=False)
    return given


def cmd_update(args: argparse.Namespace, catalogue: Catalogue) -> int:
    if (done := finish_or_undo(args)) is not None:
        return done
    answers = update_answers(args)
    project = load_project(args.path)
    version, outcome = update(project, args.vcs_ref, args.template, answers)
    if version == project.template_version:
        changed = ", ".join(f"{key}={value}" for key, value in answers.items())
        print(
            f"Changed {changed} in {project.path.name} "
            f"at template {version}, level {project.level}."
        )
    else:
        print(
            f"Updated {project.path.name} from template {project.template_version} to {version}, "
            f"still at level {project.level}."
        )
    if args.template:
        print(f"The project now records its template as {load_project(project.path).template}.")
    if report_outcome(outcome):
        return 1
    print("Next: review `git diff`, run `make install`, then commit.")
    return 0


def cmd_assess(args: argparse.Namespace, catalogue: Catalogue) -> int:
    if args.schema:
        print(assessment_schema_json(catalogue), end="")
        return 0
    result = assess(args.path, catalogue)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(render_text(result, catalogue), end="")
    return 0


def show_inferred(inferred: Inferred) -> None:
    """Before adopt's questions: what the repository says, the questions' defaults."""
    print("Read from the repository (each is the default of its question below):")
    for key, value in inferred.answers.items():
        print(f"  {key}: {value!r} (from {inferred.sources[key]})")
    for note in inferred.notes:
        print(f"Note: {note}")


ADOPT_VERBS = ("add", "merge", "conflict", "same", "keep")


def cmd_adopt(args: argparse.Namespace, catalogue: Catalogue) -> int:
    if (done := finish_or_undo(args)) is not None:
        return done
    if args.level is None:
        raise LadderError(
            "give the level to adopt with --level N (mlops-ladder assess suggests one)"
        )
    level = check_level(args.level, catalogue)
    if any(pair.partition("=")[0].strip() == "mlops_level" for pair in args.data):
        raise LadderError("give the level with --level N, not as an answer")
    from_file, given = checked_answers(args)
    from_file.pop("mlops_level", None)
    interactive = sys.stdin.isatty() and not args.defaults
    ask = show_inferred if interactive else None
    plan, rendered = plan_adoption(args.path, level, from_file | given, ask=ask)
    try:
        print(
            f"Adopting {args.path.resolve().name} at level {catalogue.level(level).label}, "
            f"template {plan.version}."
        )
        print("Answers:")
        for key, value in plan.answers.items():
            if key in given:
                source = "-d"
            elif key in from_file:
                source = f"data file {args.data_file}"
            elif str(plan.inferred.answers.get(key)) == str(value):
                source = plan.inferred.sources[key]
            else:
                source = "your answer" if interactive else "the template's default"
            print(f"  {key}: {value!r} (from {source})")
        notes = plan.notes if interactive else plan.inferred.notes + plan.notes
        for note in notes:
            print(f"Note: {note}")
        for verb in ADOPT_VERBS:
            for name in plan.having(verb):
                print(f"  {verb:<9}{name}")
        print(f"  left alone: {plan.left_alone} file(s) of yours the template does not have")
        if args.dry_run:
            print("Nothing was changed.")
            return 0
        adopt(args.path, plan, rendered)
    finally:
        shutil.rmtree(rendered.parent, ignore_errors=True)
    conflicts = plan.having("conflict")
    print(
        f"Adopted at level {level}: {len(plan.having('add'))} file(s) added, "
        f"{len(plan.having('merge'))} merged, {len(conflicts)} in conflict."
    )
    if conflicts:
        print(
            "In each conflict keep the right lines between '<<<<<<< before adopting' and "
            "'>>>>>>> after adopting' (`git checkout --ours FILE` brings yours back whole), "
            "then `git add` it."
        )
    steps = ", ".join(f"make {step}" for step in catalogue.level(level).first_steps)
    print(f"Next: review `git status`, commit, then run {steps} (MLOPS_LEVEL.md lists them).")
    return 1 if conflicts else 0


def cmd_schema(args: argparse.Namespace, catalogue: Catalogue) -> int:
    print(schema_json(), end="")
    return 0


def _doctor_cell(row: dict) -> str:
    if row.get("error"):
        return f"error: {row['error']}"
    if row.get("unfinished"):
        return row["unfinished"]
    if row["healthy"]:
        return "ok"
    return "missing " + ", ".join(item["name"] for item in row["missing"])


def cmd_fleet_status(args: argparse.Namespace, catalogue: Catalogue) -> int:
    rows = fleet_status(read_paths(args.paths, args.from_file), catalogue, args.jobs)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        table = [("PROJECT", "LEVEL", "TEMPLATE", "NEWER", "TREE", "DOCTOR")]
        for row in rows:
            if row.get("error"):
                table.append((row["project"], "-", "-", "-", "-", _doctor_cell(row)))
                continue
            tree = {None: "no git", 0: "clean"}.get(row["uncommitted"])
            tree = tree or f"{row['uncommitted']} uncommitted"
            table.append(
                (
                    row["project"],
                    str(row["level"]),
                    row["template_version"],
                    row["newer_version"] or "-",
                    tree,
                    _doctor_cell(row),
                )
            )
        widths = [max(len(line[i]) for line in table) for i in range(5)]
        for line in table:
            cells = [cell.ljust(width) for cell, width in zip(line[:5], widths, strict=True)]
            print("  ".join([*cells, line[5]]))
    return 0 if all(row["healthy"] for row in rows) else 1


def cmd_fleet_change(args: argparse.Namespace, catalogue: Catalogue) -> int:
    paths = read_paths(args.paths, args.from_file)
    from_file, given = climb_answers(args) if args.fleet_command == "climb" else ({}, {})
    to = args.to if args.fleet_command == "climb" else None
    rows = fleet_change(
        paths,
        args.fleet_command,
        catalogue,
        jobs=args.jobs,
        to=to,
        answers=(from_file, given),
    )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['result']:<14} {row['project']}: {row['detail']}")
    return 0 if all(row["result"] in ("done", "nothing to do") for row in rows) else 1


def cmd_levels(args: argparse.Namespace, catalogue: Catalogue) -> int:
    if args.markdown:
        print(markdown_table(catalogue), end="")
        return 0
    for level in catalogue.levels:
        mark = "" if level.number in catalogue.offered else "  (not offered yet)"
        print(f"{level.label}{mark}")
        for capability in catalogue.capabilities:
            if capability.level == level.number:
                print(f"    {capability.title}")
    return 0


def add_answer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-file", type=Path, help="YAML file of answers (an answers file works)"
    )
    parser.add_argument(
        "-d",
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one answer; repeat as needed",
    )


def add_recovery_options(parser: argparse.ArgumentParser, command: str) -> None:
    recovery = parser.add_mutually_exclusive_group()
    recovery.add_argument(
        "--continue",
        dest="resume",
        action="store_true",
        help=f"finish an interrupted {command} that was killed while it wrote the project",
    )
    recovery.add_argument(
        "--abort", action="store_true", help=f"undo an interrupted {command} instead"
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-ladder",
        description="Generate an ML repository at an MLOps maturity level and climb it in place.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    new = commands.add_parser("new", help="generate a new project")
    new.add_argument("dest", type=Path, help="folder to create")
    new.add_argument("--level", type=int, help="MLOps level of the new project")
    new.add_argument("--defaults", action="store_true", help="take the default of every question")
    add_answer_options(new)
    new.add_argument("--template", help="template source to record (a git URL or path)")
    new.add_argument("--vcs-ref", help="template version (git tag or commit)")
    new.add_argument("--no-git", action="store_true", help="do not create a git repository")
    new.add_argument(
        "--no-lock", action="store_true", help="do not write uv.lock (with the uv on PATH)"
    )
    new.set_defaults(handler=cmd_new)

    status = commands.add_parser("status", help="level, template version and a level doctor")
    status.add_argument("path", type=Path, nargs="?", default=Path.cwd())
    status.add_argument("--json", action="store_true", help="print the report as JSON")
    status.set_defaults(handler=cmd_status)

    up = commands.add_parser("climb", help="move the project up one level or more, in place")
    up.add_argument("path", type=Path, nargs="?", default=Path.cwd())
    up.add_argument("--to", type=int, help="target level (default: the next one)")
    up.add_argument("--dry-run", action="store_true", help="list what would change, change nothing")
    add_answer_options(up)
    add_recovery_options(up, "climb")
    up.set_defaults(handler=cmd_climb)

    upd = commands.add_parser(
        "update", help="move the project to a newer template version, keeping its level"
    )
    upd.add_argument("path", type=Path, nargs="?", default=Path.cwd())
    upd.add_argument("--vcs-ref", help="template version to update to (default: the newest tag)")
    upd.add_argument(
        "--template", help="record this source (a git URL or path) for the template from now on"
    )
    upd.add_argument(
        "-d",
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change an answer, e.g. ci_provider=gitlab (at the same version if none is newer)",
    )
    add_recovery_options(upd, "update")
    upd.set_defaults(handler=cmd_update)

    fleet = commands.add_parser("fleet", help="status, climb or update many projects at once")
    fleet_commands = fleet.add_subparsers(dest="fleet_command", required=True, metavar="ACTION")
    for action, text in [
        ("status", "one table of every project's status, checked in parallel"),
        ("climb", "climb every project, each on a branch of its own"),
        ("update", "update every project to the newest template, each on its own branch"),
    ]:
        sub = fleet_commands.add_parser(action, help=text)
        sub.add_argument("paths", type=Path, nargs="*", help="project folders")
        sub.add_argument("--from-file", type=Path, help="file listing project folders, one a line")
        sub.add_argument("--json", action="store_true", help="print the results as JSON")
        sub.add_argument(
            "--jobs",
            type=int,
            default=8 if action == "status" else 2,
            help="projects handled at once",
        )
        if action == "climb":
            sub.add_argument("--to", type=int, help="target level (default: each one's next)")
            add_answer_options(sub)
        sub.set_defaults(handler=cmd_fleet_status if action == "status" else cmd_fleet_change)

    check = commands.add_parser(
        "assess",
        help="measure any repository against the levels, from its files (changes nothing)",
    )
    check.add_argument("path", type=Path, nargs="?", default=Path.cwd())
    check.add_argument("--json", action="store_true", help="print the assessment as JSON")
    check.add_argument(
        "--schema", action="store_true", help="print the JSON Schema of the --json output"
    )
    check.set_defaults(handler=cmd_assess)

    take = commands.add_parser(
        "adopt", help="bring an existing repository under the template at a level"
    )
    take.add_argument("path", type=Path, nargs="?", default=Path.cwd())
    take.add_argument("--level", help="the level to adopt (required unless --continue/--abort)")
    take.add_argument(
        "--dry-run", action="store_true", help="list what would be added, merged or kept"
    )
    take.add_argument(
        "--defaults",
        action="store_true",
        help="ask nothing: inferred answers, then each question's default (so without a terminal)",
    )
    add_answer_options(take)
    add_recovery_options(take, "adopt")
    take.set_defaults(handler=cmd_adopt)

    schema = commands.add_parser("schema", help="print the JSON Schema of answers files")
    schema.set_defaults(handler=cmd_schema)

    levels = commands.add_parser("levels", help="list the levels and their capabilities")
    levels.add_argument("--markdown", action="store_true", help="print the level table")
    levels.set_defaults(handler=cmd_levels)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", message="File not found; returning empty dict")
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM cancels cleanly, like Ctrl-C
    try:
        return args.handler(args, load_catalogue())
    except Exception as error:
        known = report(error)
        if known is None:
            raise
        print(known[0], file=sys.stderr)
        return known[1]
    except KeyboardInterrupt as interrupt:
        line, code = report(interrupt)
        print(line, file=sys.stderr)
        return code
