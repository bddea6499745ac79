"""`loyalty-admin --help` says what the tool does in whole sentences."""

from __future__ import annotations

import pytest

from loyalty_engine import cli


def test_help_describes_the_tool_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    # the docstring's whole first paragraph, not its first line cut mid-sentence
    assert "(create, list, rotate, revoke; a secret is printed once), run a scheduled job now" in text
    assert "set a group's request limits." in text
