#!/usr/bin/env bats
# Bad input: every failure has an exact message naming the input (and line,
# column or record), exit status 1 for bad data and 2 for usage errors, and
# leaves no output behind.

load setup
load helpers

# ---- CSV ------------------------------------------------------------------

# csv_error FILE MESSAGE: dml-train (fit, stats), dml-partition and
# dml-predict all reject FILE with "PROG: MESSAGE" and exit 1.
csv_error() {
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label "$1"
	assert_failure 1
	assert_equal "$stderr" "dml-train: $2"
	assert_output ""
	run --separate-stderr $DML_WRAPPER dml-train --emit stats -y label "$1"
	assert_failure 1
	assert_equal "$stderr" "dml-train: $2"
	assert_output ""
}

@test "wrong field count: file, line, expected and found" {
	printf '%s\n' f1,f2,f3,f4,label 1,2,3,4,a 1,2,3,b 5,6,7,8,b > bad.csv
	csv_error bad.csv 'bad.csv:3: expected 5 fields, found 4'
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 bad.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-partition: bad.csv:3: expected 5 fields, found 4'
	# the same from standard input
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label < bad.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-train: (standard input):3: expected 5 fields, found 4'
	# too many fields; an empty line
	printf '%s\n' a,label 1,x 2,y,3 > more.csv
	csv_error more.csv 'more.csv:3: expected 2 fields, found 3'
}

@test "a model's input with a wrong field count" {
	synth blobs -n 30 --features 2 --seed 81 > d.csv
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o m.dml
	{ cat d.csv; echo 1,2; } > short.csv
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml short.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-predict: short.csv:32: expected 3 fields, found 2'
	run --separate-stderr $DML_WRAPPER dml-train --emit gradient -m m.dml \
		short.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-train: short.csv:32: expected 3 fields, found 2'
}

@test "malformed quoting: the line of the bad quote" {
	printf '%s\n' f1,label 1,a '2"x,b' 3,a > q.csv
	csv_error q.csv 'q.csv:3: malformed quoting'
	printf '%s\n' f1,label 1,a '"2"x,b' 3,a > q2.csv
	csv_error q2.csv 'q2.csv:3: malformed quoting'
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 q2.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-partition: q2.csv:3: malformed quoting'
}

@test "a quote left open: the line where its row began" {
	printf '%s\n' f1,label 1,a '2,"b' 3,a 4,b > open.csv
	csv_error open.csv 'open.csv:3: unterminated quoted field'
	printf 'f1,label\n1,a\n2,"b' > open-eof.csv
	csv_error open-eof.csv 'open-eof.csv:3: unterminated quoted field'
	# blank lines before the row do not count as its start
	printf 'f1,label\r\n1,a\r\n\r\n2,"b\r\n' > crlf.csv
	csv_error crlf.csv 'crlf.csv:4: unterminated quoted field'
}

@test "non-numeric, NaN, infinite and empty features: line and column" {
	printf '%s\n' f1,f2,label 1,2,a 1,abc,b > nn.csv
	csv_error nn.csv "nn.csv:3:2: not a number: 'abc'"
	printf '%s\n' f1,f2,label 1,2,a 1,nan,b > nan.csv
	csv_error nan.csv "nan.csv:3:2: not a finite number: 'nan'"
	printf '%s\n' f1,f2,label 1,2,a inf,1,b > inf.csv
	csv_error inf.csv "inf.csv:3:1: not a finite number: 'inf'"
	printf '%s\n' f1,f2,label 1,2,a -1e999,1,b > big.csv
	csv_error big.csv "big.csv:3:1: not a finite number: '-1e999'"
	printf '%s\n' label,f1,f2 a,1,2 b,,1 > empty.csv
	csv_error empty.csv 'empty.csv:3:2: empty field'
	# the label column may be anything
	printf '%s\n' f1,label 1,nan 2,abc > labels.csv
	$DML_WRAPPER dml-train -a logistic -y label labels.csv > /dev/null
}

