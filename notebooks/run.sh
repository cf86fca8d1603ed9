#!/usr/bin/env bash
# Executes Odeflow's notebooks headless, as CI does:
#
#	notebooks/run.sh                        # QUICK mode unless ODEFLOW_NB_QUICK=0
#	ODEFLOW_NB_QUICK=0 notebooks/run.sh     # full mode: the real results (see README.md)
#	notebooks/run.sh 2_realnvp_ring.ipynb   # only the notebooks named
#
# It builds the odeflow command once, runs every notebook with
# `jupyter nbconvert --execute` on Debian's python3 (numpy, matplotlib,
# ipykernel), and fails on the first cell error. The notebooks in the
# repository are never modified: the executed copies, the figures and every
# file the notebooks write go to a temporary directory, which is removed at
# the end unless ODEFLOW_NB_KEEP=1 (or ODEFLOW_NB_OUT=DIR names a directory
# to use and keep).
#
# Missing tools (jupyter nbconvert, the python3 kernel, numpy, matplotlib)
# are installed with apt-get when the script runs as root on Debian;
# otherwise it says what to install.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# Debian's interpreter and jupyter first: a python3 of pyenv or a virtualenv
# earlier on PATH may lack numpy or ipykernel.
export PATH="/usr/bin:/bin:$PATH"
export ODEFLOW_NB_QUICK="${ODEFLOW_NB_QUICK:-1}"

# python_ok PY: PY imports everything a notebook kernel needs.
python_ok() { "$1" -c 'import numpy, matplotlib, ipykernel' >/dev/null 2>&1; }

find_python() {
	local p
	for p in /usr/bin/python3 "$(command -v python3 || true)"; do
		if [ -n "$p" ] && [ -x "$p" ] && python_ok "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

deps_ok() {
	command -v jupyter >/dev/null 2>&1 && jupyter nbconvert --version >/dev/null 2>&1 && find_python >/dev/null
}

debs="jupyter-nbconvert python3-ipykernel python3-numpy python3-matplotlib"
if ! deps_ok; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "run.sh: installing $debs" >&2
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $debs >/dev/null
	fi
	if ! deps_ok; then
		echo "run.sh: need jupyter nbconvert and a python3 with numpy, matplotlib and ipykernel" >&2
		echo "run.sh: on Debian or Ubuntu: sudo apt-get install $debs" >&2
		exit 1
	fi
fi
py=$(find_python)
command -v go >/dev/null 2>&1 || { echo "run.sh: the go command is needed to build odeflow" >&2; exit 1; }

if [ -n "${ODEFLOW_NB_OUT:-}" ]; then
	tmp=$ODEFLOW_NB_OUT
	mkdir -p "$tmp"
else
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/odeflow-notebooks.XXXXXX")
	if [ "${ODEFLOW_NB_KEEP:-0}" = 0 ]; then
		trap 'rm -rf "$tmp"' EXIT
	fi
fi
mkdir -p "$tmp/work" "$tmp/jupyter/kernels/python3"

# A kernelspec named python3 that runs exactly $py. JUPYTER_PATH comes
# before the user's and the system's kernel directories, so no other
# "python3" kernel can be picked; the notebooks check sys.executable
# against ODEFLOW_NB_PYTHON.
cat >"$tmp/jupyter/kernels/python3/kernel.json" <<JSON
{"argv": ["$py", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
 "display_name": "Python 3 (odeflow notebooks)", "language": "python"}
JSON
export JUPYTER_PATH="$tmp/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export ODEFLOW_NB_PYTHON="$py"
# The notebooks' scratch directories, and where they find the binary and
# the repository (notebook 4 builds bench/odecompare).
export ODEFLOW_NB_TMPDIR="$tmp/work"
export ODEFLOW_REPO="$repo"
export ODEFLOW_BIN="$tmp/odeflow"
# Keep the kernel's debugger quiet about frozen modules.
export PYDEVD_DISABLE_FILE_VALIDATION=1

(cd "$repo" && go build -o "$ODEFLOW_BIN" ./cmd/odeflow)

if [ $# -gt 0 ]; then
	notebooks=()
	for n in "$@"; do notebooks+=("$here/$(basename "$n")"); done
else
	notebooks=("$here"/[0-9]*.ipynb)
fi
mode=QUICK
[ "$ODEFLOW_NB_QUICK" = 0 ] && mode=full
echo "run.sh: $mode mode, $py, $(jupyter nbconvert --version 2>/dev/null | tail -1) nbconvert"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
total_start=$(now)
for nb in "${notebooks[@]}"; do
	[ -f "$nb" ] || { echo "run.sh: no notebook $nb" >&2; exit 1; }
	name=$(basename "$nb")
	start=$(now)
	if ! (cd "$here" && jupyter nbconvert --to notebook --execute \
		--ExecutePreprocessor.timeout=600 \
		--ExecutePreprocessor.kernel_name=python3 \
		--output-dir "$tmp" "$nb") >"$tmp/$name.log" 2>&1; then
		grep -v -e 'frozen modules' -e 'Debugger warning' -e 'PYDEVD' -e 'breakpoints' "$tmp/$name.log" >&2 || true
		echo "run.sh: FAILED $name" >&2
		exit 1
	fi
	printf '%-32s %6s s\n' "$name" "$(elapsed "$start")"
done
printf '%-32s %6s s\n' "total" "$(elapsed "$total_start")"
if [ -n "${ODEFLOW_NB_OUT:-}" ] || [ "${ODEFLOW_NB_KEEP:-0}" != 0 ]; then
	echo "run.sh: executed notebooks and figures in $tmp"
fi
