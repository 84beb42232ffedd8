#!/usr/bin/env bats
# CSV at its edges: odd numbers, empty and huge fields, quotes and line
# breaks inside fields, line ends, a byte-order mark, blank lines, wide
# rows, tabs.  Each case is either read right (the result is checked) or
# refused with the exact "file:line:column: message".  The plain cases
# (wrong field counts, bad quoting, nan, inf, empty fields, header-only
# input for fitting) are in errors.bats.

load setup
load helpers

# stats FILE [OPTION...]: the statistics of FILE (label column "label"),
# as dml-inspect --json prints them, without the file name and the leaf
# (which hash the input's bytes).
stats() {
	local f=$1
	shift
	$DML_WRAPPER dml-train --emit stats -y label "$@" "$f" -o "$f.dml" &&
		$DML_WRAPPER dml-inspect --json "$f.dml" |
		sed -e 's/"file":"[^"]*",//' -e 's/,"leaves":\[[^]]*\]//'
}

# refused FILE MESSAGE [OPTION...]: dml-train --emit stats and dml-partition
# --format bin both refuse FILE with "PROG: MESSAGE", exit 1, no output.
refused() {
	local f=$1 msg=$2
	shift 2
	run --separate-stderr $DML_WRAPPER dml-train --emit stats -y label "$@" "$f"
	assert_failure 1
	assert_equal "$stderr" "dml-train: $msg"
	assert_output ""
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 --format bin \
		-y label -o 'p-%d.dml' "$@" "$f"
	assert_failure 1
	assert_equal "$stderr" "dml-partition: $msg"
}

@test "NaN and infinities in every spelling: line and column" {
	local v
	for v in NaN -nan +inf -inf INF Infinity -Infinity 1e309 -1e400; do
		printf 'a,b,label\n1,2,x\n3,%s,y\n' "$v" > t.csv
		refused t.csv "t.csv:3:2: not a finite number: '$v'"
	done
	# and when predicting: the row, not the model, is named
	printf 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n' > ok.csv
	$DML_WRAPPER dml-train -a logistic -y label ok.csv -o m.dml
	printf 'a,b\n1,2\n-inf,4\n' > p.csv
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml p.csv
	assert_failure 1
	assert_equal "$stderr" "dml-predict: p.csv:3:1: not a finite number: '-inf'"
}

@test "numbers strtod reads are numbers; others are not" {
	printf 'a,label\n0x1p3,x\n+5,y\n.5,x\n5.,y\n1e-400,x\n-0,y\n' > n.csv
	run stats n.csv
	assert_success
	assert_output --partial '"samples":6'
	# the exact values: their sum and sum of squares are in the statistics
	$DML_WRAPPER dml-train -a logistic -y label n.csv -o m.dml
	printf 'a\n0x1p3\n8\n' > p.csv
	run $DML_WRAPPER dml-predict -m m.dml --proba p.csv
	assert_success
	assert_equal "${lines[1]}" "${lines[2]}"
	local v
	for v in 1_000 '1 2' "'3'" 0x 1e 1e+ --1 ١ 1.2.3; do
		printf 'a,b,label\n1,2,x\n3,%s,y\n' "$v" > t.csv
		refused t.csv "t.csv:3:2: not a number: '$v'"
	done
}

@test "a feature of subnormal values makes a model every reader takes" {
	# The range 0 .. 4.9e-324 would give the scale 2 / range = infinity,
	# a model that no reader takes ("non-finite scaler"), and a fit that
	# diverges; such a feature counts as constant.  Found by fuzz-record
	# (fuzz/regressions/csv-subnormal-range).
	tail -c +3 "$DML_SRCDIR/fuzz/regressions/csv-subnormal-range" > t.csv
	$DML_WRAPPER dml-train --emit stats -y label t.csv -o s.dml
	$DML_WRAPPER dml-train --apply s.dml -a logistic -o m.dml
	run --separate-stderr $DML_WRAPPER dml-inspect m.dml
	assert_success
	run --separate-stderr $DML_WRAPPER dml-train -a logistic -y label t.csv -o m2.dml
	assert_success
	run --separate-stderr $DML_WRAPPER dml-predict -m m2.dml t.csv
	assert_success
}

