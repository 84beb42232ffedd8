#!/usr/bin/env bats
# dml-predict: columns matched by name, probabilities, metrics, streaming;
# dml-ensemble: averaging members' probabilities.

load setup
load helpers

# A 3-class softmax model m.dml trained on d.csv (f1..f4, label).
make_model() {
	synth blobs -n 300 --classes 3 --features 4 --seed 61 > d.csv
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o m.dml
}

@test "columns are matched by header name: order and extra columns do not matter" {
	make_model
	$DML_WRAPPER dml-predict -m m.dml --proba d.csv > p1
	# label first, features shuffled, an extra column in the middle
	awk -F, -v OFS=, '{ print $5, $3, (NR == 1 ? "extra" : NR * 7), $1,
		$4, $2 }' d.csv > shuffled.csv
	head -n 1 shuffled.csv | grep -qx 'label,f3,extra,f1,f4,f2'
	$DML_WRAPPER dml-predict -m m.dml --proba shuffled.csv > p2
	cmp p1 p2
	# without the label column at all
	cut -d, -f1-4 d.csv > nolabel.csv
	$DML_WRAPPER dml-predict -m m.dml --proba nolabel.csv > p3
	cmp p1 p3
	# the order matters only through the names: renaming two columns
	# swaps them, and the predictions change
	sed '1s/f1,f2/f2,f1/' d.csv > swapped.csv
	$DML_WRAPPER dml-predict -m m.dml --proba swapped.csv > p4
	! cmp -s p1 p4
}

@test "--proba prints a header of classes and rows that sum to 1" {
	make_model
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --proba d.csv
	assert_success
	assert_line --index 0 $'label\tclass-1\tclass-2\tclass-3'
	assert_equal "${#lines[@]}" 301
	printf '%s\n' "${lines[@]:1}" > rows
	awk -F'\t' '{
		s = $2 + $3 + $4
		if (s < 1 - 1e-5 || s > 1 + 1e-5) { print "row " NR ": " s; bad = 1 }
		# the label is the most probable class
		best = 2; for (i = 3; i <= 4; i++) if ($i > $best) best = i
		if ($1 != "class-" (best - 1)) { print "row " NR ": " $0; bad = 1 }
	} END { exit bad }' rows
	# the labels are the plain predictions
	$DML_WRAPPER dml-predict -m m.dml d.csv > labels
	cut -f1 rows | cmp - labels
}

@test "--eval prints accuracy, logloss and rows; --verbose a confusion matrix" {
	make_model
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --eval --verbose \
		d.csv
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 0 --regexp $'^accuracy\t0\\.[0-9]{6}$'
	assert_line --index 1 --regexp $'^logloss\t[0-9]+\\.[0-9]{6}$'
	assert_line --index 2 $'rows\t300'
	assert_line --index 3 $'confusion\tclass-1\tclass-2\tclass-3'
	assert_equal "${#lines[@]}" 7
	printf '%s\n' "${lines[@]:4}" > matrix
	cut -f1 matrix | paste -sd' ' - | grep -qx 'class-1 class-2 class-3'
	# the entries sum to the rows, the row sums to the true class counts,
	# the diagonal to the accuracy
	sum=$(awk -F'\t' '{ for (i = 2; i <= NF; i++) s += $i } END { print s }' matrix)
	assert_equal "$sum" 300
	for c in 1 2 3; do
		row=$(awk -F'\t' -v c="$c" 'NR == c { for (i = 2; i <= NF; i++) s += $i; print s }' matrix)
		assert_equal "$row" "$(label_column d.csv | grep -cx "class-$c")"
	done
	diag=$(awk -F'\t' '{ s += $(NR + 1) } END { print s }' matrix)
	acc=$(awk -v d="$diag" 'BEGIN { printf "%.6f", d / 300 }')
	assert_line --index 0 $'accuracy\t'"$acc"
	# and the accuracy is that of the plain predictions
	$DML_WRAPPER dml-predict -m m.dml d.csv | paste -d, - <(label_column d.csv) |
		awk -F, '$1 == $2 { n++ } END { printf "%.6f\n", n / NR }' > acc2
	assert_equal "$(cat acc2)" "$acc"
}