@test "unknown label column, empty input, header-only input" {
	synth blobs -n 20 --features 2 --seed 82 > d.csv
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y nosuch d.csv
	assert_failure 1
	assert_equal "$stderr" "dml-train: d.csv:1: label column 'nosuch' not found"
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y 9 d.csv
	assert_failure 1
	assert_equal "$stderr" "dml-train: d.csv:1: label column '9' not found"
	: > empty.csv
	csv_error empty.csv 'empty.csv: empty input'
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 empty.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-partition: empty.csv: empty input'
	head -n 1 d.csv > header.csv
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label header.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-train: header.csv: no data rows'
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o m.dml
	run --separate-stderr $DML_WRAPPER dml-train --emit gradient -m m.dml \
		header.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-train: header.csv: no data rows'
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --eval header.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-predict: no rows to evaluate'
}

@test "a column the model needs is missing; a label it does not know" {
	synth blobs -n 30 --features 3 --seed 83 > d.csv
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o m.dml
	cut -d, -f1,2,4 d.csv > missing.csv
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml missing.csv
	assert_failure 1
	assert_equal "$stderr" "dml-predict: missing.csv:1: column 'f3' not found (the model needs 3 features)"
	run --separate-stderr $DML_WRAPPER dml-train --emit gradient -m m.dml \
		missing.csv
	assert_failure 1
	assert_equal "$stderr" "dml-train: missing.csv:1: column 'f3' not found (the model needs 3 features)"
	sed '5s/class-[0-9]$/class-9/' d.csv > newlabel.csv
	run --separate-stderr $DML_WRAPPER dml-train --emit gradient -m m.dml \
		newlabel.csv
	assert_failure 1
	assert_equal "$stderr" "dml-train: newlabel.csv:5:4: label 'class-9' is not one of the model's classes"
	cut -d, -f1-3 d.csv > nolabel.csv
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --eval nolabel.csv
	assert_failure 1
	assert_equal "$stderr" "dml-predict: nolabel.csv:1: label column 'label' not found"
}

@test "duplicate column names, missing files, directories" {
	printf '%s\n' a,a,label 1,2,x 3,4,y > dup.csv
	csv_error dup.csv "dup.csv:1: duplicate column name 'a'"
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label nosuch.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-train: nosuch.csv: No such file or directory'
	run --separate-stderr $DML_WRAPPER dml-inspect nosuch.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-inspect: nosuch.dml: No such file or directory'
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label .
	assert_failure 1
	assert_equal "$stderr" 'dml-train: .: is a directory'
}

@test "logistic regression on 3 classes; one class" {
	synth blobs -n 30 --classes 3 --seed 84 > d.csv
	run --separate-stderr $DML_WRAPPER dml-train -a logistic -y label d.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-train: d.csv: logistic regression needs exactly 2 classes, found 3 (use -a softmax)'
	$DML_WRAPPER dml-train --emit stats -y label d.csv -o s.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply s.dml -a logistic
	assert_failure 1
	assert_equal "$stderr" 'dml-train: s.dml: logistic regression needs exactly 2 classes, found 3 (use -a softmax)'
	printf '%s\n' f1,label 1,x 2,x > one.csv
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label one.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-train: one.csv: softmax regression needs at least 2 classes, found 1'
	# softmax would not help here, so the message does not suggest it
	run --separate-stderr $DML_WRAPPER dml-train -a logistic -y label one.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-train: one.csv: logistic regression needs exactly 2 classes, found 1'
}

# ---- records ----------------------------------------------------------------

# record_error FILE MESSAGE: every reader of records rejects FILE with
# "PROG: FILE: record 1: MESSAGE" and exit 1.
record_error() {
	local f=$1 msg=$2 prog
	for prog in dml-inspect dml-reduce dml-ensemble; do
		run --separate-stderr $DML_WRAPPER "$prog" "$f"
		assert_failure 1
		assert_equal "$stderr" "$prog: $f: record 1: $msg"
	done
	run --separate-stderr $DML_WRAPPER dml-predict -m "$f" d.csv
	assert_failure 1
	assert_equal "$stderr" "dml-predict: $f: record 1: $msg"
	assert_output ""
	run --separate-stderr $DML_WRAPPER dml-train --emit gradient -m "$f" d.csv
	assert_failure 1
	assert_equal "$stderr" "dml-train: $f: record 1: $msg"
	run --separate-stderr $DML_WRAPPER dml-train --apply "$f" -m m.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: $f: record 1: $msg"
	run --separate-stderr $DML_WRAPPER dml-inspect < "$f"
	assert_failure 1
	assert_equal "$stderr" "dml-inspect: (standard input): record 1: $msg"
}