@test "empty and blank fields: line and column" {
	printf 'a,b,label\n1,2,x\n3,   ,y\n' > t.csv
	refused t.csv 't.csv:3:2: empty field'
	printf 'a,b,label\n1,2,x\n3,"",y\n' > t.csv
	refused t.csv 't.csv:3:2: empty field'
	printf 'a,b,label\n1,2,x\n3,4,\n' > t.csv
	# an empty label is a label like any other
	run stats t.csv
	assert_success
	assert_output --partial '"classes":["","x"]'
	# a trailing delimiter is one field more
	printf 'a,b,label\n1,2,x,\n' > t.csv
	refused t.csv 't.csv:2: expected 3 fields, found 4'
	# also in the header: a column with no name, and no values
	printf 'a,b,label,\n1,2,x,\n' > t.csv
	refused t.csv 't.csv:2:4: empty field'
}

@test "spaces around numbers and labels" {
	printf 'a,b,label\n 1 , 2 ,x\n"3 ", " 4",y\n5 ,6, x \n7,8," x "\n' > s.csv
	printf 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8," x "\n' > plain.csv
	# numbers with blanks around them, quoted or not, are the numbers;
	# unquoted labels lose their blanks, quoted ones keep them
	run stats s.csv
	assert_success
	assert_output "$(stats plain.csv)"
	assert_output --partial '"classes":[" x ","x","y"]'
}

@test "quotes, delimiters and line breaks inside a label" {
	printf 'a,b,label\n1,2,"two\nlines"\n3,4,"say ""hi"""\n5,6,"a,b"\n7,8,"two\nlines"\n' > q.csv
	run stats q.csv
	assert_success
	assert_output --partial '"samples":4'
	assert_output --partial '"classes":["a,b","say \"hi\"","two\u000alines"],"class_counts":[1,1,2]'
	# the lines after a field with a line break keep their numbers
	printf 'a,b,label\n1,2,"two\nlines"\n3,x,y\n' > t.csv
	refused t.csv "t.csv:4:2: not a number: 'x'"
	# dml-partition writes such fields back quoted: its shards hold the
	# same rows
	$DML_WRAPPER dml-partition -n 2 -o 'q-%d.csv' q.csv
	for s in q-0.csv q-1.csv; do
		$DML_WRAPPER dml-train --emit stats -y label "$s"
	done | $DML_WRAPPER dml-reduce -o r.dml
	run $DML_WRAPPER dml-inspect --json r.dml
	assert_output --partial '"classes":["a,b","say \"hi\"","two\u000alines"],"class_counts":[1,1,2]'
	# --eval finds the classes
	$DML_WRAPPER dml-train -a softmax -y label q.csv -o m.dml
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --eval q.csv
	assert_success
	assert_line 'rows	4'
	refute_line --partial unknown_labels
}

@test "predictions of a label with a line break stay one line a row" {
	# dml-predict writes a line break, tab or backslash in a label as \n,
	# \r, \t or \\, so that every row has its one line
	printf 'a,label\n1,"two\nlines"\n2,"two\nlines"\n10,"t\tb\\"\n11,"t\tb\\"\n' > q.csv
	$DML_WRAPPER dml-train -a logistic -y label q.csv -o m.dml
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml q.csv
	assert_success
	assert_output 'two\nlines
two\nlines
t\tb\\
t\tb\\'
}

@test "CRLF line ends read as LF ones; errors name the same place" {
	printf 'a,b,label\r\n1,2,x\r\n3,4,y\r\n"5",6,"x"\r\n' > crlf.csv
	tr -d '\r' < crlf.csv > lf.csv
	run stats crlf.csv
	assert_success
	assert_output "$(stats lf.csv)"
	# the last field of a line: the CR is not part of it
	printf 'label,a\r\nx,1\r\ny,zz\r\n' > t.csv
	refused t.csv "t.csv:3:2: not a number: 'zz'"
	printf 'label,a\r\nx,1\r\ny,\r\n' > t.csv
	refused t.csv 't.csv:3:2: empty field'
	# a quoted line break inside a CRLF file
	printf 'a,label\r\n1,"x\r\ny"\r\n2,z\r\n3,q\r\n' > t.csv
	run stats t.csv
	assert_success
	assert_output --partial '"samples":3'
	printf 'a,label\r\n1,"x\r\ny"\r\nw,z\r\n' > t.csv
	refused t.csv "t.csv:4:1: not a number: 'w'"
}

@test "CR line ends (old Mac files): rows and line numbers" {
	printf 'a,b,label\r1,2,x\r3,4,y\r' > cr.csv
	printf 'a,b,label\n1,2,x\n3,4,y\n' > lf.csv
	run stats cr.csv
	assert_success
	assert_output "$(stats lf.csv)"
	# a CR alone ends a line as well as a row
	printf 'a,b,label\r1,2,x\r3,z,y\r' > t.csv
	refused t.csv "t.csv:3:2: not a number: 'z'"
}

