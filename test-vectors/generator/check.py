#!/usr/bin/env python3
"""Run a conformance implementation over vector files and compare its answers.

By default the implementation is the Synapse-backed twin (``twin.py`` run by
the virtualenv that ``setup.sh`` makes) and the vector files are

* every ``*.jsonl`` file of the development cases (``shared/dev-cases``, found
  beside the repository or at ``/work/shared/dev-cases``; or the directories
  given as arguments), and
* the project's own vectors, ``test-vectors/<op>/*.jsonl``.

Each vector line is ``{"case": {...}, "expect": {...}, ...}``, or
``{"raw": "<text>", "expect": {...}}`` when the raw text itself is the input
line.  Answers are compared as the protocol says: only the fields named for
the op, and for an expected error only that the answer is an error too.
JSON values compare strictly (``1``, ``1.0`` and ``true`` all differ).

For each file the script prints ``agree/total`` and the first few
disagreements, and it exits non-zero if there is any disagreement.

Any other implementation can be checked the same way with ``--cmd``, e.g.
``python check.py --cmd "target/release/conformance"``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VECTORS = HERE.parent
REPO = VECTORS.parent

#: The answer fields compared for each op (besides error-ness).
COMPARED_FIELDS: dict[str, tuple[str, ...]] = {
    "canonical": ("canonical",),
    "content_hash": ("sha256",),
    "redact": ("redacted",),
    "event_id": ("event_id",),
    "sign": ("signed",),
    "verify": ("valid",),
    "sign_event": ("signed",),
    "verify_event": ("signatures_ok", "hash_ok"),
    "auth_types": ("types",),
    "auth": ("allowed",),
    "resolve": ("state",),
    "sign_request": ("signed",),
    "verify_request": ("valid",),
    "verify_key_document": ("valid",),
}

#: Answer fields compared only when the expected answer is ``"valid": true``.
FIELDS_WHEN_VALID: dict[str, tuple[str, ...]] = {
    "verify_request": ("origin",),
    "verify_key_document": ("keys",),
}


def default_dev_case_dirs() -> list[Path]:
    """The shared development cases, if they can be found."""
    for candidate in (REPO.parent / "shared" / "dev-cases", Path("/work/shared/dev-cases")):
        if candidate.is_dir():
            return [candidate]
    return []


def default_command() -> list[str]:
    """The twin, run by the virtualenv's Python if there is one."""
    python = HERE / ".venv" / "bin" / "python"
    return [str(python if python.exists() else sys.executable), str(HERE / "twin.py")]