make_model() {
	synth blobs -n 40 --classes 3 --features 3 --seed 85 > d.csv
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o m.dml
	size=$(wc -c < m.dml)
}

@test "a truncated record" {
	make_model
	head -c $((size / 2)) m.dml > cut.dml
	payload=$((size - 88))
	record_error cut.dml "stream ends after $((size / 2 - 80)) of $payload payload bytes"
	head -c 50 m.dml > cut.dml
	record_error cut.dml 'stream ends inside a record header'
	head -c $((size - 3)) m.dml > cut.dml
	record_error cut.dml 'stream ends before the checksum'
}

@test "a record cut inside its magic number is truncated, not foreign" {
	make_model
	head -c 4 m.dml > cut.dml
	run --separate-stderr $DML_WRAPPER dml-inspect cut.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-inspect: cut.dml: record 1: stream ends inside a record header'
}

@test "one flipped bit in the payload: checksum mismatch" {
	make_model
	cp m.dml flip.dml
	flip_bit flip.dml $((size / 2)) 16
	! cmp -s m.dml flip.dml
	record_error flip.dml 'checksum mismatch'
	# in the trailing checksum itself
	cp m.dml flip.dml
	flip_bit flip.dml $((size - 7)) 1
	record_error flip.dml 'checksum mismatch'
}

@test "one flipped bit in the header: header checksum mismatch" {
	make_model
	cp m.dml flip.dml
	flip_bit flip.dml 40 1 # the schema fingerprint
	record_error flip.dml 'header checksum mismatch'
	cp m.dml flip.dml
	flip_bit flip.dml 8 2 # the version
	record_error flip.dml 'header checksum mismatch'
}

@test "not a record: a CSV file, an empty file, garbage after a record" {
	make_model
	record_error d.csv 'not a dml record (bad magic)'
	cp m.dml flip.dml
	flip_bit flip.dml 1 1 # the magic number
	record_error flip.dml 'not a dml record (bad magic)'
	: > empty.dml
	run --separate-stderr $DML_WRAPPER dml-inspect empty.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-inspect: empty.dml: empty input (no record)'
	run --separate-stderr $DML_WRAPPER dml-predict -m empty.dml d.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-predict: empty.dml: empty input (no record)'
	run --separate-stderr $DML_WRAPPER dml-reduce < empty.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: (standard input): empty input (no record)'
	{ cat m.dml; printf 'x'; } > tail.dml
	run --separate-stderr $DML_WRAPPER dml-inspect --field kind tail.dml
	assert_failure 1
	assert_output model
	assert_equal "$stderr" 'dml-inspect: tail.dml: record 2: not a dml record (bad magic)'
}

@test "every sampled bit flip is caught, never read as a model" {
	make_model
	for ((off = 0; off < size; off += 13)); do
		cp m.dml flip.dml
		flip_bit flip.dml "$off" $((1 << (off % 8)))
		run --separate-stderr $DML_WRAPPER dml-predict -m flip.dml d.csv
		assert_failure 1
		assert_output ""
		case $stderr in
		'dml-predict: flip.dml: record 1: checksum mismatch' | \
		'dml-predict: flip.dml: record 1: header checksum mismatch' | \
		'dml-predict: flip.dml: record 1: not a dml record (bad magic)') ;;
		*) fail "byte $off: $stderr" ;;
		esac
	done
}

@test "a model file holding two records is not a model" {
	make_model
	cat m.dml m.dml > two.dml
	run --separate-stderr $DML_WRAPPER dml-predict -m two.dml d.csv
	assert_failure 1
	assert_output ""
	[[ $stderr == "dml-predict: two.dml: "* ]] || fail "stderr: $stderr"
}