@test "a CR inside the first line of a large file: one thread and several agree" {
	# libcsv ends a row at a CR: the one-thread reader takes the second
	# row of this first line for data, and so must the parallel one.
	# Found by fuzz-csv (fuzz/regressions/csv-threads-cr-in-first-line).
	{
		printf 'a,b,label\r1,2,x\n'
		local i
		for ((i = 0; i < 2000; i++)); do
			printf '%s\n' 1,2,x 3,4,y 5,6,x 7,8,y 9,10,x 11,12,y 13,14,x 15,16,y
		done
	} > big.csv
	# past the 4 MiB from which a file is read in parallel
	tail -n +2 big.csv > body.csv
	for ((i = 0; i < 5; i++)); do cat body.csv body.csv body.csv; done > b8
	while (($(wc -c < big.csv) < 4300000)); do cat b8 >> big.csv; done
	run stats big.csv -j 1
	assert_success
	one=$output
	run stats big.csv -j 3
	assert_success
	assert_equal "$output" "$one"
}

@test "a UTF-8 byte-order mark is not part of the first column's name" {
	printf '\xef\xbb\xbflabel,a,b\nx,1,2\ny,3,4\n' > bom.csv
	printf 'label,a,b\nx,1,2\ny,3,4\n' > plain.csv
	run stats bom.csv
	assert_success
	assert_output "$(stats plain.csv)"
	# from a pipe, too
	run bash -c "cat bom.csv | $DML_WRAPPER dml-train --emit stats -y label -o s.dml"
	assert_success
	run $DML_WRAPPER dml-inspect -f features s.dml
	assert_output 2
	# and before a data row with --no-header: its first number
	printf '\xef\xbb\xbf1,2,x\n3,4,y\n' > nh.csv
	run $DML_WRAPPER dml-train --emit stats --no-header -y 3 nh.csv -o s.dml
	assert_success
	# a file of only the mark holds no rows
	printf '\xef\xbb\xbf' > only.csv
	run --separate-stderr $DML_WRAPPER dml-train --emit stats -y label only.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-train: only.csv: no rows'
}

@test "ragged rows: the line, also after quoted delimiters and line breaks" {
	printf 'a,b,label\n1,2,x\n"3,4",y\n' > t.csv
	refused t.csv 't.csv:3: expected 3 fields, found 2'
	printf 'a,b,label\n1,2,"x\n"\n3,4,y,z\n' > t.csv
	refused t.csv 't.csv:4: expected 3 fields, found 4'
	# in a model's input, too
	printf 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n' > ok.csv
	$DML_WRAPPER dml-train -a logistic -y label ok.csv -o m.dml
	printf 'b,a\n1,2\n3\n' > p.csv
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml p.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-predict: p.csv:3: expected 2 fields, found 1'
	assert_output '' # the first row's prediction is not half-written
}

@test "blank lines are skipped and do not shift line numbers" {
	printf 'a,b,label\n\n1,2,x\n\n\n3,4,y\n   \n\t\n5,6,x\n\n' > b.csv
	printf 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n' > plain.csv
	run stats b.csv
	assert_success
	assert_output "$(stats plain.csv)"
	printf 'a,b,label\n\n1,2,x\n\n\n3,z,y\n' > t.csv
	refused t.csv "t.csv:6:2: not a number: 'z'"
}

@test "a header and no rows" {
	printf 'a,b,label\n' > h.csv
	# statistics of no rows: an empty shard contributes nothing
	run stats h.csv
	assert_success
	assert_output --partial '"samples":0'
	# the same without the final line end
	printf 'a,b,label' > h2.csv
	run stats h2.csv
	assert_success
	assert_output --partial '"samples":0'
	# shards of nothing: the header only, or no records at all
	$DML_WRAPPER dml-partition -n 2 -o 'p-%d.csv' h.csv
	assert_equal "$(cat p-0.csv)" 'a,b,label'
	assert_equal "$(cat p-1.csv)" 'a,b,label'
	$DML_WRAPPER dml-partition -n 2 --format bin -y label -o 'p-%d.dml' h.csv
	assert_file_empty p-0.dml
	# predictions of no rows: none
	printf 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n' > ok.csv
	$DML_WRAPPER dml-train -a logistic -y label ok.csv -o m.dml
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml h.csv
	assert_success
	assert_output ''
}