def same(a: Any, b: Any) -> bool:
    """Strict JSON equality: types must match, dict key order is ignored."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def compare(case: Any, expect: dict, got: dict, reasons: bool) -> str | None:
    """Return why ``got`` disagrees with ``expect``, or None if it agrees."""
    if "error" in expect:
        return None if "error" in got else "expected an error"
    if "error" in got:
        return f"unexpected error {got.get('error')}: {got.get('message')}"
    op = case.get("op") if isinstance(case, dict) else None
    fields = COMPARED_FIELDS.get(op, tuple(expect)) if isinstance(op, str) else tuple(expect)
    if reasons and op == "auth":
        fields = fields + ("reason",)
    if isinstance(op, str) and expect.get("valid") is True:
        fields = fields + FIELDS_WHEN_VALID.get(op, ())
    for name in fields:
        if name not in got:
            return f"answer lacks '{name}'"
        if not same(expect.get(name), got[name]):
            return f"'{name}' differs"
    return None


def format_problem(path: Path, record: dict) -> str | None:
    """What is wrong with the shape of a project vector line, if anything.

    Files under ``test-vectors/<op>/`` must name their source and hold cases
    of that op only.
    """
    if not path.is_relative_to(VECTORS) or path.parent.parent != VECTORS:
        return None
    if not isinstance(record.get("source"), str) or not record["source"]:
        return "no 'source'"
    if "raw" not in record and record.get("case", {}).get("op") != path.parent.name:
        return f"op is not {path.parent.name!r}"
    return None


def load_vectors(path: Path) -> list[tuple[int, str, Any, dict]]:
    """The vectors of one file: (line number, input line, case, expect)."""
    vectors = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            problem = format_problem(path, record)
            if problem is not None:
                raise SystemExit(f"{path}:{number}: malformed vector line: {problem}")
            if "raw" in record:
                text = record["raw"]
                case: Any = None
            else:
                case = record["case"]
                text = json.dumps(case, ensure_ascii=False)
            if "\n" in text or "\r" in text or not text.strip():
                raise ValueError(f"{path}:{number}: input is not one non-blank line")
            vectors.append((number, text, case, record["expect"]))
    return vectors


def run_implementation(command: list[str], lines: list[str]) -> list[dict]:
    """Feed all input lines to one process of the implementation."""
    payload = "".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")
    proc = subprocess.run(command, input=payload, capture_output=True, check=False)
    answers = []
    # Split on newlines only: U+2028 and friends may appear raw in answers.
    for raw in proc.stdout.decode("utf-8", "replace").split("\n"):
        if not raw:
            continue
        try:
            answers.append(json.loads(raw))
        except ValueError:
            answers.append({"error": "<unparsable answer>", "message": raw[:200]})
    if len(answers) != len(lines):
        sys.stderr.write(proc.stderr.decode("utf-8", "replace")[-3000:])
        raise SystemExit(
            f"implementation gave {len(answers)} answers to {len(lines)} lines "
            f"(exit code {proc.returncode})"
        )
    return answers


def collect_files(dirs: list[Path], project: bool) -> list[Path]:
    """Every vector file to check, dev-case directories first."""
    files: list[Path] = []
    for directory in dirs:
        files.extend(sorted(directory.glob("*.jsonl")))
    if project:
        files.extend(sorted(VECTORS.glob("*/*.jsonl")))
    return files


def main() -> int:
    """Check every file; print a summary; exit 1 on any disagreement."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="*", type=Path, help="directories of *.jsonl dev cases")
    parser.add_argument("--cmd", help="implementation command (default: the twin)")
    parser.add_argument("--no-project", action="store_true", help="skip test-vectors/<op>/*.jsonl")
    parser.add_argument("--no-dev-cases", action="store_true", help="skip the dev cases")
    parser.add_argument("--files", nargs="*", type=Path, default=[], help="extra vector files")
    parser.add_argument("--reasons", action="store_true", help="also compare auth reasons")
    parser.add_argument("--show", type=int, default=3, help="disagreements shown per file")
    args = parser.parse_args()

    dirs = [] if args.no_dev_cases else (args.dirs or default_dev_case_dirs())
    files = collect_files(dirs, not args.no_project) + list(args.files)
    if not files:
        print("no vector files found", file=sys.stderr)
        return 2
    command = shlex.split(args.cmd) if args.cmd else default_command()

    per_file = [(path, load_vectors(path)) for path in files]
    lines = [text for _, vectors in per_file for _, text, _, _ in vectors]
    answers = iter(run_implementation(command, lines))

    total_bad = total = 0
    for path, vectors in per_file:
        bad = []
        for number, text, case, expect in vectors:
            got = next(answers)
            why = compare(case, expect, got, args.reasons)
            if why is not None:
                bad.append((number, why, text, expect, got))
        total += len(vectors)
        total_bad += len(bad)
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        print(f"{shown}: {len(vectors) - len(bad)}/{len(vectors)}")
        for number, why, text, expect, got in bad[: args.show]:
            print(f"  line {number}: {why}")
            print(f"    input:  {text[:300]}")
            print(f"    expect: {json.dumps(expect, ensure_ascii=False)[:300]}")
            print(f"    got:    {json.dumps(got, ensure_ascii=False)[:300]}")
    print(f"total: {total - total_bad}/{total} agree")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main())
