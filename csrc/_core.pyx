# cython: language_level=3, boundscheck=False, wraparound=False
# cython: initializedcheck=False, cdivision=True, nonecheck=False
"""Compiled training core of cymlp.

Everything here only computes: the Python layer (``cymlp._mlp``) validates
and converts every input before it reaches this module.

Conventions (row-major, as NumPy stores C-contiguous arrays):

* ``W[l]`` has shape (n_out, n_in) as in the paper, ``b[l]`` shape (n_out,);
* a batch of S examples is a matrix with one example per row, so the
  paper's column-vector formula z = W a + b becomes Z = A_prev W^T + b;
* ``A[l]`` holds the activations of layer l for the current batch (S, n_out)
  and ``D[l]`` its error delta (S, n_out).

The layer kernels work on a range of output rows [r0, r1) of one layer so
that a layer's rows can later be split between threads.
"""
from libc.math cimport exp, fabs
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
from cpython.exc cimport PyErr_CheckSignals
from scipy.linalg.cython_blas cimport dgemm

import numpy as np


# --------------------------------------------------------------------------
# BLAS, row-major
# --------------------------------------------------------------------------

cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      double alpha, const double *A, int lda,
                      const double *B, int ldb,
                      double beta, double *C, int ldc) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C, all row-major, C of shape (m, n)."""
    # A row-major matrix is the transpose of a column-major one, so
    # C^T = op(B)^T op(A)^T: call Fortran dgemm with the operands swapped.
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    dgemm(&tb, &ta, &n, &m, &k, &alpha, <double *>B, &ldb, <double *>A, &lda,
          &beta, C, &ldc)


# --------------------------------------------------------------------------
# Activation (the paper's logistic sigmoid)
# --------------------------------------------------------------------------

cdef inline double sigmoid(double z) noexcept nogil:
    """1 / (1 + e^-z), without overflow for large |z|."""
    # e^-|z| never overflows; e / (1 + e) is the value for z < 0. Selecting
    # rather than branching avoids a mispredicted branch per unit.
    cdef double e = exp(-fabs(z))
    cdef double s = 1.0 / (1.0 + e)
    return s if z >= 0.0 else e * s


cdef inline double sigmoid_prime_from_output(double a) noexcept nogil:
    """f'(z) = f(z) (1 - f(z)), written in terms of the output a = f(z)."""
    return a * (1.0 - a)


# --------------------------------------------------------------------------
# Layer kernels over a range of output rows [r0, r1)
# --------------------------------------------------------------------------

cdef struct Layer:
    int n_in        # n_{l-1}
    int n_out       # n_l
    double *W       # (n_out, n_in) weights, updated in place
    double *b       # (n_out,) biases, updated in place
    double *Z       # (S, n_out) weighted inputs (may alias A)
    double *A       # (S, n_out) activations
    double *D       # (S, n_out) error delta


cdef void forward_rows(Layer *L, const double *A_prev, int S,
                       int r0, int r1) noexcept nogil:
    """Z[:, r0:r1] = A_prev @ W[r0:r1].T + b[r0:r1], then A[:, r0:r1] = f(Z[:, r0:r1])."""
    cdef int i, j, k
    cdef double z
    gemm(False, True, S, r1 - r0, L.n_in,
         1.0, A_prev, L.n_in, L.W + r0 * L.n_in, L.n_in,
         0.0, L.Z + r0, L.n_out)
    for i in range(S):
        for j in range(r0, r1):
            k = i * L.n_out + j
            z = L.Z[k] + L.b[j]
            L.Z[k] = z
            L.A[k] = sigmoid(z)


cdef void output_error_rows(Layer *L, const Py_ssize_t *labels, int S,
                            int r0, int r1) noexcept nogil:
    """D[:, r0:r1] = (A - Y) * f'(Z) for one-hot Y given by labels (paper's delta_{L-1})."""
    cdef int i, j
    cdef double a
    for i in range(S):
        for j in range(r0, r1):
            a = L.A[i * L.n_out + j]
            L.D[i * L.n_out + j] = ((a - (1.0 if j == labels[i] else 0.0))
                                    * sigmoid_prime_from_output(a))


