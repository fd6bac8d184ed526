"""
scikit-learn's PCA(svd_solver='full') timed on the codes bench/pca.ts wrote (float32 .npy, fitted as float32, as
sklearn would be given codes):  /usr/bin/python3 bench/reference/pca_reference.py CODES.npy DIMS
→ one JSON line {"seconds", "ratio" (explained_variance_ratio_), "version"}.
"""
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.decomposition import PCA

x = np.load(sys.argv[1])
t0 = time.perf_counter()
pca = PCA(n_components=int(sys.argv[2]), svd_solver='full').fit(x)
seconds = time.perf_counter() - t0
print(json.dumps({'seconds': seconds, 'ratio': [float(v) for v in pca.explained_variance_ratio_], 'version': sklearn.__version__}))
