"""Every expected CLI failure is one line on stderr and a non-zero exit, never a traceback.

Commands raise `CliError` with a precise message; `run_guarded` (called by `pilot.cli.main`) prints it as
`pilot COMMAND: message`. It also turns the failures any command can hit into one line: an output file that
cannot be written, a server that cannot be reached or answers garbage. A reader that stops early
(`pilot validate big | head -1`) ends the command quietly, as Unix tools do when their pipe closes
(https://docs.python.org/3/library/signal.html#note-on-sigpipe).
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

USAGE = 2  # bad input (a missing path, a malformed flag value), as argparse exits for bad flags
FAILED = 1  # the command ran and failed (a server unreachable, a port taken)


class CliError(Exception):
    """An expected failure, reported as `pilot COMMAND: message` with exit code `code`."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def require_paths(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Input files/dirs must exist: a typo must not read as "nothing to complain about"."""
    for p in paths:
        if not Path(p).exists():
            raise CliError(f"no such file or directory: {p}")


def write_output(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write a command's output file, or fail with one line naming it."""
    try:
        if isinstance(data, bytes):
            Path(path).write_bytes(data)
        else:
            Path(path).write_text(data)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", FAILED) from exc


def os_error_text(exc: OSError) -> str:
    """`strerror: filename` without Python's `[Errno N]` prefix; the reason of a urllib URLError."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, OSError):
        return os_error_text(reason)
    if reason is not None:
        return str(reason)
    if exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def yaml_error_text(exc: Exception) -> str:
    """`line N: problem` of a YAML syntax error, without PyYAML's multi-line excerpt."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark is not None else str(problem)


def command_name(args: argparse.Namespace) -> str:
    """`validate`, `dev apply`, `x describe pod`: the words the user typed to pick the command."""
    words = [args.command]
    for attr in ("dev_command", "x_command", "describe_kind"):
        word = getattr(args, attr, None)
        if word:
            words.append(word)
    return " ".join(words)


def run_guarded(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    name = command_name(args)
    try:
        return int(func(args))
    except CliError as exc:
        return _fail(name, str(exc), exc.code)
    except BrokenPipeError:
        _quiet_stdout()
        return FAILED
    except KeyboardInterrupt:  # Ctrl-C: what the command started was stopped as the stack unwound
        print(file=sys.stderr)
        return 130  # 128 + SIGINT, as a shell reports it
    except http.client.HTTPException as exc:  # garbage where HTTP was expected (e.g. the xDS gRPC port)
        return _fail(name, f"not an HTTP answer: {type(exc).__name__}: {exc}".rstrip(": "), FAILED)
    except OSError as exc:
        if getattr(args, "verbose", False):
            raise
        return _fail(name, os_error_text(exc), FAILED)


def _fail(name: str, message: str, code: int) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"pilot {name}: {first}", file=sys.stderr)
    return code


def _quiet_stdout() -> None:
    """The reader went away: drop what is still buffered so that the exit flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
