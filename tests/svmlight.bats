#!/usr/bin/env bats
# svmlight / libsvm input ("LABEL INDEX:VALUE ..."): read like the same
# rows in CSV (features named by index: 1, 2, ...), by dml-train,
# dml-predict and dml-partition; told apart from CSV by its look or by
# --input-format; --features or the largest index; every bad input
# refused with "file:line:column: message".

load setup
load helpers

# gen: d.svm and the same rows as dense CSV, d.csv (header label,1..6):
# 60 rows, 3 classes, about a third of the values zero (left out of the
# svmlight lines).
gen() {
	awk 'BEGIN {
		print "label,1,2,3,4,5,6" > "d.csv"
		for (i = 0; i < 60; i++) {
			y = i % 3 + 1
			line = y; row = y
			for (j = 1; j <= 6; j++) {
				v = (i * 7 + j * 13) % 11 - 5
				if (j == y) v += 4
				if (v % 3 == 0) v = 0
				v = v / 4
				row = row "," v
				if (v != 0) line = line " " j ":" v
			}
			print line > "d.svm"
			print row > "d.csv"
		}
	}'
}

# inspect FILE: dml-inspect --json without the file name and the leaves
# (which hash the input's bytes).
inspect() {
	$DML_WRAPPER dml-inspect --json "$1" |
		sed -e 's/"file":"[^"]*",//' -e 's/,"leaves":\[[^]]*\]//'
}

# refused FILE MESSAGE [OPTION...]: dml-train --emit stats refuses FILE
# with "dml-train: MESSAGE", exit 1, and writes no output.
refused() {
	local f=$1 msg=$2
	shift 2
	run --separate-stderr $DML_WRAPPER dml-train --emit stats -y label \
		"$@" "$f" -o out.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: $msg"
	assert_file_not_exists out.dml
}

@test "svmlight and the same rows in CSV: the same model and predictions" {
	gen
	$DML_WRAPPER dml-train -a softmax -y label d.svm -o s.dml
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o c.dml
	run $DML_WRAPPER dml-inspect s.dml
	assert_line '  features       6: 1 2 3 4 5 6'
	assert_line '  classes        3: 1 2 3'
	assert_line '  samples        60'
	assert_equal "$(inspect s.dml)" "$(inspect c.dml)"
	# the label is named "label" when -y is not given
	$DML_WRAPPER dml-train -a softmax d.svm -o s2.dml
	assert_equal "$(inspect s2.dml)" "$(inspect c.dml)"
	$DML_WRAPPER dml-predict -m s.dml --proba d.svm > ps
	$DML_WRAPPER dml-predict -m c.dml --proba d.csv > pc
	$DML_WRAPPER dml-predict -m c.dml --proba d.svm > pcs
	$DML_WRAPPER dml-predict -m s.dml --proba d.csv > psc
	assert_equal "$(wc -l < ps)" 61
	cmp ps pc
	cmp ps pcs
	cmp ps psc
	run $DML_WRAPPER dml-predict -m s.dml --eval d.svm
	assert_success
	assert_equal "$output" "$($DML_WRAPPER dml-predict -m c.dml --eval d.csv)"
	assert_line --index 2 $'rows\t60'
}

@test "a regression target, a gradient at a model, a binary classifier" {
	gen
	$DML_WRAPPER dml-train -a linear -y label d.svm -o s.dml
	$DML_WRAPPER dml-train -a linear -y label d.csv -o c.dml
	assert_equal "$(inspect s.dml)" "$(inspect c.dml)"
	run $DML_WRAPPER dml-predict -m s.dml --eval d.svm
	assert_output "$($DML_WRAPPER dml-predict -m c.dml --eval d.csv)"
	assert_line --index 3 $'rows\t60'
	$DML_WRAPPER dml-train --emit gradient -m s.dml d.svm -o gs.dml
	$DML_WRAPPER dml-train --emit gradient -m s.dml d.csv -o gc.dml
	assert_equal "$(inspect gs.dml)" "$(inspect gc.dml)"
	sed -e 's/^3 /1 /' d.svm > b.svm
	sed -e 's/^3,/1,/' d.csv > b.csv
	$DML_WRAPPER dml-train -a logistic b.svm -o bs.dml
	$DML_WRAPPER dml-train -a logistic -y label b.csv -o bc.dml
	assert_equal "$(inspect bs.dml)" "$(inspect bc.dml)"
}

