#!/usr/bin/env bash
# examples/fashion-mnist.sh -- the main demo: softmax regression on
# Fashion-MNIST, trained by BSP rounds on four workers with a reduction
# tree, from a fresh Debian 12 machine.
#
#   examples/fashion-mnist.sh          (as root on a fresh machine)
#
# What it does, each step skipped when its result is already there, so it
# can be rerun:
#
#   1. build-aux/setup: installs the Debian packages dml needs (among them
#      GNU parallel and dataset-fashion-mnist) and builds dml in BUILDDIR;
#   2. converts the idx files of /usr/share/datasets/fashion-mnist to CSV
#      with tools/idx2csv (60,000 training and 10,000 test images, 784
#      pixel columns and a label), cached in WORKDIR;
#   3. splits the training rows into WORKERS shards with dml-partition,
#      as binary data records (FORMAT=bin) that the workers read in every
#      round without parsing text;
#   4. trains: a stats round makes the initial model, then L-BFGS gradient
#      rounds run until dml-inspect reports a status other than "running"
#      (at most MAX_ITER iterations).  In every round GNU parallel runs one
#      dml-train per shard; the workers are split into RACKS groups, each
#      group's records are summed by its own dml-reduce, and a root
#      dml-reduce sums the group results (a two-level tree, as across
#      racks); dml-train --apply takes the step.  The model is retrained
#      from scratch on every run;
#   5. evaluates the model on the 10,000 test images.
#
# With HOSTS=h1,h2,... the rounds run on those hosts over ssh instead, by
# examples/bsp-ssh.sh (each host reduces its own shards, the root reduces
# the hosts); the hosts need the dml binaries (see REMOTE_PATH there).
#
# It prints, one 'name<TAB>value' per line:
#
#   status    converged, or max-iter when MAX_ITER stopped it
#   rounds    gradient rounds after the stats round
#   accuracy  on the test images (about 0.84 with MAX_ITER=100)
#   logloss   on the test images
#   rows      10000
#   seconds   wall time of steps 3 to 5
#
# Progress goes to stderr.
#
# Environment:
#   WORKDIR    cache of CSVs, shards and the model
#              (default /tmp/dml-fashion-mnist)
#   WORKERS    number of shards and of parallel workers (default 4)
#   RACKS      number of reduction groups (default 2)
#   FORMAT     shard format: bin (default) or csv
#   MAX_ITER   bound on the L-BFGS iterations (default 100)
#   HOSTS      comma-separated ssh hosts: train there (see bsp-ssh.sh for
#              SSH, REMOTE_DIR and REMOTE_PATH)
#   DATADIR    where the Fashion-MNIST idx files are
#              (default /usr/share/datasets/fashion-mnist)
#   BUILDDIR   where build-aux/setup builds (default: build, in the
#              source tree)
#   SETUP      set to 'no' to skip build-aux/setup and use the build
#              already in BUILDDIR

set -euo pipefail

