#!/usr/bin/env bats
# The record corpus (tests/files/corpus, described in its README): every
# good file is read, every bad and unsupported one refused with its exact
# message, by dml-inspect, dml-reduce and dml-predict -m; nothing crashes,
# nothing allocates what a record merely claims; the fuzzers' regression
# inputs (fuzz/regressions) go through the programs without a crash.

load setup
load helpers

CORPUS=$DML_SRCDIR/tests/files/corpus
MAKE_CORPUS=$DML_BUILDDIR/tests/files/corpus/make-corpus
REGRESSIONS=$DML_SRCDIR/fuzz/regressions

# The address space the memory tests allow, in KiB (ulimit -v).
VMEM_KIB=204800

# check_expected PROGRAM: run PROGRAM on every corpus file the
# expectations name it for; report every line that does not hold.
check_expected() {
	local want=$1 file prog msg out bad=() n=0
	cd "$CORPUS" || return 1
	while IFS=$'\t' read -r file prog msg; do
		[[ $file == \#* || -z $file || $prog != "$want" ]] && continue
		n=$((n + 1))
		case $prog in
		dml-inspect)
			run --separate-stderr $DML_WRAPPER dml-inspect "$file" < /dev/null ;;
		dml-reduce)
			run --separate-stderr $DML_WRAPPER dml-reduce "$file" < /dev/null ;;
		dml-predict)
			run --separate-stderr $DML_WRAPPER dml-predict -m "$file" \
				input.csv < /dev/null ;;
		*) bad+=("$file: unknown program $prog"); continue ;;
		esac
		if [[ $msg == ok ]]; then
			if ((status != 0)) || [[ -n $stderr ]]; then
				bad+=("$prog $file: exit $status, expected 0: $stderr")
				continue
			fi
			case $prog in
			dml-reduce)
				# what it writes is a record every reader takes
				out=$BATS_TEST_TMPDIR/reduced.dml
				$DML_WRAPPER dml-reduce "$file" < /dev/null > "$out" &&
					$DML_WRAPPER dml-inspect "$out" > /dev/null ||
					bad+=("$prog $file: its output does not inspect")
				;;
			dml-predict)
				[[ ${#lines[@]} -eq 3 ]] ||
					bad+=("$prog $file: ${#lines[@]} predictions for 3 rows")
				;;
			esac
		elif ((status != 1)) || [[ $stderr != "$msg" ]]; then
			bad+=("$prog $file: exit $status, expected 1
    got:      $stderr
    expected: $msg")
		fi
	done < expected
	((n > 0)) || fail "no expectations for $want"
	if ((${#bad[@]})); then
		printf '%s\n' "${bad[@]}" >&2
		fail "${#bad[@]} of $n expectations of $want do not hold"
	fi
}

@test "every corpus file is described and has expectations" {
	cd "$CORPUS"
	local f missing=()
	for f in good-*.dml bad-*.dml unsupported-*.dml; do
		grep -q "^$f$" README || missing+=("$f: not in README")
		grep -q "^$f	dml-inspect	" expected ||
			missing+=("$f: no dml-inspect line in expected")
	done
	# and every expectation names a file that is there; the README
	# quotes each dml-inspect message as it is
	while IFS=$'\t' read -r f prog msg; do
		[[ $f == \#* || -z $f ]] && continue
		[[ -f $f ]] || missing+=("expected names $f, which is missing")
		if [[ $prog == dml-inspect && $msg != ok ]]; then
			grep -qF -- "${msg#"dml-inspect: $f: "}" README ||
				missing+=("$f: README does not quote '$msg'")
		fi
	done < expected
	((${#missing[@]} == 0)) || fail "$(printf '%s\n' "${missing[@]}")"
}

@test "the corpus is what make-corpus writes" {
	[[ -x $MAKE_CORPUS ]] ||
		fail "$MAKE_CORPUS is not built (make tests/files/corpus/make-corpus)"
	mkdir new
	"$MAKE_CORPUS" new
	(cd new && ls) > made
	(cd "$CORPUS" && ls -- *.dml input.csv) > committed
	diff -u committed made
	local f
	for f in $(cat made); do
		cmp "$CORPUS/$f" "new/$f" ||
			fail "$f differs from what make-corpus writes (regenerate: see tests/files/corpus/README)"
	done
}

@test "dml-inspect: good files pass, bad and unsupported ones fail with their message" {
	check_expected dml-inspect
}

@test "dml-reduce: the same files, the same messages with the record number" {
	check_expected dml-reduce
}

@test "dml-predict -m: models and ensembles predict, bad ones are refused" {
	check_expected dml-predict
}

@test "a damaged record on standard input or a pipe: the same message" {
	cd "$CORPUS"
	run --separate-stderr $DML_WRAPPER dml-inspect < bad-payload-crc.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-inspect: (standard input): record 1: checksum mismatch'
	run --separate-stderr bash -c "cat bad-payload-huge-claim.dml | $DML_WRAPPER dml-reduce"
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: (standard input): record 1: stream ends after 120 of 4294967296 payload bytes'
	# after two good records
	run --separate-stderr bash -c "cat good-stream.dml bad-weights-nan.dml | $DML_WRAPPER dml-inspect --field kind"
	assert_failure 1
	assert_output $'stats\nstats\nstats'
	assert_equal "$stderr" 'dml-inspect: (standard input): record 4: non-finite weight'
}

@test "records that claim huge sizes are refused before anything is allocated" {
	require_plain_binaries
	# every program says the same of every file in a 200 MiB address
	# space as without a limit: a record claiming 2^40 values, 4 GiB of
	# payload, 2^32 labels ... is refused for what it is, never with "out
	# of memory"
	cd "$CORPUS"
	local f prog msg limited unlimited bad=()
	while IFS=$'\t' read -r f prog msg; do
		[[ $f == \#* || -z $f ]] && continue
		local cmd="$prog $f"
		[[ $prog == dml-predict ]] && cmd="$prog -m $f input.csv"
		unlimited=$(bash -c "$cmd" 2>&1 < /dev/null > /dev/null) || :
		limited=$(bash -c "ulimit -v $VMEM_KIB && $cmd" 2>&1 \
			< /dev/null > /dev/null) || :
		[[ $limited == "$unlimited" ]] ||
			bad+=("$cmd: '$limited' with the limit, '$unlimited' without")
	done < expected
	((${#bad[@]} == 0)) || fail "$(printf '%s\n' "${bad[@]}")"
	# and on a pipe, where the size of the input is not known
	cd "$CORPUS"
	run bash -c "ulimit -v $VMEM_KIB && cat bad-payload-huge-claim.dml | dml-inspect"
	assert_failure 1
	assert_equal "$output" 'dml-inspect: (standard input): record 1: stream ends after 120 of 4294967296 payload bytes'
}

@test "a wide data set needs memory in proportion to its size" {
	require_plain_binaries
	# fuzz/regressions/csv-wide-row: one row of 32768 features (64 KiB,
	# after the two option bytes of the fuzz target).  Reading it must not
	# reserve room for a thousand rows of it (268 MB), nor partition it
	# into blocks of 4096 rows (537 MB a shard).
	tail -c +3 "$REGRESSIONS/csv-wide-row" > wide.csv
	run --separate-stderr bash -c "ulimit -v $VMEM_KIB &&
		dml-train --emit stats --no-header -y 1 wide.csv -o s.dml"
	assert_success
	assert_equal "$stderr" ""
	run --separate-stderr bash -c "ulimit -v $VMEM_KIB &&
		dml-partition -n 2 --format bin --no-header -y 1 -o 'w-%d.dml' wide.csv"
	assert_success
	# the same row as a binary data record
	dml-partition -n 1 --format bin --no-header -y 1 -o 'b-%d.dml' wide.csv
	run --separate-stderr bash -c "ulimit -v $VMEM_KIB &&
		dml-train --emit stats -y col1 b-0.dml -o s2.dml"
	assert_success
	assert_equal "$stderr" ""
}

# never_crashes PROG ARG...: exit 0 or 1, and at most one line on
# standard error, from the program itself (no sanitizer report, no
# abort).
never_crashes() {
	local prog=$1
	run --separate-stderr $DML_WRAPPER "$@"
	if ((status > 1)) || [[ $(grep -c '' <<< "$stderr") -gt 1 ]] ||
		[[ -n $stderr && $stderr != "$prog: "* ]]; then
		fail "$* (in $PWD): exit $status: $stderr"
	fi
}

@test "the fuzzers' regression inputs go through the programs without a crash" {
	local r n=0 model=$CORPUS/good-model-logistic.dml
	for r in "$REGRESSIONS"/record-*; do
		[[ -f $r ]] || continue
		n=$((n + 1))
		never_crashes dml-inspect "$r"
		never_crashes dml-reduce "$r"
		never_crashes dml-ensemble "$r"
		never_crashes dml-predict -m "$r" "$CORPUS/input.csv"
		never_crashes dml-train --apply "$r" -m "$model"
		never_crashes dml-train --emit gradient -m "$r" "$CORPUS/input.csv"
	done
	# the text and data targets' inputs start with two bytes of options
	for r in "$REGRESSIONS"/csv-* "$REGRESSIONS"/data-* \
		"$REGRESSIONS"/svm-*; do
		[[ -f $r ]] || continue
		n=$((n + 1))
		tail -c +3 "$r" > in
		never_crashes dml-train --emit stats -y label in
		never_crashes dml-train --emit stats --no-header -y 1 in
		never_crashes dml-train -a logistic -y label in
		never_crashes dml-train --emit gradient -m "$model" in
		never_crashes dml-predict -m "$model" in
		never_crashes dml-predict -m "$model" --eval in
		never_crashes dml-partition -n 2 -o 'p-%d' in
		never_crashes dml-partition -n 2 --format bin -y label -o 'q-%d' in
		never_crashes dml-inspect in
		never_crashes dml-train --emit stats --input-format svmlight in
		never_crashes dml-partition -n 2 --format bin --features 3 \
			--input-format svmlight -o 'r-%d' in
	done
	((n > 0)) || fail "no regression inputs in $REGRESSIONS"
}
