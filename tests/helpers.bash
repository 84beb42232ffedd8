# tests/helpers.bash -- helpers shared by the behaviour tests
# (train, reduce, partition, predict, inspect, errors).  Load after setup:
#
#     load setup
#     load helpers
#
# Test data comes from tools/synth (seeded, so every run sees the same
# bytes); tests/unit/ref-softmax is the independent reference solver.

# The reference solver, a check program: `make check' builds it.
REF_SOFTMAX=$DML_BUILDDIR/tests/unit/ref-softmax

# Extra options for the initial model of bsp_init.
BSP_OPTS=()

require_ref_softmax() {
	[[ -x $REF_SOFTMAX ]] ||
		fail "$REF_SOFTMAX is not built (make tests/unit/ref-softmax)"
}

# assert_close A B TOL [WHAT]: |A - B| <= TOL * max(1, |A|).
assert_close() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN {
		d = a - b; if (d < 0) d = -d
		m = a < 0 ? -a : a; if (m < 1) m = 1
		exit !(a == a + 0 && b == b + 0 && d <= t * m)
	}' || fail "${4:-values} differ by more than $3 (relative): $1 vs $2"
}

# assert_not_close A B TOL [WHAT]: the opposite, so a comparison is known
# to be able to fail.
assert_not_close() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN {
		d = a - b; if (d < 0) d = -d
		m = a < 0 ? -a : a; if (m < 1) m = 1
		exit !(d > t * m)
	}' || fail "${4:-values} agree within $3, but should not: $1 vs $2"
}

# json_value FILE KEY: a scalar of the first record's dml-inspect --json
# line (strings without their quotes).
json_value() {
	$DML_WRAPPER dml-inspect --json "$1" | head -n 1 |
		sed -n 's/.*"'"$2"'":"\{0,1\}\([^,"}]*\).*/\1/p'
}

# flip_bit FILE OFFSET MASK: XOR the byte at OFFSET with MASK, in place.
flip_bit() {
	local byte
	byte=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
	[[ -n $byte ]] || fail "flip_bit: $1 has no byte $2"
	# shellcheck disable=SC2059 # the format is the escaped byte
	printf "$(printf '\\%03o' $((byte ^ $3)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# label_column FILE [N]: the label texts of a synth file (last column by
# default), without the header.
label_column() {
	if [[ -n ${2-} ]]; then
		tail -n +2 "$1" | cut -d, -f"$2"
	else
		tail -n +2 "$1" | awk -F, '{ print $NF }'
	fi
}

# bsp_init MODEL SHARD...: the initial model from the shards' statistics.
bsp_init() {
	local model=$1 s
	shift
	for s in "$@"; do
		$DML_WRAPPER dml-train --emit stats -y label "$s" || return 1
	done | $DML_WRAPPER dml-reduce --expect $# |
		$DML_WRAPPER dml-train --apply - -a softmax "${BSP_OPTS[@]}" \
			-o "$model"
}

# bsp_rounds MODEL K SHARD...: K rounds of gradient, reduce, apply.
bsp_rounds() {
	local model=$1 k=$2 r s
	shift 2
	for ((r = 0; r < k; r++)); do
		for s in "$@"; do
			$DML_WRAPPER dml-train --emit gradient -m "$model" \
				"$s" || return 1
		done | $DML_WRAPPER dml-reduce --expect $# |
			$DML_WRAPPER dml-train --apply - -m "$model" \
				-o "$model" || return 1
	done
}

# Sanitizers reserve terabytes of address space, and a wrapper such as
# valgrind needs its own: the address-space tests need the plain binaries.
require_plain_binaries() {
	[[ -z $DML_WRAPPER ]] || skip "DML_WRAPPER is set"
	local bin=$DML_BUILDDIR/src/dml-inspect
	if grep -aq -e __asan_init -e __hwasan_init -e __msan_init \
		-e __tsan_init "$bin" ||
		{ command -v ldd > /dev/null &&
			ldd "$bin" 2> /dev/null | grep -q -e libasan -e libtsan; }; then
		skip "built with a sanitizer that reserves address space"
	fi
}
