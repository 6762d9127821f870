#!/bin/sh
#
# Check the BR2_EXTERNAL tree against a real Buildroot checkout:
#  1. for every configs/*_defconfig: "make <defconfig>" with this tree as
#     BR2_EXTERNAL, then every BR2_* line of the defconfig (and every
#     "# BR2_* is not set" line) must be found unchanged in the resulting
#     .config: Kconfig silently drops unknown or unsatisfiable symbols;
#  2. Buildroot's utils/check-package --br2-external on all our files.
#
# Usage: BUILDROOT_DIR=/path/to/buildroot buildroot/test.sh
# Without BUILDROOT_DIR the test is skipped (exit 0). Needs host gcc and
# make (for Kconfig), python3 with the "magic" and "flake8" modules and
# the shellcheck tool (for check-package). Buildroot's own files never enter this
# repository: the output directories are temporary.

set -u

EXT_DIR=$(cd "$(dirname "$0")" && pwd)

if [ -z "${BUILDROOT_DIR:-}" ]; then
	echo "SKIP: BUILDROOT_DIR not set (point it at a Buildroot checkout to test buildroot/)"
	exit 0
fi
if [ ! -f "${BUILDROOT_DIR}/Makefile" ] || [ ! -d "${BUILDROOT_DIR}/package" ]; then
	echo "FAIL: BUILDROOT_DIR=${BUILDROOT_DIR} is not a Buildroot tree"
	exit 1
fi
BUILDROOT_DIR=$(cd "${BUILDROOT_DIR}" && pwd)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/segl-br-test.XXXXXX")
trap 'rm -rf "${WORK}"' EXIT INT TERM

failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

echo "Buildroot: ${BUILDROOT_DIR} ($(make -s -C "${BUILDROOT_DIR}" --no-print-directory print-version 2>/dev/null || echo unknown version))"
echo "BR2_EXTERNAL: ${EXT_DIR}"

# 1. defconfigs
ndefconfigs=0
for defconfig in "${EXT_DIR}"/configs/*_defconfig; do
	name=${defconfig##*/}
	out="${WORK}/${name}"
	ndefconfigs=$((ndefconfigs + 1))
	if ! make -C "${BUILDROOT_DIR}" O="${out}" BR2_EXTERNAL="${EXT_DIR}" \
		"${name}" > "${WORK}/${name}.log" 2>&1; then
		fail "${name}: make ${name} failed:"
		sed 's/^/    /' "${WORK}/${name}.log"
		continue
	fi
	# The box's time zone needs the zoneinfo (segl-netd, /etc/localtime).
	grep -qx 'BR2_TARGET_TZ_INFO=y' "${defconfig}" ||
		fail "${name}: BR2_TARGET_TZ_INFO=y missing (segl-netd applies the time zone)"
	total=0
	lost=0
	while IFS= read -r line; do
		case "${line}" in
		BR2_*|"# BR2_"*" is not set") ;;
		*) continue ;;
		esac
		total=$((total + 1))
		if ! grep -qxF -- "${line}" "${out}/.config"; then
			lost=$((lost + 1))
			symbol=${line#\# }
			symbol=${symbol%%[= ]*}
			now=$(grep -E "^(# )?${symbol}[= ]" "${out}/.config" || echo "(absent)")
			fail "${name}: '${line}' did not survive into .config, there: ${now}"
		fi
	done < "${defconfig}"
	if [ "${lost}" -eq 0 ]; then
		echo "ok: ${name}: ${total}/${total} symbols survive into .config"
	else
		echo "NOT ok: ${name}: $((total - lost))/${total} symbols survive into .config"
	fi
	# package/segl/segl.mk is parsed and builds the local checkout.
	vars=$(make -s -C "${BUILDROOT_DIR}" O="${out}" --no-print-directory \
		printvars VARS='SEGL_SITE_METHOD SEGL_SITE' 2>&1)
	if echo "${vars}" | grep -qx 'SEGL_SITE_METHOD=local' &&
		echo "${vars}" | grep -qx "SEGL_SITE=$(cd "${EXT_DIR}/.." && pwd -P)"; then
		echo "ok: ${name}: segl.mk builds the local checkout ($(echo "${vars}" | grep '^SEGL_SITE='))"
	else
		fail "${name}: unexpected segl package variables: ${vars}"
	fi
done
if [ "${ndefconfigs}" -eq 0 ]; then
	fail "no defconfigs in ${EXT_DIR}/configs"
fi

# 2. check-package, run with a python that has its modules.
python=""
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import magic, flake8' 2>/dev/null; then
		python=$p
		break
	fi
done
if [ -z "${python}" ]; then
	fail "check-package needs python3 with the magic and flake8 modules (e.g. apt-get install python3-magic python3-flake8)"
elif ! command -v shellcheck > /dev/null 2>&1; then
	fail "check-package needs shellcheck (e.g. apt-get install shellcheck)"
else
	files=$(cd "${EXT_DIR}" && find . -type f ! -name '*.md' | sed 's~^\./~~' | sort)
	# shellcheck disable=SC2086 # one argument per file; our names have no spaces
	if (cd "${EXT_DIR}" && "${python}" "${BUILDROOT_DIR}/utils/check-package" \
		--br2-external ${files}) > "${WORK}/check-package.log" 2>&1; then
		echo "ok: check-package: $(tail -n 2 "${WORK}/check-package.log" | tr '\n' ' ')"
	else
		fail "check-package --br2-external reported problems:"
		sed 's/^/    /' "${WORK}/check-package.log"
	fi
fi

if [ "${failures}" -ne 0 ]; then
	echo "FAIL: ${failures} problem(s)"
	exit 1
fi
echo "PASS: ${ndefconfigs} defconfigs, check-package clean"
