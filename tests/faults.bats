#!/usr/bin/env bats
# tests/faults.bats -- distributed training breaks in the field in known
# ways; each test here breaks one thing on purpose, for real, and checks
# that dml stops with an exact message and a non-zero exit instead of
# producing a wrong model, and that the loop can be resumed:
#
#   - a worker SIGKILLed while it writes its record (a real kill: the
#     record is bigger than a pipe, so the worker is caught blocked in
#     write(2) with part of it sent);
#   - a worker that dies before it writes, and one that never reports
#     (stopped with SIGSTOP, as a hung machine is);
#   - a worker run twice (speculative execution, a retry);
#   - dml-train SIGKILLed at random points while it writes -o;
#   - examples/bsp-local.sh SIGKILLed at several points and resumed;
#   - a full disk (a small tmpfs), and broken pipes.
#
# The messages are the ones the README's "Failure behaviour" section shows
# an operator.  Bad records and bad CSV on their own are in errors.bats.

load setup
load helpers

setup_file() {
	bats_require_minimum_version 1.5.0
	cd "$BATS_FILE_TMPDIR" || return 1
	# wide: 400 features and 10 classes, so that a gradient record
	# (96 KiB) is bigger than a pipe (64 KiB) and its writer blocks
	synth blobs -n 300 --classes 10 --features 400 --seed 11 >wide.csv
	dml-partition -n 3 -o 'w-%d.csv' wide.csv
	local i
	for i in 0 1 2; do
		dml-train --emit stats -y label "w-$i.csv"
	done | dml-reduce --expect 3 | dml-train --apply - -a softmax -o m0.dml
	for i in 0 1 2; do
		dml-train --emit gradient -m m0.dml "w-$i.csv" -o "g-$i.dml"
	done
	dml-reduce --expect 3 g-0.dml g-1.dml g-2.dml -o sum.dml
	# small: for whole training loops
	synth blobs -n 800 --classes 3 --features 5 --seed 42 >small.csv
}

setup() {
	dml_setup
	D=$BATS_FILE_TMPDIR
	EX=$DML_SRCDIR/examples
	# the bound on a round that has a hung worker: short, but long enough
	# for the others under a DML_WRAPPER such as valgrind
	T=2
	[[ -z $DML_WRAPPER ]] || T=60
	# processes a test leaves behind on purpose (stopped workers, loops)
	# write their pids here; teardown kills them whatever happened
	PIDS=$BATS_TEST_TMPDIR/pids
}

teardown() {
	local p
	if [[ -f $PIDS ]]; then
		while read -r p; do
			kill -KILL "$p" 2>/dev/null || true
		done <"$PIDS"
	fi
	if [[ -f $BATS_TEST_TMPDIR/loop.pid ]]; then
		kill -KILL -- "-$(cat "$BATS_TEST_TMPDIR/loop.pid")" 2>/dev/null || true
	fi
	if mountpoint -q "$BATS_TEST_TMPDIR/full" 2>/dev/null; then
		umount "$BATS_TEST_TMPDIR/full" || umount -l "$BATS_TEST_TMPDIR/full"
	fi
}

# leaf FILE: the leaf identity of a one-leaf record.
leaf() {
	$DML_WRAPPER dml-inspect "$1" | sed -n 's/^  leaves *//p'
}

# blocked_writing PID: PID sleeps in write(2) on a full pipe.
blocked_writing() {
	local wchan sys
	wchan=$(cat "/proc/$1/wchan" 2>/dev/null) || return 1
	case $wchan in *pipe_write* | pipe_wait_writable) return 0 ;; esac
	sys=$(cat "/proc/$1/syscall" 2>/dev/null) || return 1
	[[ $sys == "1 0x1 "* ]] # x86-64: write(1, ...)
}