@test "--eval counts rows whose label the model does not know" {
	make_model
	sed '2,11s/,class-[123]$/,class-9/' d.csv > unknown.csv
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --eval unknown.csv
	assert_success
	assert_line --index 2 $'rows\t300'
	assert_line --index 3 $'unknown_labels\t10'
}

@test "predictions come in input order, from files, stdin and -o" {
	make_model
	$DML_WRAPPER dml-partition -n 2 -s range d.csv
	$DML_WRAPPER dml-predict -m m.dml d.csv > all
	$DML_WRAPPER dml-predict -m m.dml shard-0.csv shard-1.csv > two
	cmp all two
	$DML_WRAPPER dml-predict -m m.dml < d.csv > stdin
	cmp all stdin
	cat d.csv | $DML_WRAPPER dml-predict -m m.dml - > pipe
	cmp all pipe
	$DML_WRAPPER dml-predict -m m.dml d.csv -o out
	cmp all out
	assert_equal "$(wc -l < all)" 300
}

@test "a model trained without a header predicts without one" {
	synth blobs -n 200 --classes 3 --features 3 --seed 62 --no-header > d.csv
	$DML_WRAPPER dml-train --no-header -a softmax -y 4 d.csv -o m.dml
	run $DML_WRAPPER dml-inspect --json m.dml
	assert_output --partial '"label":"col4","features":["col1","col2","col3"]'
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --no-header \
		--eval d.csv
	assert_success
	assert_line --index 2 $'rows\t200'
	cut -d, -f1-3 d.csv | $DML_WRAPPER dml-predict -m m.dml --no-header > p1
	$DML_WRAPPER dml-predict -m m.dml --no-header d.csv > p2
	cmp p1 p2
	assert_equal "$(wc -l < p1)" 200
}

@test "tab-delimited data gives the same predictions" {
	make_model
	tr , '\t' < d.csv > d.tsv
	$DML_WRAPPER dml-predict -m m.dml d.csv > p1
	$DML_WRAPPER dml-predict -m m.dml -d tab d.tsv > p2
	cmp p1 p2
	$DML_WRAPPER dml-train -a softmax -y label -d '\t' d.tsv -o t.dml
	assert_equal "$(json_value t.dml objective)" "$(json_value m.dml objective)"
}

@test "on a stream, each row is answered before the next arrives" {
	make_model
	$DML_WRAPPER dml-predict -m m.dml d.csv | head -n 3 > expected
	row2=$(sed -n 2p d.csv | cut -d, -f1-4)
	row3=$(sed -n 3p d.csv | cut -d, -f1-4)
	row4=$(sed -n 4p d.csv | cut -d, -f1-4)
	coproc PRED { $DML_WRAPPER dml-predict -m m.dml; }
	# bash unsets PRED_PID once the coprocess ends: keep it
	local pid=$PRED_PID
	to=${PRED[1]} from=${PRED[0]}
	printf 'f1,f2,f3,f4\n%s\n' "$row2" >&"$to"
	read -r -t 30 first <&"$from" || fail "no answer to the first row"
	printf '%s\n' "$row3" >&"$to"
	read -r -t 30 second <&"$from" || fail "no answer to the second row"
	printf '%s\n' "$row4" >&"$to"
	read -r -t 30 third <&"$from" || fail "no answer to the third row"
	exec {to}>&-
	wait "$pid"
	printf '%s\n' "$first" "$second" "$third" | cmp - expected
}

@test "an ensemble of a model with itself predicts exactly like the model" {
	make_model
	$DML_WRAPPER dml-ensemble m.dml m.dml -o e.dml
	assert_equal "$(json_value e.dml kind)" ensemble
	$DML_WRAPPER dml-predict -m m.dml --proba d.csv > p1
	$DML_WRAPPER dml-predict -m e.dml --proba d.csv > p2
	cmp p1 p2
	$DML_WRAPPER dml-predict -m m.dml --eval d.csv > e1
	$DML_WRAPPER dml-predict -m e.dml --eval d.csv > e2
	cmp e1 e2
}

