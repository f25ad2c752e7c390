"""The docs site builds with --strict, lists every page, and shows generated content."""

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_ladder.catalogue import load_catalogue, markdown_table
from mlops_ladder.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS = Path(sys.executable).with_name("mkdocs")


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        env=os.environ | {"NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )


def text_of(page: Path) -> str:
    """The visible text of a built page's article, tags dropped, spaces collapsed."""
    source = page.read_text(encoding="utf-8")
    article = source[source.index("<article") : source.index("</article>")]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", article)))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    done = build(ROOT / "mkdocs.yml", site)
    assert done.returncode == 0, done.stderr[-3000:]
    return site


def nav_pages(nav: object) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, list):
        return {page for item in nav for page in nav_pages(item)}
    if isinstance(nav, dict):
        return {page for value in nav.values() for page in nav_pages(value)}
    return set()


def test_site_builds_strictly(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "reference" / "levels" / "index.html").is_file()


class ConfigLoader(yaml.SafeLoader):
    """Reads mkdocs.yml, leaving any `!!python/name:` or `!ENV` tag as None."""


ConfigLoader.add_multi_constructor("", lambda loader, suffix, node: None)


def test_every_page_is_in_the_nav() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=ConfigLoader)
    listed = nav_pages(config["nav"])
    pages = {
        page.relative_to(DOCS).as_posix()
        for page in DOCS.rglob("*.md")
        if "_hooks" not in page.relative_to(DOCS).parts
    }
    assert pages - listed == set(), "pages missing from mkdocs.yml's nav"
    assert listed - pages == set(), "nav entries without a page"


def test_levels_page_holds_the_generated_table(site: Path) -> None:
    catalogue = load_catalogue()
    table = markdown_table(catalogue)
    page = text_of(site / "reference" / "levels" / "index.html")
    assert "generated:" not in page
    for capability in catalogue.capabilities:
        assert capability.title in table
        assert capability.title in page, capability.id
    # Each row of the Markdown table shows as one row of cells, in order.
    for row in table.splitlines()[2:]:
        cells = [cell.strip().replace("`", "") for cell in row.strip("|").split("|")]
        assert " ".join(cells) in page, row


def subcommands(
    parser: argparse.ArgumentParser, prefix: str = "mlops-ladder"
) -> dict[str, argparse.ArgumentParser]:
    """Every command and nested command of the parser, by its full name."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix} {name}"] = sub
                found |= subcommands(sub, f"{prefix} {name}")
    return found


def test_cli_page_lists_every_subcommand(site: Path) -> None:
    commands = subcommands(build_parser())
    assert {"mlops-ladder new", "mlops-ladder fleet climb"} <= commands.keys()
    page = text_of(site / "reference" / "cli" / "index.html")
    generated = page[page.index("Commands and options") :]
    for command, parser in commands.items():
        assert command in generated, command
        if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            continue  # `fleet` has no section of its own, its commands have
        # The command's section: from its heading to the next one.
        start = generated.index(f"{command} ¶") + len(command) + 2
        section = generated[start : generated.find(" ¶", start)]
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction):
                for flag in action.option_strings or [action.dest]:
                    assert flag in section, (command, flag)


def test_decision_records_follow_the_template() -> None:
    for record in sorted((DOCS / "decisions").glob("[0-9][0-9][0-9][0-9]-*.md")):
        text = record.read_text(encoding="utf-8")
        assert text.startswith(f"# {int(record.name[:4])}. "), record.name  # number = file name
        assert re.search(r"^Status: (accepted|proposed|superseded by \d+)$", text, re.M), record
        assert re.search(r"^Date: \d{4}-\d{2}-\d{2}$", text, re.M), record.name
        headings = re.findall(r"^## (.+)$", text, re.M)
        assert headings == ["Context", "Decision", "Consequences"], record.name


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy2(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    page = tmp_path / "docs" / "how-to" / "climb.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee [nothing](no-such-page.md).\n")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-page.md" in done.stderr


@pytest.mark.slow
def test_a_broken_anchor_fails_the_strict_build(tmp_path: Path) -> None:
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy2(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    page = tmp_path / "docs" / "how-to" / "climb.md"
    page.write_text(
        page.read_text(encoding="utf-8") + "\nSee [CLI](../reference/cli.md#nowhere).\n"
    )
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "nowhere" in done.stderr
