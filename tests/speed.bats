#!/usr/bin/env bats
# The fast paths give the same answers as the plain ones: binary data
# shards, threads, streaming prediction; and the bounded-time round.

load setup

setup() {
	dml_setup
	synth blobs -n 3000 --classes 3 --features 6 --seed 11 > train.csv
	synth blobs -n 500 --classes 3 --features 6 --seed 12 > test.csv
}

@test "dml-partition --format bin converts CSV into data records" {
	run $DML_WRAPPER dml-partition -n 1 --format bin -y label -o train.bin train.csv
	assert_success
	assert_output ''
	# 3000 rows in blocks of 4096: one record
	run $DML_WRAPPER dml-inspect --field kind train.bin
	assert_output 'data'
	run $DML_WRAPPER dml-inspect --field samples train.bin
	assert_output '3000'
	# f32 data: 6 features * 3000 rows * 4 bytes plus labels and framing
	run stat -c %s train.bin
	(( output > 72000 && output < 90000 )) || fail "size $output"
}

@test "training on binary shards gives the model of the same CSV" {
	dml-partition -n 1 --format bin --dtype f64 -y label -o train.bin train.csv
	$DML_WRAPPER dml-train -a softmax -y label train.csv -o csv.dml
	$DML_WRAPPER dml-train -a softmax -y label train.bin -o bin.dml
	# the leaf identities differ (other bytes), the fitted models do not
	run $DML_WRAPPER dml-inspect --field objective csv.dml
	local want=$output
	run $DML_WRAPPER dml-inspect --field objective bin.dml
	assert_output "$want"
	dml-predict -m csv.dml test.csv > a.txt
	dml-predict -m bin.dml test.csv > b.txt
	cmp a.txt b.txt
}

@test "binary blocks of 4096 rows: several records, all rows kept" {
	synth blobs -n 9000 --classes 3 --features 3 --seed 5 > big.csv
	dml-partition -n 2 --format bin -y label -o 'big-%d.bin' big.csv
	run $DML_WRAPPER dml-inspect --field samples big-0.bin big-1.bin
	assert_output "$(printf '4096\n404\n4096\n404')"
	dml-partition -n 2 --format bin -y label -o 'big-%d.bin' big.csv
	$DML_WRAPPER dml-train --emit stats -y label big-0.bin big-1.bin -o s.dml
	run $DML_WRAPPER dml-inspect --field samples s.dml
	assert_output '9000'
}

@test "dml-predict reads binary data and matches columns by name" {
	dml-partition -n 1 --format bin -y label -o test.bin test.csv
	$DML_WRAPPER dml-train -a softmax -y label train.csv -o m.dml
	run $DML_WRAPPER dml-predict -m m.dml --eval test.bin
	assert_success
	local bin=$output
	run $DML_WRAPPER dml-predict -m m.dml --eval test.csv
	assert_equal "$output" "$bin"
	assert_line --index 2 $'rows\t500'
	dml-predict -m m.dml test.bin > a.txt
	dml-predict -m m.dml test.csv > b.txt
	cmp a.txt b.txt
}

@test "binary data refuses a model whose features it lacks" {
	cut -d, -f1,3- train.csv > fewer.csv
	dml-partition -n 1 --format bin -y label -o fewer.bin fewer.csv
	$DML_WRAPPER dml-train -a softmax -y label train.csv -o m.dml
	run -1 --separate-stderr $DML_WRAPPER dml-predict -m m.dml fewer.bin
	assert_equal "$stderr" "dml-predict: fewer.bin: record 1: column 'f2' not found (the model needs 6 features)"
}

@test "--dtype needs --format bin; unknown formats are usage errors" {
	run -2 --separate-stderr dml-partition -n 2 --dtype f32 train.csv
	assert_equal "${stderr_lines[0]}" "dml-partition: --dtype goes with --format bin"
	run -2 --separate-stderr dml-partition -n 2 --format parquet train.csv
	assert_equal "${stderr_lines[0]}" "dml-partition: --format: unknown format 'parquet' (csv, bin)"
}

