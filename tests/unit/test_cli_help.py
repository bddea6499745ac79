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


def test_revoke_key_help_says_what_is_refused_and_when(capsys: pytest.CaptureFixture[str]) -> None:
    """The revocation is not what is refused: the revoked key is, by the authorizer, within the
    authorizer's cache time (docs/api.md, How long a refused key keeps working)."""
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "revoke a key: the authorizer refuses it within AUTHORIZER_CACHE_TTL_S (60 s)" in text
