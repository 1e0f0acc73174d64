# Sourced by scripts/run and scripts/test: make .venv and install Steward into it, once per change
# of pyproject.toml or requirements.lock (a marker holds their hash, so a second run skips pip
# entirely). requirements.lock pins every dependency (constraints: installs are reproducible);
# regenerate it with scripts/lock after changing dependencies.
# Usage: ensure_venv EXTRAS   (e.g. "local" or "local,test")
ensure_venv() {
  local extras="$1" python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Steward needs Python 3.11 or newer (found: $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    return 1
  fi
  [ -x .venv/bin/python ] || { echo "==> creating .venv"; "$python" -m venv .venv; }
  local want; want="$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)-$extras"
  if [ "$(cat .venv/.steward-installed 2>/dev/null)" != "$want" ]; then
    echo "==> installing Steward and its dependencies into .venv ($extras; first time takes a few minutes)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    # torch is pinned to the CPU build (2.13.0); installing it first keeps pip from choosing a CUDA build.
    .venv/bin/python -m pip install --quiet -c requirements.lock "torch==2.13.0"
    .venv/bin/python -m pip install --quiet -c requirements.lock -e ".[$extras]"
    echo "$want" > .venv/.steward-installed
  fi
}
