"""kmeans.py -- the scikit-learn k-means reference for `make bench'.

Usage: python3 kmeans.py TRAIN.csv [K]

Loads the CSV (label in the first column, a header row, pixels 0..255 as
written by tools/idx2csv) with pandas if it is installed, else
numpy.loadtxt; drops the label; scales pixels to [0,1]; fits
KMeans(n_clusters=K (10), n_init=1, random_state=0) on one thread; and
prints 'key<TAB>value' lines:

  fit_s         wall seconds of fit() alone
  fit_cpu       CPU seconds of fit() alone
  n_iter        Lloyd iterations
  inertia       sum of squared distances to the nearest center
  sklearn, numpy   versions
"""
import os
import sys
import time


def main(argv):
    if len(argv) < 2:
        sys.stderr.write('usage: kmeans.py TRAIN.csv [K]\n')
        return 2
    k = int(argv[2]) if len(argv) > 2 else 10
    for v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS',
              'BLIS_NUM_THREADS'):
        os.environ[v] = '1'
    import numpy as np
    import sklearn
    from sklearn.cluster import KMeans
    try:
        import pandas
        a = pandas.read_csv(argv[1]).to_numpy(dtype=np.float64)
    except ImportError:
        a = np.loadtxt(argv[1], delimiter=',', skiprows=1, dtype=np.float64)
    x = np.ascontiguousarray(a[:, 1:])
    x /= 255.0
    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(limits=1)
    except ImportError:
        limit = None
    km = KMeans(n_clusters=k, n_init=1, random_state=0)
    t0 = time.perf_counter()
    c0 = time.process_time()
    km.fit(x)
    fit_s = time.perf_counter() - t0
    fit_cpu = time.process_time() - c0
    del limit
    print('fit_s\t%.3f' % fit_s)
    print('fit_cpu\t%.3f' % fit_cpu)
    print('n_iter\t%d' % km.n_iter_)
    print('inertia\t%.10g' % km.inertia_)
    print('sklearn\t%s' % sklearn.__version__)
    print('numpy\t%s' % np.__version__)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