# kill_mid_write OUT CMD...: run CMD with its standard output into a pipe
# that nobody reads yet; once CMD is blocked writing (its record is bigger
# than the pipe), SIGKILL it, then copy what it wrote -- the first 64 KiB
# of its record -- to OUT ('-': standard output).  Returns CMD's status,
# 137 when the kill landed; 99 if CMD was never seen blocked.
kill_mid_write() {
	local out=$1 fifo pid i keep rd st blocked=no
	shift
	fifo=$(mktemp -u "$BATS_TEST_TMPDIR/cut.XXXXXX")
	mkfifo "$fifo"
	exec {keep}<>"$fifo" # a reader, so CMD can open the pipe
	"$@" >"$fifo" {keep}>&- &
	pid=$!
	for ((i = 0; i < 400; i++)); do
		if blocked_writing "$pid"; then
			blocked=yes
			break
		fi
		sleep 0.025
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid"
	st=$?
	exec {rd}<"$fifo"
	exec {keep}>&-
	rm -f "$fifo"
	if [[ $out == - ]]; then
		cat <&$rd
	else
		cat <&$rd >"$out"
	fi
	exec {rd}<&-
	[[ $blocked == yes ]] || return 99
	return "$st"
}

# make_shim: $BATS_TEST_TMPDIR/shim/dml-train, a dml-train that runs the
# real one but, at the point DML_FAULT names, breaks something:
#   kill-loop:stats       SIGKILL the loop (the process group in loop.pid)
#                         as its stats round starts
#   kill-loop:gradient:N  ... as its N-th gradient round starts
#   kill-loop:apply:N     ... just after its N-th --apply wrote the model
#   cut:N                 SIGKILL the worker of shard 1 in the N-th
#                         gradient round while it writes its record
#   hang:N                stop (SIGSTOP) that worker before it writes
# Put the shim first in PATH to use it; counters live in $FAULT_STATE.
make_shim() {
	mkdir -p shim
	{
		echo '#!/usr/bin/env bash'
		declare -f blocked_writing kill_mid_write
		cat <<-'EOF'
			real=$DML_BUILDDIR/src/dml-train
			args=" $* "
			count() {
				local n
				n=$(($(cat "$FAULT_STATE/$1" 2>/dev/null || echo 0) + 1))
				echo "$n" >"$FAULT_STATE/$1"
				[[ $n == "${DML_FAULT##*:}" ]]
			}
			kill_loop() {
				# this loop's group only: a straggler of a loop
				# killed before must not kill the next one
				kill -KILL -- "-$(cat "$BATS_TEST_TMPDIR/loop-$LOOP_TOKEN.pid")"
				kill -KILL $$
			}
			case $DML_FAULT:$args in
			kill-loop:stats:*" --emit stats "*)
				kill_loop ;;
			kill-loop:gradient:*" --emit gradient "*shard-0.*)
				count gradient && kill_loop ;;
			kill-loop:apply:*" --apply "*)
				if count apply; then
					$DML_WRAPPER "$real" "$@"
					kill_loop
				fi ;;
			cut:*" --emit gradient "*shard-1.*)
				if count gradient; then
					kill_mid_write - $DML_WRAPPER "$real" "$@"
					kill -KILL $$
				fi ;;
			hang:*" --emit gradient "*shard-1.*)
				if count gradient; then
					echo $$ >>"$PIDS"
					kill -STOP $$
				fi ;;
			esac
			exec $DML_WRAPPER "$real" "$@"
		EOF
	} >shim/dml-train
	chmod +x shim/dml-train
	export FAULT_STATE=$BATS_TEST_TMPDIR/fault-state PIDS BATS_TEST_TMPDIR
	mkdir -p "$FAULT_STATE"
}

# loop FAULT VAR=VALUE...: run examples/bsp-local.sh on small.csv through
# the shim with DML_FAULT=FAULT ('' for none) and the settings given, in
# its own process group (its leader's pid in loop.pid), with MODEL
# model.dml, stdout in loop.out and stderr in loop.err; sets $status.
loop() {
	local fault=$1 i
	shift
	rm -rf "$FAULT_STATE" loop.pid
	mkdir -p "$FAULT_STATE" tmp
	LOOP_TOKEN=$((${LOOP_TOKEN:-0} + 1))
	env DML_FAULT="$fault" LOOP_TOKEN="$LOOP_TOKEN" \
		PATH="$BATS_TEST_TMPDIR/shim:$PATH" \
		TMPDIR="$BATS_TEST_TMPDIR/tmp" WORKDIR="$BATS_TEST_TMPDIR/work" \
		MODEL=model.dml WORKERS=4 MAX_ITER=5 "$@" \
		setsid bash -c 'echo $$ >loop.pid; echo $$ >"loop-$LOOP_TOKEN.pid"
			exec "$@"' loop \
		"$EX/bsp-local.sh" "$D/small.csv" >loop.out 2>loop.err 3>&- &
	wait $! && status=0 || status=$?
	# setsid runs bash in place unless it had to fork: then wait here
	for ((i = 0; i < 100; i++)); do
		kill -0 "$(cat loop.pid)" 2>/dev/null || break
		sleep 0.1
	done
}