@test "the wrong kind of record" {
	make_model
	$DML_WRAPPER dml-train --emit stats -y label d.csv -o s.dml
	$DML_WRAPPER dml-train --emit gradient -m m.dml d.csv -o g.dml
	run --separate-stderr $DML_WRAPPER dml-predict -m g.dml d.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-predict: g.dml: expected a model or an ensemble, found a gradient record'
	run --separate-stderr $DML_WRAPPER dml-train --emit gradient -m s.dml d.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-train: s.dml: expected a model, found a stats record'
	run --separate-stderr $DML_WRAPPER dml-train --apply m.dml -m m.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-train: m.dml: cannot apply a model record (expected stats or a gradient)'
	run --separate-stderr $DML_WRAPPER dml-ensemble m.dml g.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-ensemble: g.dml: record 1: expected a model or an ensemble, found a gradient record'
	$DML_WRAPPER dml-ensemble m.dml m.dml -o e.dml
	run --separate-stderr $DML_WRAPPER dml-reduce e.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: e.dml: record 1: ensemble records cannot be reduced (give them to dml-ensemble)'
}

# ---- reduction ----------------------------------------------------------------

# Shards a.csv and b.csv of one data set, c.csv with other features; the
# initial model m0.dml over a and b, one step m1.dml, gradients at both.
make_round() {
	synth blobs -n 60 --classes 3 --features 3 --seed 86 > d.csv
	$DML_WRAPPER dml-partition -n 2 -o 'p-%d.csv' d.csv
	mv p-0.csv a.csv
	mv p-1.csv b.csv
	synth blobs -n 30 --classes 3 --features 2 --seed 87 > c.csv
	for s in a b c; do
		$DML_WRAPPER dml-train --emit stats -y label "$s.csv" -o "st-$s.dml"
	done
	$DML_WRAPPER dml-reduce st-a.dml st-b.dml |
		$DML_WRAPPER dml-train --apply - -a softmax -o m0.dml
	for s in a b; do
		$DML_WRAPPER dml-train --emit gradient -m m0.dml "$s.csv" \
			-o "g0-$s.dml"
	done
	$DML_WRAPPER dml-reduce g0-a.dml g0-b.dml -o g0.dml
	$DML_WRAPPER dml-train --apply g0.dml -m m0.dml -o m1.dml
	for s in a b; do
		$DML_WRAPPER dml-train --emit gradient -m m1.dml "$s.csv" \
			-o "g1-$s.dml"
	done
}

@test "dml-reduce refuses records of different schemas" {
	make_round
	run --separate-stderr $DML_WRAPPER dml-reduce st-a.dml st-c.dml
	assert_failure 1
	assert_output ""
	fp_a=$(json_value st-a.dml schema)
	fp_c=$(json_value st-c.dml schema)
	assert_equal "$stderr" "dml-reduce: st-c.dml: record 1: feature schema $fp_c differs from $fp_a of the first record"
}

@test "dml-reduce refuses records of different iterations" {
	make_round
	run --separate-stderr $DML_WRAPPER dml-reduce g0-a.dml g1-b.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: g1-b.dml: record 1: iteration 1 differs from iteration 0 of the first record'
	cat g1-a.dml g0-b.dml > mixed.dml
	run --separate-stderr $DML_WRAPPER dml-reduce mixed.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: mixed.dml: record 2: iteration 0 differs from iteration 1 of the first record'
}

@test "dml-reduce refuses mixed kinds" {
	make_round
	run --separate-stderr $DML_WRAPPER dml-reduce g0-a.dml st-b.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: st-b.dml: record 1: a stats record among gradient records'
	run --separate-stderr $DML_WRAPPER dml-reduce m1.dml g1-a.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: g1-a.dml: record 1: a gradient record among model records'
}