@test "10,000 columns" {
	awk 'BEGIN {
		n = 10000
		for (i = 1; i <= n; i++) printf "f%d,", i
		print "label"
		for (r = 0; r < 4; r++) {
			for (i = 1; i <= n; i++) printf "%d,", (i * r) % 7
			print (r % 2 ? "a" : "b")
		}
	}' > wide.csv
	run stats wide.csv
	assert_success
	assert_output --partial '"samples":4'
	run $DML_WRAPPER dml-inspect -f features wide.csv.dml
	assert_output 10000
	$DML_WRAPPER dml-train -a logistic -y label wide.csv -o m.dml
	run $DML_WRAPPER dml-predict -m m.dml wide.csv
	assert_success
	assert_output $'b\na\nb\na'
	# one column short in the last row
	sed '$s/,[^,]*$//' wide.csv > short.csv
	refused short.csv 'short.csv:5: expected 10001 fields, found 10000'
}

@test "a field of 1 MB: as a label, as a feature" {
	# (each run reads a megabyte field: a few seconds under ASan, since
	# libcsv grows its field buffer 128 bytes at a time)
	local mb
	mb=$(head -c 1000000 /dev/zero | tr '\0' x)
	printf 'a,label\n1,%s\n2,y\n3,%s\n4,y\n' "$mb" "$mb" > l.csv
	$DML_WRAPPER dml-train -a logistic -y label l.csv -o m.dml
	run $DML_WRAPPER dml-inspect --json m.dml
	assert_success
	assert_output --partial '"class_counts":[2,2]'
	run $DML_WRAPPER dml-predict -m m.dml l.csv
	assert_success
	assert_equal "${#lines[@]}" 4
	assert_equal "${#lines[0]}" 1000000
	# a number of a million digits is out of range; the message shows 40
	printf 'a,b,label\n1,%s,x\n' "$(head -c 1000000 /dev/zero | tr '\0' 1)" > f.csv
	run --separate-stderr $DML_WRAPPER dml-train --emit stats -y label f.csv
	assert_failure 1
	assert_equal "$stderr" "dml-train: f.csv:2:2: not a finite number: '1111111111111111111111111111111111111111'"
}

@test "a label longer than a record string can hold is refused where it is" {
	# a record's strings hold at most 2^20 bytes: a longer label would
	# make a record that no reader takes ("malformed labels section")
	printf 'a,label\n1,%s\n2,y\n' "$(head -c 1048577 /dev/zero | tr '\0' x)" > l.csv
	run --separate-stderr $DML_WRAPPER dml-train --emit stats -y label l.csv -o s.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-train: l.csv:2:2: label longer than 1048576 bytes'
	assert_file_not_exists s.dml
}

@test "a NUL byte inside a field is refused, not cut there" {
	# fields are C strings: "1<NUL>junk" would read as 1, and "x<NUL>y"
	# as the label x
	printf 'a,b,label\n1,2,x\n3,4\0junk,y\n' > t.csv
	refused t.csv 't.csv:3:2: NUL byte in a field'
	printf 'a,b,label\n1,2,x\n3,4,y\0z\n' > t.csv
	refused t.csv 't.csv:3:3: NUL byte in a field'
	printf 'a\0,b,label\n1,2,x\n' > t.csv
	refused t.csv 't.csv:1:1: NUL byte in a field'
}

@test "a tab delimiter with -d tab" {
	printf 'a\tb\tlabel\n 1 \t2\tx\n3\t4\t"y\tz"\n' > t.tsv
	printf 'a,b,label\n1,2,x\n3,4,"y\tz"\n' > t.csv
	run stats t.tsv -d tab
	assert_success
	assert_output "$(stats t.csv)"
	run stats t.tsv -d '\t'
	assert_success
	assert_output "$(stats t.csv)"
	# without -d the whole line is one column
	run --separate-stderr $DML_WRAPPER dml-train --emit stats -y label t.tsv
	assert_failure 1
	assert_equal "$stderr" "dml-train: t.tsv:1: label column 'label' not found"
	# a comma is not a decimal point; a space inside a number is no blank
	printf 'a\tb\tlabel\n1,5\t2\tx\n' > t.tsv
	refused t.tsv "t.tsv:2:1: not a number: '1,5'" -d tab
	printf 'a\tb\tlabel\n1 5\t2\tx\n' > t.tsv
	refused t.tsv "t.tsv:2:1: not a number: '1 5'" -d tab
	# an empty field between two tabs is a field
	printf 'a\tb\tlabel\n1\t\t2\tx\n' > t.tsv
	refused t.tsv 't.tsv:2: expected 3 fields, found 4' -d tab
	# predictions, too
	printf 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n' > ok.csv
	$DML_WRAPPER dml-train -a logistic -y label ok.csv -o m.dml
	printf 'b\ta\n2\t1\n' > p.tsv
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml -d tab p.tsv
	assert_success
	assert_equal "${#lines[@]}" 1
}
