#!/usr/bin/env bash
# Run the fast test suite (pytest -m "not slow") on every Python version given that is installed here, each in its
# own virtualenv, and print one result line per version. Used by `make test-versions`.
#
# Usage: scripts/test_versions.sh 3.11 3.12 3.13
# Environment: NODEPS (packages installed with --no-deps, from the Makefile), VENV (the main virtualenv, reused for
# its own version), VERSIONS_VENV_PREFIX (default ".venv-": the venv of version X is "${prefix}X"), PYTEST_ARGS
# (extra pytest arguments).
# An interpreter is looked for as pythonX on PATH, then in pyenv. A version outside pyproject.toml's requires-python is
# skipped with the reason, as is an absent one. Exit status: 1 if any present, supported version failed.
set -uo pipefail

cd "$(dirname "$0")/.."
PREFIX=${VERSIONS_VENV_PREFIX:-.venv-}
MAIN_VENV=${VENV:-.venv}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
summary=()
failed=0

find_python() {  # the interpreter of version $1, or nothing
  local v=$1 p
  if p=$(command -v "python$v" 2>/dev/null) && "$p" -c 'import sys' 2>/dev/null; then echo "$p"; return; fi
  if command -v pyenv >/dev/null 2>&1; then
    p=$(pyenv prefix "$v" 2>/dev/null | tail -1)
    if [ -n "$p" ] && [ -x "$p/bin/python$v" ]; then echo "$p/bin/python$v"; return; fi
  fi
  for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v"; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
}

supported() {  # prints nothing if interpreter $1 satisfies requires-python, else the reason
  "$1" - <<'EOF' 2>&1 || echo "its requires-python check failed"
import operator, re, sys
# A regular expression, not tomllib: the interpreter under test may predate it.
found = re.search(r'^requires-python\s*=\s*"([^"]*)"', open("pyproject.toml").read(), re.M)
spec = found.group(1) if found else ""
ops = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne}
have = sys.version_info[:2]
for clause in filter(None, (c.strip() for c in spec.split(","))):
    op, ver = re.fullmatch(r"(>=|<=|==|!=|>|<)\s*([\d.]+)", clause).groups()
    want = tuple(int(x) for x in ver.split(".")[:2])
    if not ops[op](have, want):
        print(f"outside requires-python {spec!r} (pyproject.toml says which dependencies block it)")
        break
EOF
}

for v in "$@"; do
  py=$(find_python "$v")
  if [ -z "$py" ]; then
    echo "== Python $v: not installed here, skipped"
    summary+=("$v: skipped (not installed)")
    continue
  fi
  why=$(supported "$py")
  if [ -n "$why" ]; then
    echo "== Python $v: $why, skipped"
    summary+=("$v: skipped ($why)")
    continue
  fi
  venv="$PREFIX$v"
  if [ -x "$MAIN_VENV/bin/python" ] && [ "$("$MAIN_VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$v" ]; then
    venv=$MAIN_VENV  # `make setup` already installed it
  fi
  stamp="$venv/.installed-stamp"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ Makefile -nt "$stamp" ]; then
    echo "== Python $v: installing into $venv ($py)"
    { [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"; } &&
      "$venv/bin/python" -m pip install -q --upgrade pip &&
      "$venv/bin/python" -m pip install -q -e ".[dev,tts-piper]" &&
      { [ -z "${NODEPS:-}" ] || "$venv/bin/python" -m pip install -q --no-deps $NODEPS; } &&
      touch "$stamp"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
      echo "== Python $v: install failed"
      summary+=("$v: install failed")
      failed=1
      continue
    fi
  fi
  echo "== Python $v: pytest -m 'not slow' ($venv)"
  log=$(mktemp)
  # shellcheck disable=SC2086  # PYTEST_ARGS is a list of words
  "$venv/bin/python" -m pytest -q -m "not slow" -p no:cacheprovider ${PYTEST_ARGS:-} 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|^(=+ )?(no tests ran|[0-9]+ error)' "$log" | tail -1 | tr -d '=' | xargs)
  rm -f "$log"
  summary+=("$v: ${line:-pytest exit $rc} ($("$venv/bin/python" -c 'import platform; print(platform.python_version())'))")
  [ "$rc" -eq 0 ] || failed=1
done

echo
echo "== test-versions summary"
printf '  %s\n' "${summary[@]}"
exit $failed