@test "dml-reduce refuses the same shard twice" {
	make_round
	leaf=$($DML_WRAPPER dml-inspect g0-a.dml | sed -n 's/^  leaves *//p')
	[[ $leaf =~ ^[0-9a-f]{16}$ ]] || fail "leaf: $leaf"
	run --separate-stderr $DML_WRAPPER dml-reduce g0-a.dml g0-b.dml g0-a.dml
	assert_failure 1
	assert_equal "$stderr" "dml-reduce: g0-a.dml: record 1: leaf $leaf is counted twice (the same shard reduced more than once)"
	# also when it hides inside a reduced record
	run --separate-stderr $DML_WRAPPER dml-reduce g0.dml g0-a.dml
	assert_failure 1
	assert_equal "$stderr" "dml-reduce: g0-a.dml: record 1: leaf $leaf is counted twice (the same shard reduced more than once)"
	# and for statistics
	run --separate-stderr $DML_WRAPPER dml-reduce st-a.dml st-a.dml
	assert_failure 1
	assert_equal "$stderr" "dml-reduce: st-a.dml: record 1: leaf $leaf is counted twice (the same shard reduced more than once)"
}

@test "dml-reduce --expect not met" {
	make_round
	run --separate-stderr $DML_WRAPPER dml-reduce --expect 3 g0-a.dml g0-b.dml
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" 'dml-reduce: expected 3 contributions, got 2 (from 2 records)'
	run --separate-stderr $DML_WRAPPER dml-reduce --expect 2 g0-a.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: expected 2 contributions, got 1 (from 1 record)'
	# contributions count leaves: one record of two leaves is too many
	run --separate-stderr $DML_WRAPPER dml-reduce --expect 1 g0.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: expected 1 contributions, got 2 (from 1 record)'
}

@test "a gradient applied to the wrong model or the wrong iteration" {
	make_round
	# a gradient of the previous iteration
	$DML_WRAPPER dml-reduce g0-a.dml g0-b.dml > g0.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply g0.dml -m m1.dml
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" 'dml-train: g0.dml: gradient was taken at iteration 0, the model is at iteration 1'
	# a gradient from standard input
	run --separate-stderr $DML_WRAPPER dml-train --apply - -m m1.dml < g0.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-train: (standard input): gradient was taken at iteration 0, the model is at iteration 1'
	# another model of the same iteration and shards (another --l2)
	$DML_WRAPPER dml-reduce st-a.dml st-b.dml |
		$DML_WRAPPER dml-train --apply - -a softmax --l2 0.5 -o other.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply g0.dml -m other.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-train: g0.dml: gradient was taken at another model of the same iteration'
	# a model of other features
	$DML_WRAPPER dml-train --apply st-c.dml -a softmax -o c.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply g0.dml -m c.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-train: g0.dml: gradient and model have different feature schemas'
	# a gradient of one shard for a model of two
	rows=$(json_value g0-a.dml samples)
	run --separate-stderr $DML_WRAPPER dml-train --apply g0-a.dml -m m0.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: g0-a.dml: gradient covers 1 shard ($rows rows), the model was set up on 2 shards (60 rows)"
}

# ---- outputs ----------------------------------------------------------------

@test "writing to /dev/full fails with exit 1 and one message" {
	make_model
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label d.csv \
		-o /dev/full
	assert_failure 1
	assert_equal "$stderr" 'dml-train: /dev/full: write error: No space left on device'
	run --separate-stderr $DML_WRAPPER dml-reduce m.dml -o /dev/full
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: /dev/full: write error: No space left on device'
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml d.csv -o /dev/full
	assert_failure 1
	assert_equal "$stderr" 'dml-predict: /dev/full: write error: No space left on device'
	# standard output: one line saying so, whatever the program
	for cmd in 'dml-train -a softmax -y label d.csv' 'dml-reduce m.dml' \
		'dml-predict -m m.dml d.csv' 'dml-predict -m m.dml --eval d.csv' \
		'dml-inspect m.dml' 'dml-inspect --json m.dml' \
		'dml-ensemble m.dml' 'dml-train --help' 'dml-reduce --version'; do
		run --separate-stderr bash -c "$DML_WRAPPER $cmd > /dev/full"
		prog=${cmd%% *}
		assert_failure 1
		[[ $stderr == "$prog: "*"write error"*"No space left on device" ]] ||
			fail "$cmd > /dev/full: $stderr"
		assert_equal "$(grep -c '' <<< "$stderr")" 1
	done
	# streaming predictions, too
	run --separate-stderr bash -c 'cat d.csv | $DML_WRAPPER dml-predict -m m.dml > /dev/full'
	assert_failure 1
	[[ $stderr == "dml-predict: "*"write error"*"No space left on device" ]] ||
		fail "stream > /dev/full: $stderr"
	assert_equal "$(grep -c '' <<< "$stderr")" 1
}

