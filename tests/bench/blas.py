"""blas.py -- which BLAS numpy runs here, and how fast its matmul is.

Usage:
  python3 blas.py info        print 'key<TAB>value' lines: the BLAS and
                              LAPACK libraries mapped into the process,
                              what threadpoolctl sees, numpy's version
  python3 blas.py matmul [N]  print the best of 3 timings, in seconds, of
                              an N x N float64 matmul (default N 2000)
  python3 blas.py matmul M K N [REPS]
                              the same for REPS times (M x K) @ (K x N) and
                              (K x M) @ (M x N): the products of a gradient

Part of `make bench' (tests/bench/run), which runs `matmul' once per
BLIS_ARCH_TYPE setting and shape to choose the fastest kernels for each
reference: thin products (a column per class) for logistic regression
and k-means, the hidden layer's for the MLP.
"""
import os
import sys
import time


def mapped_libraries():
    """Shared objects in this process whose names look like BLAS/LAPACK."""
    found = []
    try:
        with open('/proc/self/maps') as maps:
            for line in maps:
                path = line.split()[-1]
                name = os.path.basename(path)
                if (path.startswith('/') and path not in found and
                        any(k in name for k in ('blas', 'blis', 'lapack',
                                                'mkl', 'flexiblas'))):
                    found.append(path)
    except OSError:
        pass
    return found


def info():
    import numpy
    print('numpy\t%s' % numpy.__version__)
    libs = [os.path.realpath(p) for p in mapped_libraries()]
    print('mapped\t%s' % (' '.join(libs) or 'unknown'))
    blas = 'unknown'
    for p in libs:
        low = p.lower()
        for k in ('openblas', 'blis', 'mkl', 'flexiblas', 'atlas'):
            if k in low:
                blas = k
                break
        if blas != 'unknown':
            break
    else:
        if any('libblas' in p for p in libs):
            blas = 'reference'
    print('blas\t%s' % blas)
    try:
        import threadpoolctl
        seen = []
        for i in threadpoolctl.threadpool_info():
            api = i.get('internal_api')
            if i.get('user_api') not in (None, api):
                api = '%s %s' % (i.get('user_api'), api)
            seen.append('%s: %s, %s threads%s' % (
                api, os.path.basename(i.get('filepath', '?')),
                i.get('num_threads'),
                ', ' + i['architecture'] if i.get('architecture') else ''))
        if not any(i.get('user_api') == 'blas'
                   for i in threadpoolctl.threadpool_info()):
            seen.append('no BLAS recognised (it goes by library file name)')
        print('threadpoolctl\t%s' % '; '.join(seen))
    except ImportError:
        print('threadpoolctl\tnot installed')


def matmul(m, k, n, reps):
    """Best of 3 timings of reps products (m x k) @ (k x n) and their
    transposed counterpart (k x m) @ (m x n), as a gradient takes them."""
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k))
    b = rng.standard_normal((k, n))
    c = rng.standard_normal((m, n))
    a @ b                               # warm up: BLIS init, page faults
    a.T @ c
    best = float('inf')
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
            if m != k or k != n:
                a.T @ c
        best = min(best, time.perf_counter() - t)
    print('%.4f' % best)


def main(argv):
    if len(argv) >= 2 and argv[1] == 'info':
        info()
    elif len(argv) in (2, 3) and argv[1] == 'matmul':
        n = int(argv[2]) if len(argv) > 2 else 2000
        matmul(n, n, n, 1)
    elif len(argv) in (5, 6) and argv[1] == 'matmul':
        matmul(int(argv[2]), int(argv[3]), int(argv[4]),
               int(argv[5]) if len(argv) > 5 else 1)
    else:
        sys.stderr.write('usage: blas.py info | matmul [N] | '
                         'matmul M K N [REPS]\n')
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