# ---- a worker killed mid-stream ---------------------------------------------

@test "a worker SIGKILLed while writing: dml-reduce names the input and the cut record, writes nothing" {
	cp "$D"/g-0.dml "$D"/g-2.dml "$D"/m0.dml .
	# as when ssh w1 'dml-train ...' > w1.dml is killed on its way
	run kill_mid_write w1.dml $DML_WRAPPER dml-train --emit gradient \
		-m m0.dml "$D/w-1.csv"
	assert_equal "$status" 137
	local got full
	got=$(wc -c <w1.dml)
	full=$(wc -c <g-0.dml)
	((got > 80 && got < full)) || fail "$got of $full bytes came through"
	run --separate-stderr $DML_WRAPPER dml-reduce --expect 3 -o sum.dml \
		g-0.dml w1.dml g-2.dml
	assert_failure 1
	assert_equal "$stderr" "dml-reduce: w1.dml: record 1: stream ends after $((got - 80)) of $((full - 88)) payload bytes"
	assert_output ""
	# no file, no temporary (but bats' own)
	run bash -c "ls -A | grep -v '^separate-stderr-'"
	assert_output $'g-0.dml\ng-2.dml\nm0.dml\nw1.dml'
	# to standard output: nothing at all
	run --separate-stderr $DML_WRAPPER dml-reduce --expect 3 g-0.dml w1.dml g-2.dml
	assert_failure 1
	assert_output ""
	# the cut record last in a stream
	run --separate-stderr bash -c "cat g-0.dml g-2.dml w1.dml | $DML_WRAPPER dml-reduce --expect 3"
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "dml-reduce: (standard input): record 3: stream ends after $((got - 80)) of $((full - 88)) payload bytes"
	# a cut record followed by a whole one (GNU parallel passes on what a
	# killed worker wrote, then another's output): where the next starts
	local cut="cut short after $((got - 80)) of $((full - 88)) payload bytes, where another record starts"
	run --separate-stderr bash -c "cat g-0.dml w1.dml g-2.dml | $DML_WRAPPER dml-reduce --expect 3"
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "dml-reduce: (standard input): record 2: $cut"
	# ... and the stream ends before the cut record's length is read
	run --separate-stderr bash -c "{ head -c 1000 g-0.dml; head -c 100 g-2.dml; } | $DML_WRAPPER dml-reduce --expect 3"
	assert_failure 1
	assert_equal "$stderr" "dml-reduce: (standard input): record 1: cut short after 920 of $((full - 88)) payload bytes, where another record starts"
	# a record damaged inside is still a checksum mismatch
	cp g-2.dml bad.dml
	printf 'X' | dd of=bad.dml bs=1 seek=200 conv=notrunc status=none
	run --separate-stderr $DML_WRAPPER dml-reduce g-0.dml bad.dml
	assert_failure 1
	assert_equal "$stderr" "dml-reduce: bad.dml: record 1: checksum mismatch"
}

@test "a worker SIGKILLed mid-stream stops examples/bsp-local.sh; the model keeps its last round" {
	require_program parallel
	make_shim
	run bash -c "PATH='$BATS_TEST_TMPDIR/shim':\$PATH DML_FAULT=cut:2 \
		TMPDIR='$BATS_TEST_TMPDIR' WORKDIR='$BATS_TEST_TMPDIR/work' \
		WORKERS=3 MAX_ITER=5 MODEL=model.dml \
		'$EX/bsp-local.sh' '$D/wide.csv' 2>loop.err"
	assert_failure
	refute_output --partial status
	local full
	full=$(wc -c <"$D/g-0.dml")
	# GNU parallel passes on what the killed worker wrote, and stops the
	# others; dml-reduce refuses it (cut short: last in the stream, or
	# followed by the output of a worker that ended at the same time)
	run grep '^dml-reduce: ' loop.err
	assert_output --regexp "^dml-reduce: \(standard input\): record [1-3]: (stream ends|cut short) after [0-9]+ of $((full - 88)) payload bytes(, where another record starts)?$"
	grep -q '^parallel: This job failed:' loop.err
	# the model is whole, from the last complete round (the first)
	run $DML_WRAPPER dml-inspect --field iteration,status model.dml
	assert_success
	assert_output $'1\trunning'
}