@test "dml-partition: svmlight to binary shards as from CSV, byte for byte" {
	gen
	$DML_WRAPPER dml-partition -n 3 -f bin -y label -o 'c-%d.bin' d.csv
	$DML_WRAPPER dml-partition -n 3 -f bin -o 's-%d.bin' d.svm
	cmp c-0.bin s-0.bin
	cmp c-1.bin s-1.bin
	cmp c-2.bin s-2.bin
	# from a pipe, with the number of features given
	cat d.svm | $DML_WRAPPER dml-partition -n 3 -f bin --features 6 -o 'p-%d.bin'
	cmp c-0.bin p-0.bin
	# -s range copies standard input to a file: no --features needed
	$DML_WRAPPER dml-partition -n 2 -s range -f bin -y label -o 'rc-%d.bin' d.csv
	cat d.svm | $DML_WRAPPER dml-partition -n 2 -s range -f bin -o 'rs-%d.bin'
	cmp rc-1.bin rs-1.bin
	# shards train the same model as the whole
	$DML_WRAPPER dml-train -a softmax -y label s-0.bin s-1.bin s-2.bin -o m.dml
	$DML_WRAPPER dml-train -a softmax -y label c-0.bin c-1.bin c-2.bin -o n.dml
	cmp m.dml n.dml
	run $DML_WRAPPER dml-inspect s-0.bin
	assert_line '  features       6: 1 2 3 4 5 6'
	assert_line '  label column   label'
	assert_line '  samples        20'
}

@test "dml-partition: svmlight lines pass through unchanged" {
	printf '# a header comment\r\n1 1:0.5 3:2 # one\r\n\r\n-1 qid:4 2:1e-3\r\n+1 1:1\n0 2:7' > in.svm
	$DML_WRAPPER dml-partition -n 2 -o 'p-%d.svm' in.svm
	assert_equal "$(cat p-0.svm)" $'1 1:0.5 3:2 # one\n+1 1:1'
	assert_equal "$(cat p-1.svm)" $'-1 qid:4 2:1e-3\n0 2:7'
	$DML_WRAPPER dml-partition -n 2 -s stratified -o 't-%d.svm' in.svm
	# four labels (1, -1, +1, 0), each dealt from shard (its number)
	assert_equal "$(cat t-0.svm)" $'1 1:0.5 3:2 # one\n+1 1:1'
	assert_equal "$(cat t-1.svm)" $'-1 qid:4 2:1e-3\n0 2:7'
	$DML_WRAPPER dml-partition -n 2 -s hash -k 2 -o 'h-%d.svm' in.svm
	assert_equal "$(cat h-0.svm h-1.svm | sort)" \
		"$(printf '%s\n' '+1 1:1' '-1 qid:4 2:1e-3' '0 2:7' '1 1:0.5 3:2 # one' | sort)"
	run $DML_WRAPPER dml-partition -n 2 -s hash -k f2 -o 'x-%d.svm' in.svm
	assert_failure 2
	assert_line --index 0 "dml-partition: -k: 'f2': svmlight rows are keyed by 'label' or a feature index"
	run --separate-stderr bash -c "cat in.svm | $DML_WRAPPER dml-partition -n 2 -f bin -o 'b-%d.bin'"
	assert_failure 2
	assert_equal "${stderr_lines[0]}" "dml-partition: (standard input): svmlight input that is not a regular file needs --features N with --format bin"
	assert_file_not_exists b-0.bin
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 -f bin --features 2 -o 'b-%d.bin' in.svm
	assert_failure 1
	assert_equal "$stderr" "dml-partition: in.svm:2:9: feature index 3 is beyond --features 2"
	assert_file_not_exists b-0.bin
	printf 'label,1\n1,2\n' > c.csv
	run $DML_WRAPPER dml-partition -n 1 -o 'm-%d' in.svm c.csv
	assert_failure 1
	assert_output "dml-partition: c.csv: is CSV, the first input svmlight: inputs do not mix"
}

