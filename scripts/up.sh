#!/usr/bin/env bash
# Set up, then run a single-host cluster (a master and one agent on 127.0.0.1). Ctrl-C stops it.
# Extra arguments go to `dcos-core local`, e.g. `bash scripts/up.sh --agents 3`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/dcos-core local --work-dir "${DCOS_LOCAL_WORK_DIR:-/tmp/dcos-core-local}" "$@"
