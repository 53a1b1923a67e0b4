"""What the homeserver's journeys share: building the example, running the journey
inside a throwaway virtualenv with its Python dependencies from PyPI, and the failed
step."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import venv
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]


class StepFailed(Exception):
    """A check of a journey did not hold."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


async def run_steps(steps: list) -> tuple[int, int]:
    """Runs each step in order, printing `PASS name` or `FAIL name: why`; the first
    failure ends the run. Returns (passed, failed)."""
    passed = failed = 0
    for step in steps:
        name = step.__name__.replace("_", " ")
        try:
            await step()
        except Exception as error:  # a failed step ends the journey
            failed += 1
            print(f"FAIL {name}: {type(error).__name__}: {error}", flush=True)
            break
        passed += 1
        print(f"PASS {name}", flush=True)
    return passed, failed


def build_server(release: bool) -> str:
    """Builds the example and returns the binary's path."""
    command = ["cargo", "build", "--example", "homeserver"] + (["--release"] if release else [])
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, cwd=REPO, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return str(target / ("release" if release else "debug") / "examples" / "homeserver")


def launch(script: str, doc: str, requirements: list[str], in_venv: str,
           journey: Callable[[argparse.Namespace], int]) -> int:
    """The journeys' `main`: outside the virtualenv, builds the server (unless
    `--server-bin` is given), makes a throwaway virtualenv with `requirements` and runs
    `script` again inside it, where `journey` runs."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--release", action="store_true", help="build with --release")
    parser.add_argument("--server-bin", help="use this server binary instead of building")
    parser.add_argument("--keep-data", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    if os.environ.get(in_venv) == "1":
        return journey(args)
    server_bin = args.server_bin or build_server(args.release)
    venv_dir = tempfile.mkdtemp(prefix="homeserver-journey-venv-")
    try:
        print(f"creating a virtualenv in {venv_dir} with {', '.join(requirements)}", flush=True)
        venv.create(venv_dir, with_pip=True)
        python = str(Path(venv_dir) / "bin" / "python")
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *requirements],
            check=True,
        )
        command = [python, script, "--server-bin", server_bin]
        command += ["--keep-data"] if args.keep_data else []
        return subprocess.run(command, env={**os.environ, in_venv: "1"}).returncode
    finally:
        shutil.rmtree(venv_dir, ignore_errors=True)