@test "comments, qid, CRLF, blank lines and a byte-order mark change nothing" {
	printf '1 1:0.5 3:2\n0 2:1.5\n1 1:1 2:0.25 3:1\n0 2:2 3:-1\n' > plain.svm
	printf '\xef\xbb\xbf# made by hand\r\n\r\n1 qid:1 1:0.5 3:2 # first\r\n\t0\tqid:1  2:1.5\r\n  \r\n1 1:1 2:0.25 3:1 #\r\n0 qid:2 2:2 3:-1' > odd.svm
	$DML_WRAPPER dml-train --emit stats -y label plain.svm -o a.dml
	$DML_WRAPPER dml-train --emit stats -y label odd.svm -o b.dml
	assert_equal "$(inspect a.dml)" "$(inspect b.dml)"
	run $DML_WRAPPER dml-inspect a.dml
	assert_line '  features       3: 1 2 3'
	assert_line '  samples        4'
}

@test "--features sets the number of features; without it, the largest index" {
	printf '1 2:1\n0 5:2\n' > a.svm
	printf '1 1:1\n0 7:3\n' > b.svm
	$DML_WRAPPER dml-train --emit stats -y label a.svm -o n.dml
	run $DML_WRAPPER dml-inspect n.dml
	assert_line '  features       5: 1 2 3 4 5'
	$DML_WRAPPER dml-train --emit stats -y label --features 9 a.svm -o f.dml
	run $DML_WRAPPER dml-inspect f.dml
	assert_line '  features       9: 1 2 3 4 5 6 7 8 ...'
	# several files: the largest index of all
	$DML_WRAPPER dml-train --emit stats -y label a.svm b.svm -o ab.dml
	$DML_WRAPPER dml-train --emit stats -y label b.svm a.svm -o ba.dml
	run $DML_WRAPPER dml-inspect ab.dml
	assert_line '  features       7: 1 2 3 4 5 6 7'
	printf 'label,1,2,3,4,5,6,7\n1,0,1,0,0,0,0,0\n0,0,0,0,0,2,0,0\n1,1,0,0,0,0,0,0\n0,0,0,0,0,0,0,3\n' > ab.csv
	$DML_WRAPPER dml-train --emit stats -y label ab.csv -o c.dml
	assert_equal "$(inspect ab.dml)" "$(inspect c.dml)"
	refused b.svm "b.svm:2:3: feature index 7 is beyond --features 6" --features 6
	run $DML_WRAPPER dml-train --emit stats --features 0 a.svm
	assert_failure 2
	run $DML_WRAPPER dml-train --emit stats --features 1048577 a.svm
	assert_failure 2
}

