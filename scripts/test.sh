#!/usr/bin/env bash
# Installs everything the tests need, then runs the whole suite.
#  - Debian packages: bubblewrap (candidate sandbox), chromium + chromium-driver (dashboard tests),
#    postgresql (storage conformance against a real server). Installed only when missing and root.
#  - Python: evoforge with its test extras, the embedded model, Ray, the PostgreSQL driver and the
#    dashboard's plotting. llama-cpp-python compiles from
#    source (about 9 minutes on 2 cores) the first time; pip caches the built wheel afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

need=()
for pkg in bubblewrap chromium chromium-driver postgresql; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}") \
      >/tmp/evoforge-apt.log 2>&1 || echo "warning: apt-get failed (see /tmp/evoforge-apt.log); tests needing ${need[*]} will be skipped"
  else
    echo "warning: missing Debian packages ${need[*]} (not root): tests needing them will be skipped"
  fi
fi

bash scripts/build_pmars.sh >/tmp/evoforge-pmars.log 2>&1 || echo "note: no headless pMARS (see /tmp/evoforge-pmars.log): its differential tests will be skipped"

$PY -m pip install -q -e ".[test,embedded,ray,postgres,dashboard]" 2>&1 | grep -v -E "^WARNING: (Location|Running pip)" || true
$PY -c "import evoforge, llama_cpp" >/dev/null
set +e
# In parallel (pytest-xdist): one worker per core, at most 4 (each may start its own PostgreSQL
# and Chromium); the Ray tests share one worker (tests/conftest.py). EVOFORGE_TEST_WORKERS=0
# runs everything in this process.
workers=${EVOFORGE_TEST_WORKERS:-auto}
if [ "$workers" = 0 ]; then parallel=(); else parallel=(-n "$workers" --maxprocesses 4 --dist loadgroup); fi
$PY -m pytest -q -p no:cacheprovider --durations=25 "${parallel[@]}" "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then echo "no tests were collected"; exit 1; fi
exit $rc