@test "data records cannot be reduced" {
	dml-partition -n 1 --format bin -y label -o train.bin train.csv
	run -1 --separate-stderr $DML_WRAPPER dml-reduce train.bin
	assert_equal "$stderr" "dml-reduce: train.bin: record 1: data records cannot be reduced"
}

@test "threads do not change the model: -j 1, 2 and 3 are byte-identical" {
	synth blobs -n 9000 --classes 3 --features 6 --seed 3 > big.csv
	for j in 1 2 3; do
		$DML_WRAPPER dml-train -a softmax -y label -j $j --max-iter 8 big.csv -o m$j.dml
	done
	cmp m1.dml m2.dml
	cmp m1.dml m3.dml
	dml-train --emit stats -y label big.csv | dml-train --apply - -a softmax -o init.dml
	$DML_WRAPPER dml-train --emit gradient -m init.dml -j 1 big.csv -o g1.dml
	$DML_WRAPPER dml-train --emit gradient -m init.dml -j 2 big.csv -o g2.dml
	cmp g1.dml g2.dml
}

@test "one thread streams --emit stats and --emit gradient: the records of the rows in memory" {
	synth blobs -n 9000 --classes 3 --features 6 --seed 5 > big.csv
	# two files split off a block boundary, and binary shards
	head -n 5001 big.csv > a.csv
	{ head -n 1 big.csv; tail -n +5002 big.csv; } > b.csv
	$DML_WRAPPER dml-partition -n 2 --format bin -y label -o 's-%d.bin' big.csv
	dml-train --emit stats -y label big.csv | dml-train --apply - -a softmax -o init.dml
	for in in big.csv 'a.csv b.csv' 's-0.bin s-1.bin'; do
		# shellcheck disable=SC2086
		$DML_WRAPPER dml-train -j 1 --emit stats -y label $in -o s1.dml
		# shellcheck disable=SC2086
		$DML_WRAPPER dml-train -j 2 --emit stats -y label $in -o s2.dml
		cmp s1.dml s2.dml
		# shellcheck disable=SC2086
		$DML_WRAPPER dml-train -j 1 --emit gradient -m init.dml $in -o g1.dml
		# shellcheck disable=SC2086
		$DML_WRAPPER dml-train -j 2 --emit gradient -m init.dml $in -o g2.dml
		cmp g1.dml g2.dml
		run $DML_WRAPPER dml-inspect --field samples g1.dml
		assert_output 9000
	done
	# an error while streaming: named, nothing written
	awk 'NR == 7000 { $0 = $0 ",1" } 1' big.csv > bad.csv
	run -1 --separate-stderr $DML_WRAPPER dml-train -j 1 --emit gradient -m init.dml bad.csv -o g.dml
	assert_equal "$stderr" "dml-train: bad.csv:7000: expected 7 fields, found 8"
	assert_file_not_exists g.dml
	run -1 --separate-stderr $DML_WRAPPER dml-train -j 1 --emit stats -y label bad.csv -o s.dml
	assert_equal "$stderr" "dml-train: bad.csv:7000: expected 7 fields, found 8"
	assert_file_not_exists s.dml
}

@test "model averages are byte-identical in any tree" {
	dml-train --emit stats -y label train.csv | dml-train --apply - -a softmax -o init.dml
	dml-partition -n 4 -o 'p-%d.csv' train.csv
	for i in 0 1 2 3; do
		$DML_WRAPPER dml-train -m init.dml --optimizer sgd --epochs 1 p-$i.csv -o m$i.dml
	done
	$DML_WRAPPER dml-reduce m0.dml m1.dml m2.dml m3.dml -o flat.dml
	$DML_WRAPPER dml-reduce m3.dml m1.dml -o a.dml
	$DML_WRAPPER dml-reduce m2.dml a.dml -o b.dml
	$DML_WRAPPER dml-reduce b.dml m0.dml -o chain.dml
	cmp flat.dml chain.dml
	$DML_WRAPPER dml-reduce m0.dml m2.dml -o l.dml
	cat l.dml a.dml | $DML_WRAPPER dml-reduce -o tree.dml
	cmp flat.dml tree.dml
	# and the average is a model that predicts
	run $DML_WRAPPER dml-predict -m flat.dml --eval test.csv
	assert_success
}