@test "a model fixes the features: predict, gradients, a CSV model" {
	gen
	$DML_WRAPPER dml-train -a softmax d.svm -o m.dml
	printf '2 1:1 9:1\n' > wide.svm
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml wide.svm
	assert_failure 1
	assert_equal "$stderr" "dml-predict: wide.svm:1:7: feature index 9 is beyond the model's 6 features"
	run --separate-stderr $DML_WRAPPER dml-train --emit gradient -m m.dml wide.svm -o g.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: wide.svm:1:7: feature index 9 is beyond the model's 6 features"
	assert_file_not_exists g.dml
	run $DML_WRAPPER dml-predict -m m.dml --features 7 d.svm
	assert_failure 1
	assert_output "dml-predict: d.svm: --features 7, but the model has 6 features"
	# fewer indices than the model: the rest are 0
	printf '2 1:1\n' > narrow.svm
	printf 'label,1,2,3,4,5,6\n2,1,0,0,0,0,0\n' > narrow.csv
	assert_equal "$($DML_WRAPPER dml-predict -m m.dml --proba narrow.svm)" \
		"$($DML_WRAPPER dml-predict -m m.dml --proba narrow.csv)"
	# a model of CSV columns with other names cannot read svmlight
	printf 'y,a,b\n1,0,1\n0,1,0\n' > ab.csv
	$DML_WRAPPER dml-train -a logistic -y y ab.csv -o ab.dml
	run $DML_WRAPPER dml-predict -m ab.dml narrow.svm
	assert_failure 1
	assert_output "dml-predict: narrow.svm: feature 'a' of the model is not an svmlight index (the features of svmlight input are named 1, 2, ...)"
	# a model of CSV columns named by index reads svmlight: 3 and 1 of 1..6
	printf 'label,3,1\n1,1,0\n2,0,1\n1,2,0\n2,0,2\n' > idx.csv
	$DML_WRAPPER dml-train -a logistic -y label idx.csv -o idx.dml
	printf '1 3:1\n2 1:1\n1 3:2\n2 1:2\n' > idx.svm
	assert_equal "$($DML_WRAPPER dml-predict -m idx.dml --proba idx.svm)" \
		"$($DML_WRAPPER dml-predict -m idx.dml --proba idx.csv)"
	printf '1 2:1\n' > two.svm
	run $DML_WRAPPER dml-predict -m idx.dml two.svm
	assert_failure 1
	assert_output "dml-predict: two.svm:1:3: feature index 2 is not one of the model's features"
}

@test "bad svmlight input: file, line and byte column, exit 1, no output" {
	printf '1 1:1\n0 0:1\n' > f.svm
	refused f.svm "f.svm:2:3: feature index 0 (indices start at 1): '0:1'"
	printf '1 1:1 3:2 2:1\n' > f.svm
	refused f.svm "f.svm:1:11: feature index 2 after 3 (indices must increase)"
	printf '1 1:1 1:2\n' > f.svm
	refused f.svm "f.svm:1:7: feature index 1 after 1 (indices must increase)"
	printf '1 1:1\n1 2:x\n' > f.svm
	refused f.svm "f.svm:2:3: not a number: 'x'"
	printf '1 1:nan\n' > f.svm
	refused f.svm "f.svm:1:3: not a finite number: 'nan'"
	printf '1 1:-inf\n' > f.svm
	refused f.svm "f.svm:1:3: not a finite number: '-inf'"
	printf '1 1:1e999\n' > f.svm
	refused f.svm "f.svm:1:3: not a finite number: '1e999'"
	printf '1 1:\n' > f.svm
	refused f.svm "f.svm:1:3: empty value: '1:'"
	printf '1 1:1 2\n' > f.svm
	refused f.svm "f.svm:1:7: expected INDEX:VALUE, found '2'" --input-format svmlight
	printf '1 :5\n' > f.svm
	refused f.svm "f.svm:1:3: missing feature index: ':5'" --input-format svmlight
	printf '1 x:5\n' > f.svm
	refused f.svm "f.svm:1:3: feature index is not a number: 'x:5'" --input-format svmlight
	printf '1 -1:5\n' > f.svm
	refused f.svm "f.svm:1:3: feature index is not a number: '-1:5'" --input-format svmlight
	printf '1 1:1 99999999999999999999999999:1\n' > f.svm
	refused f.svm "f.svm:1:7: feature index 99999999999999999999... is beyond the limit of 1048576 features"
	printf '1 1048577:1\n' > f.svm
	refused f.svm "f.svm:1:3: feature index 1048577 is beyond the limit of 1048576 features"
	printf '1 qid:x 1:1\n' > f.svm
	refused f.svm "f.svm:1:3: qid is not a number: 'x'"
	printf '1:1 2:1\n' > f.svm
	refused f.svm "f.svm:1:1: expected a label, found '1:1'" --input-format svmlight
	printf '1 1:1\n1 2:1\0\n' > f.svm
	refused f.svm "f.svm:2:6: NUL byte"
	head -c 1048577 /dev/zero | tr '\0' a > long.svm
	printf ' 1:1\n' >> long.svm
	refused long.svm "long.svm:1:1: label longer than 1048576 bytes" --input-format svmlight
}

