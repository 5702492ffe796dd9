"""Every command is documented, with an example, and the generated references are current."""
from pathlib import Path

from qunflow.cli import docs
from qunflow.sheet.reference import schema_reference

ROOT = Path(__file__).resolve().parents[1]


def test_every_command_is_in_the_cli_reference_and_ends_with_an_example():
    text = (ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")
    for name in docs.command_names():
        assert f"## {name}\n" in text, f"{name} is missing from docs/CLI.md: run python docs/generate.py"
    assert text == docs.cli_reference(), "docs/CLI.md is out of date: run python docs/generate.py"
    for section in text.split("\n## ")[1:]:
        assert "Example" in section, section.splitlines()[0]


def test_schema_reference_is_generated_from_the_yaml():
    assert (ROOT / "docs" / "SCHEMA.md").read_text(encoding="utf-8") == schema_reference(), \
        "docs/SCHEMA.md is out of date: run python docs/generate.py"


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text(encoding="utf-8")[:1500]
    assert "make demo" in head and "make test" in head


def test_the_generator_writes_both_references(tmp_path):
    """docs/generate.py (the command the messages above name) writes what the tests compare against."""
    import subprocess
    import sys
    subprocess.run([sys.executable, str(ROOT / "docs" / "generate.py"), str(tmp_path)], check=True)
    assert (tmp_path / "docs" / "CLI.md").read_text(encoding="utf-8") == docs.cli_reference()
    assert (tmp_path / "docs" / "SCHEMA.md").read_text(encoding="utf-8") == schema_reference()


def test_each_usage_line_names_the_command_once():
    """#17 item 6: the usage line of `qunflow member add` is `Usage: qunflow member add …`, never
    `Usage: qunflow qunflow member add …`, and each section's usage names its own command."""
    text = docs.cli_reference()
    assert "qunflow qunflow" not in text
    for section in text.split("\n## ")[1:]:
        name = section.splitlines()[0]
        assert f"Usage: {name} " in section, name