@test "a failed run leaves an existing -o file intact and no temporary file" {
	make_model
	printf '%s\n' f1,f2,f3,label 1,2,3,a 1,2,b > bad.csv
	cp m.dml out.dml
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label bad.csv \
		-o out.dml
	assert_failure 1
	cmp m.dml out.dml
	# a failed --apply over the model itself
	$DML_WRAPPER dml-train --emit stats -y label d.csv -o s.dml
	$DML_WRAPPER dml-train --apply s.dml -a softmax -o m0.dml
	$DML_WRAPPER dml-train --emit gradient -m m0.dml d.csv -o g.dml
	cp m.dml keep.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply g.dml -m m.dml -o m.dml
	assert_failure 1
	cmp keep.dml m.dml
	# dml-reduce with a bad second input
	cp s.dml r.dml
	run --separate-stderr $DML_WRAPPER dml-reduce g.dml s.dml -o r.dml
	assert_failure 1
	cmp s.dml r.dml
	# dml-predict and dml-ensemble
	echo keep > p.txt
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml bad.csv -o p.txt
	assert_failure 1
	assert_equal "$(cat p.txt)" keep
	run --separate-stderr $DML_WRAPPER dml-ensemble m.dml g.dml -o p.txt
	assert_failure 1
	assert_equal "$(cat p.txt)" keep
	# dml-partition stopped by a bad row keeps the old shards
	synth blobs -n 20 --features 2 --seed 88 > ok.csv
	$DML_WRAPPER dml-partition -n 2 -o 'sh-%d.csv' ok.csv
	cp sh-0.csv old-0.csv
	{ cat ok.csv; echo 1,2; } > badrow.csv
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 -o 'sh-%d.csv' \
		badrow.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-partition: badrow.csv:22: expected 3 fields, found 2'
	cmp old-0.csv sh-0.csv
	# nothing but the files made above (and bats' own for stderr)
	run bash -c "ls -A | grep -v '^separate-stderr-'"
	assert_output "$(printf '%s\n' bad.csv badrow.csv d.csv g.dml keep.dml \
		m.dml m0.dml ok.csv old-0.csv out.dml p.txt r.dml s.dml \
		sh-0.csv sh-1.csv)"
}

@test "an -o file in a missing directory" {
	make_model
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label d.csv \
		-o nodir/m.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-train: nodir/m.dml: cannot create a temporary file beside it: No such file or directory'
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 -o 'nodir/s-%d.csv' d.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-partition: nodir/s-0.csv: cannot create a temporary file beside it: No such file or directory'
}

@test "dml-partition --filter: a failing command is an error" {
	synth blobs -n 20 --features 2 --seed 89 > d.csv
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 \
		--filter 'cat > /dev/null; exit 3' d.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-partition: --filter: command for shard 0 failed (status 3)'
}

# ---- usage ------------------------------------------------------------------

@test "unknown options: exit 2 and a pointer to --help" {
	for prog in "${DML_PROGRAMS[@]}"; do
		run --separate-stderr $DML_WRAPPER "$prog" --bogus
		assert_failure 2
		assert_output ""
		assert_equal "$stderr" "$prog: unrecognized option '--bogus'
Try '$prog --help' for more information."
		run --separate-stderr $DML_WRAPPER "$prog" -Z
		assert_failure 2
		assert_equal "$stderr" "$prog: invalid option -- 'Z'
Try '$prog --help' for more information."
	done
	run --separate-stderr $DML_WRAPPER dml-train --max-iter
	assert_failure 2
	assert_equal "$stderr" "dml-train: option '--max-iter' requires an argument
Try 'dml-train --help' for more information."
}