# ---- a worker that never reports --------------------------------------------

@test "a worker that dies before it writes: --expect stops the round" {
	cp "$D"/m0.dml model.dml
	# SIGKILLed before a byte went out (the OOM killer, a lost host)
	# (bash reports the killed worker too: only dml's lines are kept)
	run bash -c "set -o pipefail
		( { $DML_WRAPPER dml-train --emit gradient -m model.dml '$D/w-0.csv'
		    bash -c 'kill -KILL \$\$; exec dml-train --emit gradient -m model.dml \"\$1\"' _ '$D/w-1.csv'
		    $DML_WRAPPER dml-train --emit gradient -m model.dml '$D/w-2.csv'
		  } | $DML_WRAPPER dml-reduce --expect 3 |
		  $DML_WRAPPER dml-train --apply - -m model.dml -o model.dml
		) 2>&1 | grep '^dml-'"
	assert_failure 1
	assert_output "dml-reduce: expected 3 contributions, got 2 (from 2 records)
dml-train: (standard input): empty input (no record)"
	cmp "$D/m0.dml" model.dml
}

@test "a worker that never reports: dml-reduce --timeout fails the round in bounded time" {
	cp "$D"/m0.dml model.dml
	# worker 1 is stopped before it writes, its pipe open: a hung host
	SECONDS=0
	run --separate-stderr bash -c "
		{ $DML_WRAPPER dml-train --emit gradient -m model.dml '$D/w-0.csv'
		  bash -c 'echo \$\$ >>\"\$1\"; kill -STOP \$\$; exec dml-train --emit gradient -m model.dml \"\$2\"' _ '$PIDS' '$D/w-1.csv' &
		  $DML_WRAPPER dml-train --emit gradient -m model.dml '$D/w-2.csv'
		} | $DML_WRAPPER dml-reduce --expect 3 --timeout $T |
		$DML_WRAPPER dml-train --apply - -m model.dml -o model.dml"
	local took=$SECONDS
	((took < T + 13)) || fail "the round took $took s"
	assert_failure 1
	assert_equal "$stderr" "dml-reduce: timed out after $T s with 2 contributions reduced; no output written
dml-train: (standard input): empty input (no record)"
	cmp "$D/m0.dml" model.dml
	# the worker is still there, stopped: the operator's to deal with
	kill -0 "$(head -n 1 "$PIDS")"
}

@test "a hung worker in examples/bsp-local.sh with TIMEOUT: the loop stops in bounded time and resumes" {
	require_program parallel
	make_shim
	loop ''
	assert_equal "$status" 0
	mv model.dml ref.dml
	mv loop.out ref.out
	SECONDS=0
	loop hang:3 TIMEOUT=$T
	local took=$SECONDS
	((took < T + 28)) || fail "the loop took $took s"
	assert_equal "$status" 1
	run grep '^dml-[a-z]*: ' loop.err
	assert_output "dml-reduce: timed out after $T s with 3 contributions reduced; no output written
dml-train: (standard input): empty input (no record)"
	run $DML_WRAPPER dml-inspect --field iteration model.dml
	assert_output 2
	# the stopped worker was killed by parallel --timeout
	run kill -0 "$(head -n 1 "$PIDS")"
	assert_failure
	loop '' RESUME=yes TIMEOUT=$T
	assert_equal "$status" 0
	cmp ref.dml model.dml
	cmp ref.out loop.out
}

# ---- a worker run twice -------------------------------------------------------

