"""mlp.py -- the scikit-learn MLP reference for `make bench'.

Usage: python3 mlp.py TRAIN.csv TEST.csv [MAX_ITER]

Loads the CSVs (label in the first column, a header row, pixels 0..255 as
written by tools/idx2csv) with pandas if it is installed, else
numpy.loadtxt; scales pixels to [0,1]; fits
MLPClassifier(hidden_layer_sizes=(100,), max_iter=MAX_ITER (20),
random_state=0) -- relu, adam, learning rate 0.001, batch 200, alpha 1e-4,
MAX_ITER epochs; and prints 'key<TAB>value' lines:

  loader        pandas or numpy.loadtxt
  load_s        wall seconds to load and scale TRAIN
  load_cpu      CPU seconds (this process) for the same
  fit_s         wall seconds of fit() alone
  fit_cpu       CPU seconds of fit() alone
  total_s       wall seconds from the start of this script (imports
                included) to the end of fit(): what dml-train's wall time
                is compared with
  total_cpu     CPU seconds for the same
  n_iter        epochs run
  accuracy      on TEST
  sklearn, numpy, scipy   versions

Timing the test set's load and prediction is left out, as it is for dml.
"""
import time

T0 = time.perf_counter()
C0 = time.process_time()

import sys          # noqa: E402
import warnings     # noqa: E402


def load(path):
    import numpy as np
    try:
        import pandas
        a = pandas.read_csv(path).to_numpy(dtype=np.float64)
        loader = 'pandas'
    except ImportError:
        a = np.loadtxt(path, delimiter=',', skiprows=1, dtype=np.float64)
        loader = 'numpy.loadtxt'
    y = a[:, 0].astype(np.int64)
    x = a[:, 1:]
    x /= 255.0
    return x, y, loader


def main(argv):
    if len(argv) < 3:
        sys.stderr.write('usage: mlp.py TRAIN.csv TEST.csv [MAX_ITER]\n')
        return 2
    max_iter = int(argv[3]) if len(argv) > 3 else 20

    import numpy
    import scipy
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    t = time.perf_counter()
    c = time.process_time()
    x, y, loader = load(argv[1])
    load_s = time.perf_counter() - t
    load_cpu = time.process_time() - c

    clf = MLPClassifier(hidden_layer_sizes=(100,), max_iter=max_iter,
                        random_state=0)
    t = time.perf_counter()
    c = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        clf.fit(x, y)
    fit_s = time.perf_counter() - t
    fit_cpu = time.process_time() - c
    total_s = time.perf_counter() - T0
    total_cpu = time.process_time() - C0

    del x, y
    xt, yt, _ = load(argv[2])
    accuracy = float((clf.predict(xt) == yt).mean())

    for key, value in (
            ('loader', loader),
            ('load_s', '%.3f' % load_s),
            ('load_cpu', '%.3f' % load_cpu),
            ('fit_s', '%.3f' % fit_s),
            ('fit_cpu', '%.3f' % fit_cpu),
            ('total_s', '%.3f' % total_s),
            ('total_cpu', '%.3f' % total_cpu),
            ('n_iter', int(clf.n_iter_)),
            ('accuracy', '%.4f' % accuracy),
            ('sklearn', sklearn.__version__),
            ('numpy', numpy.__version__),
            ('scipy', scipy.__version__)):
        print('%s\t%s' % (key, value))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
