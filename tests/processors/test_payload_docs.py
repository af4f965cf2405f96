"""The README's payload tables are what the processors' pydantic models say, and the
generator's --check / --write work as documented.

Real: README.md, the processor registry and its models, the generator's CLI. Nothing faked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.processors import load_registry
from shared.processors.payload_docs import END, README, START, generate, main, replaced


def test_the_readme_holds_exactly_the_generated_tables() -> None:
    readme = README.read_text()
    assert replaced(readme, generate()) == readme, (
        "README.md's payload tables drifted from the models: run "
        "`python -m shared.processors.payload_docs --write`")


def test_every_type_and_every_field_is_documented() -> None:
    block = generate()
    for job_type, module in load_registry().items():
        assert f"#### `{job_type}` payload" in block
        for name, field in module.Payload.model_fields.items():
            assert f"| `{field.alias or name}` |" in block, (job_type, name)


def test_required_fields_are_marked() -> None:
    block = generate()
    assert "| `voice` | **yes** |" in block  # the trial's complaint: audio's voice was not marked
    assert "| `seller_id` | **yes** | string (uuid) |" in block


def test_check_fails_on_a_drifted_readme_and_write_repairs_it(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{START}\n| stale |\n{END}\n\nafter\n")
    assert main(["--check"], readme) == 1
    assert "--write" in capsys.readouterr().err
    assert main(["--write"], readme) == 0
    assert main(["--check"], readme) == 0
    text = readme.read_text()
    assert "| stale |" not in text
    assert text.startswith("# x\n\n")
    assert text.endswith("\n\nafter\n")


def test_a_readme_without_markers_is_an_error_naming_them(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="job-payloads:start"):
        main(["--check"], readme)