@test "dml-reduce --timeout fails a round whose worker never reports" {
	dml-train --emit stats -y label train.csv -o s.dml
	mkfifo in.fifo
	# a worker that sends one record, then hangs with the pipe open
	(cat s.dml; exec sleep 30) > in.fifo 3>&- &
	local writer=$!
	SECONDS=0
	run -1 --separate-stderr $DML_WRAPPER dml-reduce --timeout 1 -o out.dml < in.fifo
	local took=$SECONDS
	kill "$writer" 2>/dev/null || true
	(( took < 20 )) || fail "took $took s"
	assert_equal "$stderr" "dml-reduce: timed out after 1 s with 1 contributions reduced; no output written"
	assert_file_not_exists out.dml
}

@test "dml-inspect --system names the BLIS kernels in use" {
	run $DML_WRAPPER dml-inspect --system
	assert_success
	assert_line --regexp '^blis            [0-9]+\.[0-9]+'
	assert_line --regexp '^blis kernels    [a-z0-9]+ \(BLIS_ARCH_TYPE='
	BLIS_ARCH_TYPE=25 run $DML_WRAPPER dml-inspect --system
	assert_line 'blis kernels    generic (BLIS_ARCH_TYPE=25)'
	run $DML_WRAPPER dml-inspect --system --json
	assert_output --regexp '^\{"dml":"0\.1\.0","blis":"[^"]+","kernels":"[^"]+"'
}

@test "a large CSV parsed by several threads gives the same records and errors" {
	synth blobs -n 80000 --classes 3 --features 6 --seed 8 > big.csv
	run stat -c %s big.csv
	(( output > 4194304 )) || fail "big.csv is only $output bytes: too small for the parallel reader"
	$DML_WRAPPER dml-train -j1 --emit stats -y label big.csv -o s1.dml
	$DML_WRAPPER dml-train -j3 --emit stats -y label big.csv -o s3.dml
	cmp s1.dml s3.dml
	# the first bad row in file order is reported, with its line
	awk 'NR == 45000 { $0 = $0 ",9" } NR == 50001 { sub(/^[^,]*/, "x") } 1' \
		big.csv > bad.csv
	run -1 --separate-stderr $DML_WRAPPER dml-train -j1 --emit stats -y label bad.csv
	assert_equal "$stderr" "dml-train: bad.csv:45000: expected 7 fields, found 8"
	run -1 --separate-stderr $DML_WRAPPER dml-train -j3 --emit stats -y label bad.csv
	assert_equal "$stderr" "dml-train: bad.csv:45000: expected 7 fields, found 8"
	# CRLF line ends and a byte-order mark take the same path
	{ printf '\xef\xbb\xbf'; sed 's/$/\r/' big.csv; } > crlf.csv
	$DML_WRAPPER dml-train -j2 --emit stats -y label crlf.csv -o c2.dml
	run $DML_WRAPPER dml-inspect --field samples,classes c2.dml
	assert_output $'80000\t3'
}

@test "one thread maps a CSV file a window at a time: the records and errors of a pipe" {
	synth blobs -n 160000 --classes 3 --features 6 --seed 9 > big.csv
	run stat -c %s big.csv
	(( output > 2 * 4194304 )) || fail "big.csv is only $output bytes: fewer than three windows"
	# labels quoted with a line break inside, CRLF line ends after a BOM:
	# lines of every kind cross the ends of the windows somewhere
	awk -F, -v OFS=, 'NR > 1 { $7 = "\"c\n" $7 "\"" } 1' big.csv > quoted.csv
	{ printf '\xef\xbb\xbf'; sed 's/$/\r/' big.csv; } > crlf.csv
	for f in big.csv quoted.csv crlf.csv; do
		$DML_WRAPPER dml-train -j1 --emit stats -y label "$f" -o file.dml
		cat "$f" | $DML_WRAPPER dml-train -j1 --emit stats -y label - -o pipe.dml
		cmp file.dml pipe.dml
	done
	run $DML_WRAPPER dml-inspect --field samples,classes file.dml
	assert_output $'160000\t3'
	# an error past the first window: the same line from both
	awk 'NR == 150000 { $0 = $0 ",9" } 1' big.csv > bad.csv
	run -1 --separate-stderr $DML_WRAPPER dml-train -j1 --emit stats -y label bad.csv
	assert_equal "$stderr" "dml-train: bad.csv:150000: expected 7 fields, found 8"
	run -1 --separate-stderr bash -c "cat bad.csv | $DML_WRAPPER dml-train -j1 --emit stats -y label -"
	assert_equal "$stderr" "dml-train: (standard input):150000: expected 7 fields, found 8"
}

