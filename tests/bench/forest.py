"""forest.py -- the scikit-learn random forest of `make bench'.

Usage: python3 forest.py TRAIN.csv TEST.csv [TREES]

Loads the CSVs (label in the first column, a header row, pixels 0..255 as
written by tools/idx2csv) with pandas if installed, else numpy.loadtxt;
fits RandomForestClassifier(n_estimators=TREES (100), n_jobs=1,
random_state=0, oob_score=True) and prints 'key<TAB>value' lines:
load_s, fit_s, total_s (from interpreter start to the end of fit, what
dml's wall time is compared with), total_cpu, oob, accuracy (on TEST),
sklearn (version).
"""
import time

T0 = time.perf_counter()
C0 = time.process_time()

import sys  # noqa: E402


def load(path):
    import numpy as np
    try:
        import pandas
        a = pandas.read_csv(path).to_numpy(dtype=np.float32)
    except ImportError:
        a = np.loadtxt(path, delimiter=',', skiprows=1, dtype=np.float32)
    return a[:, 1:], a[:, 0].astype(np.int64)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write('usage: forest.py TRAIN.csv TEST.csv [TREES]\n')
        return 2
    trees = int(argv[3]) if len(argv) > 3 else 100
    import sklearn
    from sklearn.ensemble import RandomForestClassifier
    t = time.perf_counter()
    x, y = load(argv[1])
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    rf = RandomForestClassifier(n_estimators=trees, n_jobs=1,
                                random_state=0, oob_score=True)
    rf.fit(x, y)
    fit_s = time.perf_counter() - t
    total_s = time.perf_counter() - T0
    total_cpu = time.process_time() - C0
    xt, yt = load(argv[2])
    acc = float((rf.predict(xt) == yt).mean())
    for k, v in (('load_s', '%.2f' % load_s), ('fit_s', '%.2f' % fit_s),
                 ('total_s', '%.2f' % total_s),
                 ('total_cpu', '%.2f' % total_cpu),
                 ('oob', '%.4f' % rf.oob_score_), ('accuracy', '%.4f' % acc),
                 ('sklearn', sklearn.__version__)):
        print('%s\t%s' % (k, v))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