@test "a regression target that is not a number" {
	printf '1.5 1:1\nbig 2:1\n' > f.svm
	run --separate-stderr $DML_WRAPPER dml-train -a linear -y label f.svm -o m.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: f.svm:2:1: target 'big' is not a finite number"
	assert_file_not_exists m.dml
}

@test "dml-predict: bad input, labels not of the model, --eval" {
	gen
	$DML_WRAPPER dml-train -a softmax d.svm -o m.dml
	printf '1 1:1\n2 2:1 1:3\n' > f.svm
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml f.svm -o out
	assert_failure 1
	assert_equal "$stderr" "dml-predict: f.svm:2:7: feature index 1 after 2 (indices must increase)"
	assert_file_not_exists out
	printf '1 1:1\n7 2:1\n' > f.svm
	run $DML_WRAPPER dml-predict -m m.dml --eval f.svm
	assert_success
	assert_line $'unknown_labels\t1'
	assert_line $'rows\t2'
}

@test "the format: told by its look, or by --input-format" {
	gen
	# a CSV whose first line has no delimiter is still CSV
	printf 'label\n1\n2\n' > one.csv
	$DML_WRAPPER dml-train --emit stats -y label one.csv -o o.dml
	run $DML_WRAPPER dml-inspect o.dml
	assert_line '  features       0:'
	# svmlight from standard input, found by its look
	cat d.svm | $DML_WRAPPER dml-train -a softmax -y label > p.dml
	$DML_WRAPPER dml-train -a softmax -y label d.svm -o f.dml
	assert_equal "$(inspect p.dml)" "$(inspect f.dml)"
	cat d.svm | $DML_WRAPPER dml-predict -m f.dml > pp
	$DML_WRAPPER dml-predict -m f.dml d.svm > pf
	cmp pp pf
	# a comment first, and a first row of no features but a label
	{ echo '# features: 6'; echo '3 qid:1'; cat d.svm; } > c.svm
	run $DML_WRAPPER dml-predict -m f.dml c.svm
	assert_success
	assert_equal "${#lines[@]}" 61
	# told otherwise
	run $DML_WRAPPER dml-train --emit stats -y label --input-format csv d.svm
	assert_failure 1
	assert_output "dml-train: d.svm:1: label column 'label' not found"
	printf 'y x\n1 2\n' > sp.csv
	run $DML_WRAPPER dml-train --emit stats -y y -d ' ' sp.csv -o sp.dml
	assert_success
	run $DML_WRAPPER dml-train --emit stats -y y -d ' ' --input-format svmlight sp.csv
	assert_failure 1
	assert_output "dml-train: sp.csv:1:3: expected INDEX:VALUE, found 'x'"
	run $DML_WRAPPER dml-train --emit stats --input-format libsvm d.svm
	assert_failure 2
	assert_line --index 0 "dml-train: --input-format: unknown format 'libsvm' (auto, csv, svmlight)"
}

@test "on a stream, each svmlight row is answered before the next arrives" {
	gen
	$DML_WRAPPER dml-train -a softmax d.svm -o m.dml
	$DML_WRAPPER dml-predict -m m.dml d.svm | head -n 3 > expected
	coproc PRED { $DML_WRAPPER dml-predict -m m.dml; }
	local pid=$PRED_PID
	to=${PRED[1]} from=${PRED[0]}
	sed -n 1p d.svm >&"$to"
	read -r -t 30 first <&"$from" || fail "no answer to the first row"
	sed -n 2p d.svm >&"$to"
	read -r -t 30 second <&"$from" || fail "no answer to the second row"
	sed -n 3p d.svm >&"$to"
	read -r -t 30 third <&"$from" || fail "no answer to the third row"
	exec {to}>&-
	wait "$pid"
	printf '%s\n' "$first" "$second" "$third" | cmp - expected
}