cdef void backward_error_rows(Layer *L, Layer *prev, int S,
                              int c0, int c1) noexcept nogil:
    """D_prev[:, c0:c1] = (D @ W[:, c0:c1]) * f'(Z_prev[:, c0:c1]) (paper's delta_l)."""
    cdef int i, j, k
    gemm(False, False, S, c1 - c0, L.n_out,
         1.0, L.D, L.n_out, L.W + c0, L.n_in,
         0.0, prev.D + c0, prev.n_out)
    for i in range(S):
        for j in range(c0, c1):
            k = i * prev.n_out + j
            prev.D[k] *= sigmoid_prime_from_output(prev.A[k])


cdef void weight_product_rows(Layer *L, const double *A_prev, int S,
                              double alpha, double beta, double *G, double *g,
                              int r0, int r1) noexcept nogil:
    """G[r0:r1] = alpha * D[:, r0:r1].T @ A_prev + beta * G; g likewise with the column sums of D.

    With G = W, g = b, alpha = -eta / S and beta = 1 this is the paper's update
    w <- w - eta * mean gradient, without materialising the gradient.
    """
    cdef int i, j
    cdef double s
    gemm(True, False, r1 - r0, L.n_in, S,
         alpha, L.D + r0, L.n_out, A_prev, L.n_in,
         beta, G + r0 * L.n_in, L.n_in)
    for j in range(r0, r1):
        s = 0.0
        for i in range(S):
            s += L.D[i * L.n_out + j]
        g[j] = alpha * s + beta * g[j]


# --------------------------------------------------------------------------
# One mini-batch
# --------------------------------------------------------------------------

cdef void forward_batch(Layer *layers, int n_layers, const double *X,
                        int S) noexcept nogil:
    """Algorithm 1 on a batch: A[l] = f(A[l-1] @ W[l].T + b[l])."""
    cdef int l
    cdef const double *A_prev = X
    for l in range(n_layers):
        forward_rows(&layers[l], A_prev, S, 0, layers[l].n_out)
        A_prev = layers[l].A


cdef void backward_batch(Layer *layers, int n_layers, const double *X,
                         const Py_ssize_t *labels, int S, double alpha,
                         bint update) noexcept nogil:
    """Algorithm 3 on a batch: every layer's delta D, last layer first.

    With update=True each layer is also updated as soon as its delta has been
    used: W <- W + alpha * D^T A_prev and b <- b + alpha * sum(D) (alpha = -eta/S).
    """
    cdef int l
    cdef Layer *L
    cdef const double *A_prev
    L = &layers[n_layers - 1]
    output_error_rows(L, labels, S, 0, L.n_out)
    for l in range(n_layers - 1, -1, -1):
        L = &layers[l]
        A_prev = X if l == 0 else layers[l - 1].A
        # delta of the previous layer needs W[l] before it is updated
        if l > 0:
            backward_error_rows(L, &layers[l - 1], S, 0, L.n_in)
        if update:
            weight_product_rows(L, A_prev, S, alpha, 1.0, L.W, L.b, 0, L.n_out)


cdef void gather_rows(const double *X, int n_cols, const Py_ssize_t *index,
                      int count, double *out) noexcept nogil:
    """out[i] = X[index[i]] for i < count (a batch in shuffled order)."""
    cdef int i
    for i in range(count):
        memcpy(out + i * n_cols, X + index[i] * n_cols, n_cols * sizeof(double))


cdef void gather_labels(const Py_ssize_t *labels, const Py_ssize_t *index,
                        int count, Py_ssize_t *out) noexcept nogil:
    """out[i] = labels[index[i]] for i < count."""
    cdef int i
    for i in range(count):
        out[i] = labels[index[i]]


# --------------------------------------------------------------------------
# Python entry point
# --------------------------------------------------------------------------

