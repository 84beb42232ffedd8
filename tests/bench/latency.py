#!/usr/bin/python3
"""latency.py MODEL CSV N -- per-line latency of dml-predict on a stream.

Starts `dml-predict -m MODEL' on a pipe, writes the CSV header, then the
first N data rows of CSV one at a time, each only after the answer to the
one before has come back, and prints the median and 99th percentile of
the round trips in microseconds as 'median_us<TAB>...', 'p99_us<TAB>...'
and 'rows<TAB>...' (the first 10 rows, which warm up the process, are not
counted).  dml-predict must be on PATH.
"""
import os
import subprocess
import sys
import time


def main():
    model, csv, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(csv, 'rb') as f:
        header = f.readline()
        rows = [f.readline() for _ in range(n + 10)]
    rows = [r for r in rows if r]
    p = subprocess.Popen(['dml-predict', '-m', model],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         bufsize=0)
    to, frm = p.stdin.fileno(), p.stdout
    os.write(to, header)
    times = []
    for i, row in enumerate(rows):
        t0 = time.perf_counter()
        os.write(to, row)
        answer = frm.readline()
        t1 = time.perf_counter()
        if not answer:
            sys.exit('latency.py: dml-predict gave no answer to row %d'
                     % (i + 1))
        if i >= 10:
            times.append((t1 - t0) * 1e6)
    p.stdin.close()
    if p.wait() != 0:
        sys.exit('latency.py: dml-predict failed')
    times.sort()
    print('median_us\t%.0f\np99_us\t%.0f\nrows\t%d' % (
        times[len(times) // 2], times[min(len(times) - 1,
                                          len(times) * 99 // 100)],
        len(times)))


if __name__ == '__main__':
    main()