@test "a first line longer than the 64 KiB looked at is judged by its whole tokens" {
	awk 'BEGIN {
		line = "1"; row = "1"; head = "label"
		for (j = 1; j <= 20000; j++) {
			line = line " " j ":" (j % 7) / 8
			row = row "," (j % 7) / 8
			head = head "," j
		}
		print line > "w.svm"; print "0 3:1" > "w.svm"
		print head > "w.csv"; print row > "w.csv"
		row = "0"
		for (j = 1; j <= 20000; j++) row = row "," (j == 3)
		print row > "w.csv"
	}'
	[[ $(head -n 1 w.svm | wc -c) -gt 65536 ]]
	$DML_WRAPPER dml-train --emit stats -y label w.svm -o f.dml
	cat w.svm | $DML_WRAPPER dml-train --emit stats -y label -o p.dml
	$DML_WRAPPER dml-train --emit stats -y label w.csv -o c.dml
	cat w.csv | $DML_WRAPPER dml-train --emit stats -y label -o q.dml
	assert_equal "$(inspect f.dml)" "$(inspect c.dml)"
	assert_equal "$(inspect p.dml)" "$(inspect c.dml)"
	assert_equal "$(inspect q.dml)" "$(inspect c.dml)"
	run $DML_WRAPPER dml-inspect f.dml
	assert_line '  samples        2'
	assert_line '  features       20000: 1 2 3 4 5 6 7 8 ...'
}

@test "svmlight and CSV inputs together: streamed by one thread and held by two, the same records; columns grow over svmlight inputs only" {
	awk 'BEGIN { srand(3)
		for (i = 0; i < 700; i++) {
			printf "%d", i % 3
			for (j = 1; j <= 4; j++) printf " %d:%.3f", j, rand()
			printf "\n"
		} }' > a.svm
	awk 'BEGIN { srand(4); print "label,1,2,3,4"
		for (i = 0; i < 900; i++) {
			printf "%d", i % 3
			for (j = 1; j <= 4; j++) printf ",%.3f", rand()
			printf "\n"
		} }' > b.csv
	dml-train --emit stats -y label b.csv | dml-train --apply - -a softmax -o m.dml
	for order in 'a.svm b.csv' 'b.csv a.svm'; do
		for j in 1 2; do
			# shellcheck disable=SC2086
			$DML_WRAPPER dml-train -j $j --emit stats -y label $order -o s$j.dml
			# shellcheck disable=SC2086
			$DML_WRAPPER dml-train -j $j --emit gradient -m m.dml $order -o g$j.dml
		done
		cmp s1.dml s2.dml
		cmp g1.dml g2.dml
		run $DML_WRAPPER dml-inspect --field samples g1.dml
		assert_output 1600
	done
	# a fifth column: from svmlight after svmlight, not after CSV
	echo '1 1:0.5 5:0.2' > c.svm
	echo '1 1:0.5 3:0.2' > d.svm
	for j in 1 2; do
		run -1 --separate-stderr $DML_WRAPPER dml-train -j $j --emit stats -y label b.csv c.svm -o x.dml
		assert_equal "$stderr" "dml-train: c.svm:1:9: feature index 5 is beyond the 4 features of the first input"
		assert_file_not_exists x.dml
		$DML_WRAPPER dml-train -j $j --emit stats -y label d.svm c.svm -o w$j.dml
	done
	cmp w1.dml w2.dml
	run $DML_WRAPPER dml-inspect --field samples,features w1.dml
	assert_output $'2\t5'
}