@test "records of a binary shard in a file are mapped: the results and errors of a pipe" {
	# 100 features: records of 4096 rows are 1.6 MB, past the size from
	# which a record in a file is mapped rather than read
	synth blobs -n 12000 --classes 3 --features 100 --seed 4 > b.csv
	$DML_WRAPPER dml-partition -n 1 --format bin -y label -o s.bin b.csv
	$DML_WRAPPER dml-partition -n 1 --format bin --dtype f64 -y label -o d.bin b.csv
	run $DML_WRAPPER dml-inspect s.bin
	assert_line --index 3 "  format         version 1, 1655728 bytes, checksums ok"
	$DML_WRAPPER dml-train -j1 -a softmax -y label --max-iter 3 b.csv -o m.dml
	for f in s.bin d.bin; do
		$DML_WRAPPER dml-train -j1 --emit stats -y label $f -o file.dml
		cat $f | $DML_WRAPPER dml-train -j1 --emit stats -y label - -o pipe.dml
		cmp file.dml pipe.dml
		$DML_WRAPPER dml-train -j1 --emit gradient -m m.dml $f -o file.dml
		cat $f | $DML_WRAPPER dml-train -j1 --emit gradient -m m.dml - -o pipe.dml
		cmp file.dml pipe.dml
		$DML_WRAPPER dml-train -j1 -a softmax -y label $f -o file.dml
		cat $f | $DML_WRAPPER dml-train -j1 -a softmax -y label - -o pipe.dml
		cmp file.dml pipe.dml
	done
	# cut short inside the last record; cut short with another record
	# after it; a byte changed inside one: the same words both ways
	head -c $(($(stat -c %s s.bin) - 700000)) s.bin > cut.bin
	{ head -c 2000000 s.bin; cat s.bin; } > two.bin
	{ head -c 3000000 s.bin; printf 'x'; tail -c +3000002 s.bin; } > flip.bin
	for f in cut two flip; do
		run -1 --separate-stderr $DML_WRAPPER dml-train -j1 --emit stats -y label $f.bin
		file=${stderr#"dml-train: $f.bin: "}
		run -1 --separate-stderr bash -c "cat $f.bin | $DML_WRAPPER dml-train -j1 --emit stats -y label -"
		assert_equal "${stderr#'dml-train: (standard input): '}" "$file"
		case $f in
		cut) assert_equal "$file" "record 3: stream ends after 839296 of 1539288 payload bytes" ;;
		two) assert_equal "$file" "record 2: cut short after 344192 of 1655640 payload bytes, where another record starts" ;;
		flip) assert_equal "$file" "record 2: checksum mismatch" ;;
		esac
	done
}

@test "a value beyond float range is refused by --format bin, kept by --dtype f64" {
	printf 'a,label\n1,x\n1e39,y\n' > wide.csv
	run -1 --separate-stderr $DML_WRAPPER dml-partition -n 1 --format bin -y label -o w.bin wide.csv
	assert_equal "$stderr" "dml-partition: wide.csv:3: a value beyond the range of f32 (use --dtype f64)"
	assert_file_not_exists w.bin
	run $DML_WRAPPER dml-partition -n 1 --format bin --dtype f64 -y label -o w.bin wide.csv
	assert_success
}