# usage_error MESSAGE PROG ARG...: exit 2, "PROG: MESSAGE" and the pointer.
usage_error() {
	local msg=$1 prog=$2
	shift 2
	run --separate-stderr $DML_WRAPPER "$prog" "$@"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "$prog: $msg
Try '$prog --help' for more information."
}

@test "out-of-range and malformed numeric options name the option" {
	usage_error '--max-iter: 0 is out of range 1..1000000' \
		dml-train --max-iter 0 -a softmax -y label x.csv
	usage_error "--max-iter: '1x' is not a whole number" \
		dml-train --max-iter 1x -a softmax -y label x.csv
	usage_error "--max-iter: '-5' is not a whole number" \
		dml-train --max-iter -5 -a softmax -y label x.csv
	usage_error '--l2: -1 is out of range 0..1e+300' \
		dml-train --l2 -1 -a softmax -y label x.csv
	usage_error "--tol: 'abc' is not a number" \
		dml-train --tol abc -a softmax -y label x.csv
	usage_error "--l2: 'nan' is not a number" \
		dml-train --l2 nan -a softmax -y label x.csv
	usage_error '--batch: 0 is out of range 1..16777216' \
		dml-train --batch 0 -a softmax -y label x.csv
	usage_error '--epochs: 0 is out of range 1..1000000' \
		dml-train --epochs 0 -a softmax -y label x.csv
	usage_error '--shards: 0 is out of range 1..100000' \
		dml-partition -n 0 x.csv
	usage_error "--seed: '-1' is not a whole number" \
		dml-partition -n 2 --seed -1 x.csv
	usage_error '--expect: 0 is out of range 1..18446744073709551615' \
		dml-reduce --expect 0 x.dml
	usage_error "--delimiter: 'ab' must be one character (or 'tab')" \
		dml-train -d ab -a softmax -y label x.csv
}

@test "a number too large for its option is out of range, not malformed" {
	usage_error '--seed: 18446744073709551616 is out of range 0..18446744073709551615' \
		dml-partition -n 2 --seed 18446744073709551616 x.csv
	usage_error '--max-iter: 99999999999999999999 is out of range 1..1000000' \
		dml-train --max-iter 99999999999999999999 -a softmax -y label x.csv
}

@test "other usage errors" {
	usage_error "--algorithm: unknown family 'bogus' (logistic, softmax, linear, hinge, squared-hinge, perceptron, kmeans, scaler, gaussian, pca, mlp, tree, forest)" \
		dml-train -a bogus -y label x.csv
	usage_error 'fitting needs a model family (-a)' \
		dml-train -y label x.csv
	usage_error 'fitting needs the label column (-y)' \
		dml-train -a softmax x.csv
	usage_error '--emit gradient needs the model (-m)' \
		dml-train --emit gradient x.csv
	usage_error '--emit stats needs the label column (-y)' \
		dml-train --emit stats x.csv
	usage_error "--emit: unknown kind 'bogus' (model, stats, gradient)" \
		dml-train --emit bogus x.csv
	usage_error '--apply takes no data files' \
		dml-train --apply g.dml -m m.dml x.csv
	usage_error 'the model is missing (-m)' dml-predict x.csv
	usage_error '--eval and --proba do not go together' \
		dml-predict -m m.dml --eval --proba x.csv
	usage_error 'the number of shards is missing (-n)' dml-partition x.csv
	usage_error "--strategy: unknown strategy 'bogus' (round-robin, hash, random, range, stratified, bootstrap)" \
		dml-partition -n 2 -s bogus x.csv
	usage_error '-s hash needs the key column (-k)' \
		dml-partition -n 2 -s hash x.csv
	usage_error '-s stratified needs the label column (-y)' \
		dml-partition -n 2 -s stratified x.csv
	usage_error "--output: 'x.csv' must hold exactly one %d" \
		dml-partition -n 2 -o x.csv x.csv
	usage_error "--field: unknown field 'bogus'" dml-inspect --field bogus
	usage_error 'no models given' dml-ensemble
}