@test "a shard reduced twice (speculative execution, a retry) is refused" {
	local l1
	l1=$(leaf "$D/g-1.dml")
	[[ $l1 =~ ^[0-9a-f]{16}$ ]] || fail "leaf: $l1"
	# the same shard's job twice in one round
	cp "$D"/m0.dml "$D"/w-[0-2].csv .
	run --separate-stderr bash -c "
		for s in w-0.csv w-1.csv w-2.csv w-1.csv; do
			$DML_WRAPPER dml-train --emit gradient -m m0.dml \$s
		done | $DML_WRAPPER dml-reduce --expect 4"
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "dml-reduce: (standard input): record 4: leaf $l1 is counted twice (the same shard reduced more than once)"
	# a retry under another name, on another host: the leaf is the hash
	# of the shard's bytes, not its name; with shard 2 missing, --expect 3
	# alone would pass
	cp w-1.csv retry-1.csv
	$DML_WRAPPER dml-train --emit gradient -m m0.dml retry-1.csv -o r-1.dml
	run --separate-stderr $DML_WRAPPER dml-reduce --expect 3 -o sum.dml \
		"$D/g-0.dml" "$D/g-1.dml" r-1.dml
	assert_failure 1
	assert_equal "$stderr" "dml-reduce: r-1.dml: record 1: leaf $l1 is counted twice (the same shard reduced more than once)"
	assert_file_not_exists sum.dml
	# in a tree: rack a reduced shards 0 and 1, rack b (speculatively)
	# 1 and 2; the root refuses
	$DML_WRAPPER dml-reduce "$D/g-0.dml" "$D/g-1.dml" -o rack-a.dml
	$DML_WRAPPER dml-reduce r-1.dml "$D/g-2.dml" -o rack-b.dml
	run --separate-stderr $DML_WRAPPER dml-reduce --expect 4 rack-a.dml rack-b.dml
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "dml-reduce: rack-b.dml: record 1: leaf $l1 is counted twice (the same shard reduced more than once)"
}

# ---- killed while writing -o ------------------------------------------------------