me=${0##*/}
top=$(cd "$(dirname "$0")/.." && pwd)
work=${WORKDIR:-/tmp/dml-fashion-mnist}
workers=${WORKERS:-4}
racks=${RACKS:-2}
max_iter=${MAX_ITER:-100}
format=${FORMAT:-bin}
datadir=${DATADIR:-/usr/share/datasets/fashion-mnist}
builddir=${BUILDDIR:-build}
case $builddir in /*) ;; *) builddir=$top/$builddir ;; esac

say() { printf '%s: %s\n' "$me" "$*" >&2; }

case $format in
csv) ext=csv; partition_format=() ;;
bin) ext=dml; partition_format=(--format bin -y label) ;;
*) say "FORMAT must be bin or csv"; exit 2 ;;
esac
if [ "$racks" -lt 1 ] || [ "$racks" -gt "$workers" ]; then
	say "RACKS must be between 1 and WORKERS ($workers)"
	exit 2
fi

# 1. Packages and build (its output goes to stderr: stdout is the result).
if [ "${SETUP:-yes}" != no ]; then
	say "build-aux/setup (packages, build in $builddir)"
	BUILDDIR=$builddir "$top/build-aux/setup" >&2
fi
export PATH="$builddir/src:$builddir/tools:$PATH"

# 2. The data as CSV.  idx2csv -o creates its output whole or not at all,
# so an interrupted run leaves no half file in the cache.
mkdir -p "$work"
for set in train:train t10k:test; do
	out=$work/${set#*:}.csv
	if [ ! -s "$out" ]; then
		say "converting $datadir/${set%:*}-*-ubyte.gz to $out"
		idx2csv -o "$out" "$datadir/${set%:*}-images-idx3-ubyte.gz" \
			"$datadir/${set%:*}-labels-idx1-ubyte.gz"
	fi
done

# Wall time in seconds since the start of step 3, with one decimal.
t0=$(date +%s%N)
seconds() {
	local ms=$((($(date +%s%N) - t0) / 1000000))
	printf 'seconds\t%d.%d\n' $((ms / 1000)) $((ms % 1000 / 100))
}

if [ -n "${HOSTS:-}" ]; then
	say "training on $HOSTS over ssh"
	result=$(SHARDS=$workers MAX_ITER=$max_iter MODEL=$work/model.dml FORMAT=$format \
		"$top/examples/bsp-ssh.sh" "$work/train.csv" "$work/test.csv")
	printf '%s\n' "$result"
	seconds
	exit 0
fi

# 3. Shards: shards-N.EXT/shard-0.EXT ... (dml-partition writes each file
# whole or not at all).
shards=()
missing=no
for ((i = 0; i < workers; i++)); do
	shards+=("$work/shards-$workers.$ext/shard-$i.$ext")
	[ "${shards[i]}" -nt "$work/train.csv" ] || missing=yes
done
if [ "$missing" = yes ]; then
	say "splitting $work/train.csv into $workers shards ($format)"
	mkdir -p "$work/shards-$workers.$ext"
	dml-partition -n "$workers" "${partition_format[@]}" \
		-o "$work/shards-$workers.$ext/shard-%d.$ext" "$work/train.csv"
fi

# round ARG...: 'dml-train ARG... SHARD' on every shard at once; rack r
# reduces its own workers' records into rack-r.dml, then the root reduces
# the racks and writes the total to stdout.
round() {
	local r i first last pids=() racks_out=()
	rm -f "$work"/rack-*.dml
	for ((r = 0; r < racks; r++)); do
		first=$((r * workers / racks))
		last=$(((r + 1) * workers / racks))
		parallel -q -j $((last - first)) --halt now,fail=1 \
			dml-train "$@" {} ::: "${shards[@]:first:last-first}" |
			dml-reduce --expect $((last - first)) -o "$work/rack-$r.dml" &
		pids+=($!)
		racks_out+=("$work/rack-$r.dml")
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	dml-reduce --expect "$workers" "${racks_out[@]}"
}

model=$work/model.dml
say "training softmax regression: $workers workers in $racks groups, at most $max_iter iterations"

# 4. The stats round, then the gradient rounds.
round --emit stats -y label |
	dml-train --apply - -a softmax --max-iter "$max_iter" -o "$model"

rounds=0
status=$(dml-inspect --field status "$model")
while [ "$status" = running ]; do
	round --emit gradient -m "$model" |
		dml-train --apply - -m "$model" -o "$model"
	rounds=$((rounds + 1))
	status=$(dml-inspect --field status "$model")
	say "round $rounds: objective $(printf %.6g "$(dml-inspect --field objective "$model")"), $status"
done

# 5. The test images.
printf 'status\t%s\nrounds\t%s\n' "$status" "$rounds"
dml-predict -m "$model" --eval "$work/test.csv"
seconds