@test "ensembles of ensembles flatten" {
	make_model
	$DML_WRAPPER dml-ensemble m.dml m.dml > e2.dml
	$DML_WRAPPER dml-ensemble e2.dml m.dml > e3.dml
	$DML_WRAPPER dml-ensemble e3.dml e2.dml > e5.dml
	run $DML_WRAPPER dml-inspect --field members e2.dml e3.dml e5.dml m.dml
	assert_output $'2\n3\n5\n1'
	run $DML_WRAPPER dml-inspect e5.dml
	assert_line '  members        5'
	assert_line '  classes        3: class-1 class-2 class-3'
	# several records on standard input
	cat m.dml e2.dml | $DML_WRAPPER dml-ensemble - > e3b.dml
	cmp e3.dml e3b.dml
	$DML_WRAPPER dml-predict -m e5.dml --proba d.csv > p5
	$DML_WRAPPER dml-predict -m m.dml --proba d.csv > p1
	cmp p1 p5
}

@test "an ensemble of different models averages their probabilities" {
	synth blobs -n 300 --classes 3 --features 4 --seed 63 > d.csv
	$DML_WRAPPER dml-partition -n 2 d.csv
	$DML_WRAPPER dml-train -a softmax -y label shard-0.csv -o a.dml
	$DML_WRAPPER dml-train -a softmax -y label shard-1.csv -o b.dml
	$DML_WRAPPER dml-ensemble a.dml b.dml -o e.dml
	head -n 21 d.csv > few.csv
	$DML_WRAPPER dml-predict -m a.dml --proba few.csv | tail -n +2 > pa
	$DML_WRAPPER dml-predict -m b.dml --proba few.csv | tail -n +2 > pb
	$DML_WRAPPER dml-predict -m e.dml --proba few.csv | tail -n +2 > pe
	! cmp -s pa pb
	paste pa pb pe | awk -F'\t' '{
		for (c = 2; c <= 4; c++) {
			m = ($c + $(c + 4)) / 2; d = m - $(c + 8)
			if (d < -2e-6 || d > 2e-6) { print NR ": " $0; bad = 1 }
		}
	} END { exit bad }'
}

@test "binary data: any -j gives the bytes of one thread and of a stream" {
	synth blobs -n 900 --classes 3 --features 4 --seed 64 > d.csv
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o m.dml
	$DML_WRAPPER dml-partition -n 3 -f bin -y label -o 's%d.bin' d.csv
	cat s0.bin s1.bin s2.bin > all.bin
	$DML_WRAPPER dml-predict -j1 -m m.dml --proba all.bin > p1
	assert_equal "$(wc -l < p1)" 901
	$DML_WRAPPER dml-predict -j1 -m m.dml --eval --verbose all.bin > e1
	assert_equal "$(sed -n 's/^rows\t//p' e1)" 900
	local j
	for j in 2 3 7; do
		$DML_WRAPPER dml-predict -j$j -m m.dml --proba all.bin > pj
		cmp p1 pj || fail "--proba with -j$j differs from -j1"
		$DML_WRAPPER dml-predict -j$j -m m.dml --eval --verbose \
			all.bin > ej
		cmp e1 ej || fail "--eval with -j$j differs from -j1"
	done
	# a pipe is answered a row at a time, by the same scores
	cat all.bin | $DML_WRAPPER dml-predict -m m.dml --proba > ps
	cmp p1 ps
	# a flipped bit in the second record's rows: its checksum, on any -j,
	# and no row of that record printed
	$DML_WRAPPER dml-predict -m m.dml all.bin > labels
	n0=$($DML_WRAPPER dml-inspect --field samples s0.bin)
	cp all.bin flip.bin
	flip_bit flip.bin $(($(wc -c < s0.bin) + 2000)) 4
	for j in 1 2; do
		run --separate-stderr $DML_WRAPPER dml-predict -j$j -m m.dml \
			flip.bin
		assert_failure 1
		assert_equal "$stderr" \
			'dml-predict: flip.bin: record 2: checksum mismatch'
		$DML_WRAPPER dml-predict -j$j -m m.dml flip.bin > out \
			2>/dev/null || true
		n=$(wc -l < out)
		[ "$n" -le "$n0" ] || fail "-j$j printed rows of record 2"
		head -n "$n" labels | cmp - out
	done
}
