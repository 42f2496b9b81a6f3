# cython: language_level=3, boundscheck=False, wraparound=False
# cython: initializedcheck=False, cdivision=True
"""Compiled loop of the single-layer perceptron (paper section 1.2); see cymlp._perceptron."""
from libc.math cimport fabs
from scipy.linalg.cython_blas cimport ddot


def perceptron_epoch(double[::1] w, double[::1] b, const double[:, ::1] X,
                     const double[::1] y, double learning_rate):
    """One epoch of the Perceptron Training Rule, example by example, in order.

    o = H(x . w + b) (H(z) = 1 if z > 0 else 0); w += eta (y - o) x; b += eta (y - o).
    Returns the total error sum |y - o| of the epoch.
    """
    cdef Py_ssize_t i, j, n = X.shape[0]
    cdef int m = X.shape[1], one = 1
    cdef double z, error, step, total = 0.0
    if w.shape[0] != m or b.shape[0] != 1 or y.shape[0] != n:
        raise ValueError(f"perceptron_epoch: w ({w.shape[0]},), b ({b.shape[0]},) and y "
                         f"({y.shape[0]},) do not fit X ({n}, {m})")
    with nogil:
        for i in range(n):
            z = ddot(&m, <double *>&X[i, 0], &one, &w[0], &one) + b[0]
            error = y[i] - (1.0 if z > 0.0 else 0.0)
            if error != 0.0:
                step = learning_rate * error
                b[0] += step
                for j in range(m):
                    w[j] += step * X[i, j]
                total += fabs(error)
    return total
