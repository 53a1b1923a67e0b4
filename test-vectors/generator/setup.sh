#!/usr/bin/env bash
# Make test-vectors/generator/.venv: a throwaway virtualenv with Synapse pinned.
#
# Idempotent: does nothing when the right Synapse is already installed there.
# Needs python3 (3.10 or later) with the venv module, and access to PyPI.
# Use PYTHON=/path/to/python3 to pick the interpreter.
set -euo pipefail

SYNAPSE_VERSION=1.163.2
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi

installed() {
    .venv/bin/python -c "import importlib.metadata as m; print(m.version('matrix-synapse'))" 2>/dev/null
}

if [ "$(installed)" = "$SYNAPSE_VERSION" ]; then
    echo "matrix-synapse $SYNAPSE_VERSION already installed in $(pwd)/.venv"
    exit 0
fi

.venv/bin/pip install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
echo "matrix-synapse $(installed) installed in $(pwd)/.venv"