cdef class Network:
    """Workspace for training or evaluating one network on up to ``max_rows`` rows.

    Holds pointers to the caller's weight and bias arrays (updated in place by
    ``train_epoch``) and the per-layer buffers, allocated once here and reused
    for every batch.
    """
    cdef Layer *layers
    cdef int n_layers
    cdef int max_rows
    cdef list _keep          # keeps every array the pointers point into alive
    cdef double[:, ::1] batch_x      # the current batch's rows of X, gathered
    cdef Py_ssize_t[::1] batch_y_view
    cdef Py_ssize_t *batch_y         # and their labels

    def __cinit__(self):
        self.layers = NULL

    def __init__(self, list weights, list biases, int max_rows, bint keep_z=False):
        cdef int l
        cdef double[:, ::1] W, Z, A, D
        cdef double[::1] b
        self.n_layers = len(weights)
        self.max_rows = max_rows
        self._keep = []
        self.layers = <Layer *>malloc(self.n_layers * sizeof(Layer))
        if self.layers == NULL:
            raise MemoryError()
        for l in range(self.n_layers):
            W = weights[l]
            b = biases[l]
            A = np.empty((max_rows, W.shape[0]))
            D = np.empty((max_rows, W.shape[0]))
            Z = np.empty((max_rows, W.shape[0])) if keep_z else A
            self._keep.extend([W, b, Z, A, D])
            self.layers[l].n_out = W.shape[0]
            self.layers[l].n_in = W.shape[1]
            self.layers[l].W = &W[0, 0]
            self.layers[l].b = &b[0]
            self.layers[l].Z = &Z[0, 0]
            self.layers[l].A = &A[0, 0]
            self.layers[l].D = &D[0, 0]
        self.batch_x = np.empty((max_rows, self.layers[0].n_in))
        self.batch_y_view = np.empty(max_rows, dtype=np.intp)
        self.batch_y = &self.batch_y_view[0]

    def __dealloc__(self):
        free(self.layers)

    def _buffer(self, int l, str which, int rows):
        """Rows [0, rows) of layer l's 'Z', 'A' or 'D' buffer, as a NumPy array (a view)."""
        cdef Layer *L = &self.layers[l]
        cdef double *p = L.Z if which == 'Z' else (L.A if which == 'A' else L.D)
        cdef double[:, ::1] view = <double[:rows, :L.n_out]>p
        return np.asarray(view)

    def forward(self, const double[:, ::1] X):
        """Feed X (rows <= max_rows) forward; returns the output activations (a view)."""
        cdef int S = X.shape[0]
        with nogil:
            forward_batch(self.layers, self.n_layers, &X[0, 0], S)
        return self._buffer(self.n_layers - 1, 'A', S)

    def gradients(self, const double[:, ::1] X, const Py_ssize_t[::1] labels,
                  list grad_weights, list grad_biases):
        """Mean gradients of C = 1/2 ||a - y||^2 over the rows of X, into the given arrays."""
        cdef int S = X.shape[0], l
        cdef double[:, ::1] G
        cdef double[::1] g
        with nogil:
            forward_batch(self.layers, self.n_layers, &X[0, 0], S)
            backward_batch(self.layers, self.n_layers, &X[0, 0], &labels[0], S,
                           0.0, False)
        for l in range(self.n_layers):
            G = grad_weights[l]
            g = grad_biases[l]
            with nogil:
                weight_product_rows(&self.layers[l],
                                    &X[0, 0] if l == 0 else self.layers[l - 1].A,
                                    S, 1.0 / S, 0.0, &G[0, 0], &g[0],
                                    0, self.layers[l].n_out)

    def train_epoch(self, const double[:, ::1] X, const Py_ssize_t[::1] labels,
                    const Py_ssize_t[::1] order, int batch_size,
                    double learning_rate, long check_every=1):
        """One epoch of mini-batch gradient descent (Algorithm 2), without the GIL.

        The batches are rows order[0:S], order[S:2S], ... of X (the last one may
        be smaller); ``order=None`` takes X's rows as they are, without copying.
        Every ``check_every`` batches the GIL is taken back for a moment to look
        for Ctrl-C: a KeyboardInterrupt then leaves the weights of the last
        completed batch.
        """
        cdef Py_ssize_t n = X.shape[0], start
        cdef int S, n_in = X.shape[1]
        cdef long batches = 0
        cdef const double *x
        cdef const Py_ssize_t *y
        with nogil:
            start = 0
            while start < n:
                S = <int>min(<Py_ssize_t>batch_size, n - start)
                if order is None:
                    x = &X[start, 0]
                    y = &labels[start]
                else:
                    gather_rows(&X[0, 0], n_in, &order[start], S, &self.batch_x[0, 0])
                    gather_labels(&labels[0], &order[start], S, self.batch_y)
                    x = &self.batch_x[0, 0]
                    y = self.batch_y
                forward_batch(self.layers, self.n_layers, x, S)
                backward_batch(self.layers, self.n_layers, x, y, S,
                               -learning_rate / S, True)
                start += S
                batches += 1
                if batches % check_every == 0:
                    with gil:
                        PyErr_CheckSignals()
