"""The CLI tells the user's errors (one line, exit code 2) from eureka-kit's bugs (a traceback, exit code 1)."""

from __future__ import annotations

import argparse

import pytest

import eureka_kit.cli as cli


def _command_raising(error: Exception) -> object:
    def command(args: argparse.Namespace) -> int:
        raise error

    return command


@pytest.mark.parametrize(
    "error",
    [KeyError("internal_key"), ValueError("shapes (3,) and (4,) not aligned"), AttributeError("no attribute")],
)
def test_a_bug_is_reported_as_a_bug(
    error: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_cmd_tasks", _command_raising(error))
    assert cli.main(["tasks"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and type(error).__name__ in err
    assert err.strip().splitlines()[-1].startswith("error: internal error in eureka-kit")


def test_the_users_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "Hopper-Hop-v2"]) == 2  # an unknown task: did you mean
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: Unknown task 'Hopper-Hop-v2'. Did you mean")
    assert cli.main(["run", "Hopper-Hop-v1", "--samples", "0"]) == 2  # a bad option value
    err = capsys.readouterr().err
    assert "Traceback" not in err and "samples must be >= 1" in err