@test "dml-train SIGKILLed at random points of -o: the old model is intact, leftovers are hidden and never whole-looking" {
	# a 1 MB model, so that writing it takes a while
	synth blobs -n 200 --classes 10 --features 3000 --seed 12 >big.csv
	$DML_WRAPPER dml-train --emit stats -y label big.csv |
		$DML_WRAPPER dml-train --apply - -a softmax -o old.dml
	$DML_WRAPPER dml-train --emit gradient -m old.dml big.csv -o g.dml
	$DML_WRAPPER dml-train --apply g.dml -m old.dml -o new.dml
	run ! cmp -s old.dml new.dml
	shopt -s nullglob dotglob
	local attempt pid st tmps t kept=0 olds=0 news=0
	local -A seen=()
	for ((attempt = 0; attempt < 16; attempt++)); do
		cp old.dml model.dml
		$DML_WRAPPER dml-train --apply g.dml -m model.dml -o model.dml &
		pid=$!
		if ((attempt % 2)); then
			# the moment its temporary file appears
			while kill -0 "$pid" 2>/dev/null; do
				tmps=(.model.dml.tmp.*)
				((${#tmps[@]})) && break
			done
		else
			sleep "0.00$((RANDOM % 10))"
		fi
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" && st=0 || st=$?
		[[ $st == 0 || $st == 137 ]] || fail "attempt $attempt: status $st"
		# the target: the old model or the new one, whole
		if cmp -s old.dml model.dml; then
			((++olds))
		elif cmp -s new.dml model.dml; then
			((++news))
		else
			fail "attempt $attempt: model.dml is neither the old nor the new model"
		fi
		# a leftover temporary: a hidden name, and either the whole new
		# model (killed between writing and renaming) or a cut record
		# that every reader refuses
		# (where the system has O_TMPFILE the file is unnamed while it
		# is written and named .model.dml.tmp.PID.N only when whole)
		for t in .model.dml.tmp.*; do
			[[ -z ${seen[$t]-} ]] || continue
			seen[$t]=1
			((++kept))
			if [[ $t =~ ^\.model\.dml\.tmp\.[0-9]+\.[0-9]+$ ]]; then
				cmp -s new.dml "$t" || fail "leftover $t is not the whole new model"
				continue
			fi
			[[ $t =~ ^\.model\.dml\.tmp\.[A-Za-z0-9]{6}$ ]] || fail "leftover $t"
			cmp -s new.dml "$t" && continue
			run --separate-stderr $DML_WRAPPER dml-inspect "$t"
			assert_failure 1
			[[ $stderr == "dml-inspect: $t: record 1: stream ends "* ||
				$stderr == "dml-inspect: $t: empty input (no record)" ]] ||
				fail "leftover $t: $stderr"
		done
	done
	echo "# 16 kills: $olds old, $news new, $kept temporaries left" >&3
	# ls (without -a) and a *.dml glob show no temporary file
	run bash -c "ls | grep -v '^separate-stderr-'"
	assert_output $'big.csv\ng.dml\nmodel.dml\nnew.dml\nold.dml'
	shopt -u dotglob
	tmps=(*.dml)
	assert_equal "${tmps[*]}" 'g.dml model.dml new.dml old.dml'
}

# ---- the loop killed and resumed ----------------------------------------------------

@test "examples/bsp-local.sh SIGKILLed at several points resumes with RESUME=yes to the same bytes" {
	require_program parallel
	make_shim
	loop ''
	assert_equal "$status" 0
	mv model.dml ref.dml
	mv loop.out ref.out
	run cat ref.out
	assert_line --index 0 $'status\tmax-iter'

	# killed in the stats round: no model yet, a resumed run starts afresh
	loop kill-loop:stats
	assert_equal "$status" 137
	assert_file_not_exists model.dml
	# killed as gradient round 3 starts: the model of round 2
	loop kill-loop:gradient:3 RESUME=yes
	assert_equal "$status" 137
	run $DML_WRAPPER dml-inspect --field iteration,status model.dml
	assert_output $'2\trunning'
	# killed just after a round wrote the model (this run's 2nd apply)
	loop kill-loop:apply:2 RESUME=yes
	assert_equal "$status" 137
	run $DML_WRAPPER dml-inspect --field iteration model.dml
	assert_output 4
	grep -q '^bsp-local.sh: resuming model.dml at iteration 2$' loop.err
	# resumed to the end: the bytes of the uninterrupted run, and its
	# report (the rounds count those before the kill)
	loop '' RESUME=yes
	assert_equal "$status" 0
	grep -q '^bsp-local.sh: resuming model.dml at iteration 4$' loop.err
	cmp ref.dml model.dml
	cmp ref.out loop.out

	# killed at random moments, several times over, then resumed
	rm model.dml
	local k
	for ((k = 0; k < 3; k++)); do
		loop '' RESUME=yes &
		sleep "0.$((RANDOM % 9 + 1))"
		kill -KILL -- "-$(cat loop.pid)" 2>/dev/null || true
		wait
	done
	loop '' RESUME=yes
	assert_equal "$status" 0
	cmp ref.dml model.dml
	cmp ref.out loop.out
}

# ---- disk full, broken pipes ----------------------------------------------------

@test "a full disk: a clear error, exit 1, no file with the target's name, the old file intact" {
	mkdir full
	mount -t tmpfs -o size=64k tmpfs full 2>/dev/null ||
		skip "cannot mount a tmpfs here (needs root)"
	# an old, small model there; every record below is bigger than 64 KiB
	synth blobs -n 30 --features 3 --seed 13 >tiny.csv
	$DML_WRAPPER dml-train -a softmax -y label tiny.csv -o full/model.dml
	cp full/model.dml old.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply "$D/sum.dml" \
		-m "$D/m0.dml" -o full/model.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-train: full/model.dml: write error: No space left on device'
	cmp old.dml full/model.dml
	run --separate-stderr $DML_WRAPPER dml-reduce "$D/g-0.dml" "$D/g-1.dml" \
		-o full/sum.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: full/sum.dml: write error: No space left on device'
	synth blobs -n 20000 --features 3 --seed 14 >many.csv # 160 KB of labels
	run --separate-stderr $DML_WRAPPER dml-predict -m old.dml many.csv \
		-o full/p.txt
	assert_failure 1
	assert_equal "$stderr" 'dml-predict: full/p.txt: write error: No space left on device'
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 -o 'full/s-%d.csv' \
		"$D/wide.csv"
	assert_failure 1
	[[ $stderr =~ ^dml-partition:\ .*/wide\.csv:[0-9]+:\ cannot\ write\ shard\ [01]:\ No\ space\ left\ on\ device$ ]] ||
		fail "stderr: $stderr"
	# nothing left behind, not even a temporary file
	run ls -A full
	assert_output model.dml
	# with a shell redirection the shell makes the file, so a cut record
	# is left under the target's name -- and every reader refuses it
	run --separate-stderr bash -c "$DML_WRAPPER dml-train --apply '$D/sum.dml' -m '$D/m0.dml' > full/out.dml"
	assert_failure 1
	assert_equal "$stderr" 'dml-train: standard output: write error: No space left on device'
	run --separate-stderr $DML_WRAPPER dml-inspect full/out.dml
	assert_failure 1
	[[ $stderr =~ ^dml-inspect:\ full/out\.dml:\ record\ 1:\ stream\ ends\ after\ [0-9]+\ of\ [0-9]+\ payload\ bytes$ ]] ||
		fail "stderr: $stderr"
}

@test "broken pipes: a reader that stops early ends the writer quietly, with a non-zero exit" {
	# every output here is bigger than a pipe, so the writer always
	# meets the closed pipe
	synth blobs -n 20000 --features 3 --seed 14 >many.csv
	$DML_WRAPPER dml-train -a softmax -y label many.csv -o m.dml
	local cmd
	for cmd in "dml-predict -m m.dml many.csv" \
		"dml-predict -m m.dml --proba many.csv" \
		"dml-predict -m m.dml - < many.csv" \
		"dml-train --emit gradient -m $D/m0.dml $D/w-1.csv" \
		"dml-reduce $D/g-0.dml $D/g-1.dml"; do
		# killed by SIGPIPE (128 + 13), not a word on stderr
		run --separate-stderr bash -c "$DML_WRAPPER $cmd | head -c 10 >/dev/null; exit \${PIPESTATUS[0]}"
		[[ $status == 141 ]] || fail "$cmd | head: status $status, stderr: $stderr"
		assert_equal "$stderr" ""
		# with SIGPIPE ignored (systemd services, some job runners): one
		# line, exit 1
		run --separate-stderr bash -c "trap '' PIPE; $DML_WRAPPER $cmd | head -c 10 >/dev/null; exit \${PIPESTATUS[0]}"
		assert_failure 1
		[[ $stderr == "${cmd%% *}: "*"Broken pipe" ]] || fail "$cmd: $stderr"
		assert_equal "$(grep -c '' <<<"$stderr")" 1
	done
	run --separate-stderr bash -c "$DML_WRAPPER dml-predict -m m.dml many.csv | head -n 1"
	assert_success
	assert_output --regexp '^class-[123]$'
	assert_equal "$stderr" ""
	# a --filter command that dies while it takes its shard (a dropped
	# ssh) is the writer's error
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 \
		--filter 'exec head -c 10 >/dev/null' many.csv
	assert_failure 1
	[[ $stderr =~ ^dml-partition:\ many\.csv:[0-9]+:\ cannot\ write\ shard\ [01]:\ Broken\ pipe$ ]] ||
		fail "stderr: $stderr"
}

@test "an input file cut short while it is read from memory: one line, exit 1, not a crash" {
	synth blobs -n 100000 --classes 3 --features 2 --seed 5 > b.csv
	$DML_WRAPPER dml-partition -n 1 --format bin -y label -o b.bin b.csv
	$DML_WRAPPER dml-train -a softmax -y label --max-iter 2 b.csv -o m.dml
	local pid rd i
	mkfifo out
	$DML_WRAPPER dml-predict -j1 -m m.dml b.bin >out 2>err &
	pid=$!
	exec {rd}<out # a reader that reads nothing yet: the pipe fills
	# a shard is mapped and read where it lies; once dml-predict is
	# stuck on its output, cut the shard short under it
	for ((i = 0; i < 400; i++)); do
		blocked_writing "$pid" && break
		sleep 0.025
	done
	((i < 400)) || fail "dml-predict was never seen blocked writing"
	truncate -s 0 b.bin
	cat <&$rd >/dev/null
	exec {rd}<&-
	local st=0
	wait "$pid" || st=$?
	assert_equal "$st" 1
	assert_equal "$(cat err)" "dml-predict: an input file was cut short while being read (SIGBUS)"
}
