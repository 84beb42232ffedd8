# tests/setup.bash -- the one prelude every tests/*.bats file loads:
#
#     load setup
#
# What a test gets:
#   - LC_ALL=C and TZ=UTC, so messages, sorting and dates are the same
#     everywhere;
#   - bats-support, bats-assert and bats-file (assert_output, assert_failure,
#     assert_file_exists, ...);
#   - its own empty directory, $BATS_TEST_TMPDIR, as the working directory
#     (done by setup(); a file that defines its own setup() must call
#     dml_setup first);
#   - DML_SRCDIR (the source tree, for test data) and DML_BUILDDIR (the
#     build tree), both exported by `make check' and guessed when bats is
#     run by hand;
#   - PATH with $DML_BUILDDIR/src, then $DML_BUILDDIR/tools (idx2csv, synth),
#     first;
#   - DML_WRAPPER: put it, unquoted, before every dml-* command, as in
#         run $DML_WRAPPER dml-train --version
#     It is empty by default; `make check DML_WRAPPER="valgrind -q
#     --error-exitcode=99"' reruns the suite under valgrind.
#   - require_program NAME: skip the test unless NAME is installed.
#
# Running one file by hand, from the source tree:
#     bats tests/basic.bats          (uses ./build if it exists, else .)

bats_require_minimum_version 1.5.0

export LC_ALL=C
export TZ=UTC

bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file

: "${DML_SRCDIR:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
if [[ -z ${DML_BUILDDIR-} ]]; then
	if [[ -x $DML_SRCDIR/build/config.status ]]; then
		DML_BUILDDIR=$DML_SRCDIR/build
	else
		DML_BUILDDIR=$DML_SRCDIR
	fi
fi
export DML_SRCDIR DML_BUILDDIR
export DML_WRAPPER=${DML_WRAPPER-}
export BLIS_NUM_THREADS=${BLIS_NUM_THREADS:-1}
export PATH="$DML_BUILDDIR/src:$DML_BUILDDIR/tools:$PATH"

# The dml binaries, for tests that loop over them.
# shellcheck disable=SC2034 # used by the .bats files
DML_PROGRAMS=(dml-partition dml-train dml-reduce dml-predict dml-inspect dml-ensemble)

dml_setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
}

setup() {
	dml_setup
}

require_program() {
	command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed"
}

# make_train_test TRAIN_ROWS TEST_ROWS: train.csv and test.csv in the
# current directory, two parts of one tools/synth data set.
make_train_test() {
	synth blobs -n $(($1 + $2)) --classes 3 --features 5 --seed 42 >all.csv
	head -n $(($1 + 1)) all.csv >train.csv
	{ head -n 1 all.csv; tail -n +$(($1 + 2)) all.csv; } >test.csv
	rm all.csv
}

# find_sshd: the sshd binary ($DML_SSHD first), or nothing.
find_sshd() {
	local p
	for p in "${DML_SSHD-}" "$(command -v sshd)" /usr/sbin/sshd /usr/local/sbin/sshd /sbin/sshd; do
		if [[ -n $p && -x $p ]]; then
			echo "$p"
			return
		fi
	done
}
