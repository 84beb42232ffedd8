#!/bin/bash
# tests/bench/kmeans.sh -- the k-means rows of `make bench': dml-train -a
# kmeans against scikit-learn's KMeans on Fashion-MNIST, k=10, pixels
# scaled to [0,1] for both, one thread.  Run by tests/bench/run; also
# alone:
#
#   tests/bench/kmeans.sh BUILDDIR DATADIR RUNDIR
#
# DATADIR holds train.csv (tools/idx2csv: label first, pixels 0..255);
# train01-0.dml, the same rows divided by 255 as binary f64 data records,
# is made there once (awk divides and prints 17 digits, so dml reads the
# very doubles numpy's x / 255.0 gives).  Writes a small table to stdout,
# logs to RUNDIR.  Exits 1 if the dml task fails.

set -u
export LC_ALL=C
me=tests/bench/kmeans.sh
say() { printf '%s: %s\n' "$me" "$*" >&2; }

[ $# -eq 3 ] || { echo "usage: $me BUILDDIR DATADIR RUNDIR" >&2; exit 2; }
builddir=$1 data=$2 rundir=$3
here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3
export BLIS_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	MKL_NUM_THREADS=1
export PATH="$builddir/src:$PATH"
mkdir -p "$rundir"

scaled=$data/train01-0.dml
if [ ! -s "$scaled" ]; then
	say "preparing $scaled"
	awk -F, 'NR == 1 { print; next }
		{ printf "%s", $1
		  for (i = 2; i <= NF; i++)
			if ($i == 0) printf ",0"; else printf ",%.17g", $i / 255
		  printf "\n" }' "$data/train.csv" |
		dml-partition -n 1 --format bin --dtype f64 -y label \
			-o "$data/train01-%d.dml" - || { say "cannot prepare $scaled"; exit 1; }
fi

timed() { # NAME CMD...: sets t_wall t_cpu t_rss; stdout to RUNDIR/NAME.out
	local name=$1
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$rundir/$name.time" "$@" \
		>"$rundir/$name.out" 2>"$rundir/$name.log"
	local rc=$?
	timed_read "$name"
	return $rc
}
timed_read() { # NAME: t_wall t_cpu t_rss of RUNDIR/NAME.time
	local u s kb
	read -r t_wall u s kb <"$rundir/$1.time"
	t_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
	t_rss=$(awk -v k="$kb" 'BEGIN { printf "%.0f", k / 1024 }')
}

# timed3 NAME CMD...: timed three times (NAME-1 .. NAME-3); t_wall, t_cpu,
# t_rss of the run of median wall time, t_walls all three.  The first
# run of a process that touches half a gigabyte of fresh memory can take
# twice as long on a virtual machine whose host has not yet backed that
# memory; the median is what a job that runs more than once sees.
timed3() {
	local name=$1 i w=() best
	shift
	for i in 1 2 3; do
		timed "$name-$i" "$@" || return
		w+=("$t_wall $i")
	done
	best=$(printf '%s\n' "${w[@]}" | sort -n | sed -n '2s/.* //p')
	t_walls=$(printf '%s\n' "${w[@]}" | cut -d' ' -f1 | paste -sd' ')
	timed_read "$name-$best"
}

kv() { awk -F'\t' -v k="$1" '$1 == k { print $2; exit }' "$2" 2>/dev/null; }

failed=0
printf 'tool\ttask\twall s\tCPU s\tpeak RSS MB\titerations\tinertia\tnotes\n' >"$rundir/kmeans.tsv"
if timed3 dml-kmeans dml-train -j1 -a kmeans --k 10 -y label "$scaled" \
	-o "$rundir/km.dml"; then
	steps=$(dml-inspect --json "$rundir/km.dml" | sed -n 's/.*"lloyd_steps":\([0-9]*\).*/\1/p')
	st=$(dml-inspect --field status "$rundir/km.dml")
	inertia=$(dml-predict -m "$rundir/km.dml" --eval "$scaled" | awk -F'\t' '$1 == "inertia" { printf "%.6g", $2 }')
	printf 'dml\tk-means k=10, 1 process\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t_wall" "$t_cpu" \
		"$t_rss" "$steps" "$inertia" \
		"median of 3 runs (walls $t_walls s); binary f64 shard read included; seed 1; $st; inertia at the final centers" >>"$rundir/kmeans.tsv"
	dml_wall=$t_wall
	# what reading the shard and the passes every fit makes cost (the
	# statistics, the first Lloyd step, the inertia): one cluster
	if timed dml-kmeans-read dml-train -j1 -a kmeans --k 1 -y label "$scaled" \
		-o "$rundir/km1.dml"; then
		printf 'dml\tk=1 (read + 3 passes)\t%s\t%s\t%s\t-\t-\t%s\n' "$t_wall" "$t_cpu" \
			"$t_rss" "the part of the row above that is not clustering" >>"$rundir/kmeans.tsv"
	fi
else
	failed=1
	dml_wall=
	printf 'dml\tk-means k=10, 1 process\tfailed\t-\t-\t-\t-\t\n' >>"$rundir/kmeans.tsv"
fi

# SK_BLIS_ARCH_TYPE (from tests/bench/run): the kernels for numpy alone,
# a number or 'unset'; dml chooses its own.
sk_env=()
case ${SK_BLIS_ARCH_TYPE:-} in
'') ;;
unset) sk_env=(-u BLIS_ARCH_TYPE) ;;
*) sk_env=("BLIS_ARCH_TYPE=$SK_BLIS_ARCH_TYPE") ;;
esac
if [ -x "$python" ] && "$python" -c 'import sklearn' 2>/dev/null; then
	if timed sklearn-kmeans env "${sk_env[@]}" "$python" "$here/kmeans.py" "$data/train.csv" 10; then
		f=$rundir/sklearn-kmeans.out
		printf 'scikit-learn\tKMeans k=10 fit\t%s\t%s\t-\t%s\t%s\t%s\n' "$(kv fit_s "$f")" \
			"$(kv fit_cpu "$f")" "$(kv n_iter "$f")" "$(kv inertia "$f")" \
			"n_init=1, random_state=0, lloyd, pixels/255; fit() alone, timed in Python; scikit-learn $(kv sklearn "$f")${SK_BLIS_ARCH_TYPE:+; BLIS_ARCH_TYPE=$SK_BLIS_ARCH_TYPE}" \
			>>"$rundir/kmeans.tsv"
	else
		printf 'scikit-learn\tKMeans k=10 fit\tfailed\t-\t-\t-\t-\t\n' >>"$rundir/kmeans.tsv"
	fi
else
	printf 'scikit-learn\tKMeans k=10 fit\tnot installed\t-\t-\t-\t-\tneeds python3-sklearn for %s\n' \
		"$python" >>"$rundir/kmeans.tsv"
fi

echo "k-means on Fashion-MNIST (60000 x 784, pixels scaled to [0,1]), k=10, one thread"
echo
column -t -s $'\t' "$rundir/kmeans.tsv"
echo
echo "reference (issue 3): scikit-learn single-thread fit 6.1 s with numpy on tuned BLIS, 44 iterations, inertia 1.93e6"
exit $failed
