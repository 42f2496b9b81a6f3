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
from libc.string cimport memcpy, memset
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


cdef void activate_rows(Layer *L, int S, int r0, int r1) noexcept nogil:
    """Z[:, r0:r1] += b[r0:r1], then A[:, r0:r1] = f(Z[:, r0:r1])."""
    cdef int i, j, k
    cdef double z
    for i in range(S):
        for j in range(r0, r1):
            k = i * L.n_out + j
            z = L.Z[k] + L.b[j]
            L.Z[k] = z
            L.A[k] = sigmoid(z)


cdef void forward_rows(Layer *L, const double *A_prev, int S,
                       int r0, int r1) noexcept nogil:
    """Z[:, r0:r1] = A_prev @ W[r0:r1].T + b[r0:r1], then A[:, r0:r1] = f(Z[:, r0:r1])."""
    gemm(False, True, S, r1 - r0, L.n_in,
         1.0, A_prev, L.n_in, L.W + r0 * L.n_in, L.n_in,
         0.0, L.Z + r0, L.n_out)
    activate_rows(L, S, r0, r1)


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
                              double alpha, double beta, double *G,
                              int r0, int r1) noexcept nogil:
    """G[r0:r1] = alpha * D[:, r0:r1].T @ A_prev + beta * G[r0:r1].

    With G = W, alpha = -eta / S and beta = 1 this is the paper's update
    w <- w - eta * mean gradient, without materialising the gradient.
    """
    gemm(True, False, r1 - r0, L.n_in, S,
         alpha, L.D + r0, L.n_out, A_prev, L.n_in,
         beta, G + r0 * L.n_in, L.n_in)


cdef void bias_product_rows(Layer *L, int S, double alpha, double beta,
                            double *g, int r0, int r1) noexcept nogil:
    """g[r0:r1] = alpha * (sum of the rows of D[:, r0:r1]) + beta * g[r0:r1]."""
    cdef int i, j
    cdef double s
    for j in range(r0, r1):
        s = 0.0
        for i in range(S):
            s += L.D[i * L.n_out + j]
        g[j] = alpha * s + beta * g[j]


# --------------------------------------------------------------------------
# The input layer during training: transposed weights, zero inputs skipped
# --------------------------------------------------------------------------
#
# Inputs such as MNIST pixels are mostly zero, and an input column that is
# zero for the whole batch adds nothing to the forward product and leaves its
# weights unchanged in the update. So the input layer works on the batch's
# k active columns only: Xc (S, k) holds those columns of the batch and WTc
# (k, n_out) the matching rows of WT = W.T, copied in before the batch and
# back after it. On dense data WTc is WT itself and Xc the whole batch.

cdef struct InputBatch:
    int k           # active input columns of this batch
    bint dense      # True: all columns, WTc is WT
    double *Xc      # (S, k) the batch's active columns
    double *WT      # (n_in, n_out) input-layer weights, transposed
    double *WTc     # (k, n_out) rows of WT of the active columns
    double *WTc_buffer  # storage for WTc when it is not WT
    int *cols       # (k,) the active columns, ascending
    unsigned char *active  # (n_in,) scratch: column j is active


cdef void gather_input(InputBatch *B, const double **rows, int S,
                       int n_in, int n_out) noexcept nogil:
    """Find the batch's active columns and copy them (and their weights) in."""
    cdef int i, j, c, k = 0
    cdef const double *x
    memset(B.active, 0, n_in)
    for i in range(S):
        x = rows[i]
        for j in range(n_in):
            B.active[j] |= x[j] != 0.0
    for j in range(n_in):
        if B.active[j]:
            B.cols[k] = j
            k += 1
    # Compacting costs copies of the weights: worth it only for sparse batches.
    B.dense = 10 * k > 9 * n_in
    if B.dense:
        B.k = n_in
        B.WTc = B.WT
        for i in range(S):
            memcpy(B.Xc + i * n_in, rows[i], n_in * sizeof(double))
        return
    B.k = k
    B.WTc = B.WTc_buffer
    for i in range(S):
        x = rows[i]
        for c in range(k):
            B.Xc[i * k + c] = x[B.cols[c]]
    for c in range(k):
        memcpy(B.WTc + c * n_out, B.WT + B.cols[c] * n_out, n_out * sizeof(double))


cdef void scatter_input_weights(InputBatch *B, int n_out) noexcept nogil:
    """Copy the updated rows of WTc back into WT."""
    cdef int c
    if not B.dense:
        for c in range(B.k):
            memcpy(B.WT + B.cols[c] * n_out, B.WTc + c * n_out, n_out * sizeof(double))


cdef void input_forward_rows(Layer *L, InputBatch *B, int S,
                             int r0, int r1) noexcept nogil:
    """Z[:, r0:r1] = Xc @ WTc[:, r0:r1] + b[r0:r1], then A = f(Z)."""
    gemm(False, False, S, r1 - r0, B.k,
         1.0, B.Xc, B.k, B.WTc + r0, L.n_out,
         0.0, L.Z + r0, L.n_out)
    activate_rows(L, S, r0, r1)


cdef void input_update_rows(Layer *L, InputBatch *B, int S, double alpha,
                            int r0, int r1) noexcept nogil:
    """WTc[:, r0:r1] += alpha * Xc.T @ D[:, r0:r1] and b[r0:r1] += alpha * sum(D)."""
    gemm(True, False, B.k, r1 - r0, S,
         alpha, B.Xc, B.k, L.D + r0, L.n_out,
         1.0, B.WTc + r0, L.n_out)
    bias_product_rows(L, S, alpha, 1.0, L.b, r0, r1)


cdef void transpose(const double *M, int rows, int cols, double *out) noexcept nogil:
    """out (cols, rows) = M (rows, cols) transposed."""
    cdef int i, j
    for i in range(rows):
        for j in range(cols):
            out[j * rows + i] = M[i * cols + j]


# --------------------------------------------------------------------------
# One mini-batch
# --------------------------------------------------------------------------

cdef void forward_batch(Layer *layers, int n_layers, const double *X,
                        int S, int first) noexcept nogil:
    """Algorithm 1 on a batch, from layer ``first`` on: A[l] = f(A[l-1] @ W[l].T + b[l])."""
    cdef int l
    cdef const double *A_prev
    for l in range(first, n_layers):
        A_prev = X if l == 0 else layers[l - 1].A
        forward_rows(&layers[l], A_prev, S, 0, layers[l].n_out)


cdef void backward_batch(Layer *layers, int n_layers, const Py_ssize_t *labels,
                         int S) noexcept nogil:
    """Algorithm 3 on a batch: every layer's delta D, last layer first."""
    cdef int l
    output_error_rows(&layers[n_layers - 1], labels, S, 0, layers[n_layers - 1].n_out)
    for l in range(n_layers - 1, 0, -1):
        backward_error_rows(&layers[l], &layers[l - 1], S, 0, layers[l].n_in)


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
    cdef InputBatch input
    cdef const double **rows        # the current batch's rows of X
    cdef Py_ssize_t *batch_labels   # and their labels
    cdef list _keep                 # every array the pointers point into

    def __cinit__(self):
        self.layers = NULL
        self.rows = NULL

    def __init__(self, list weights, list biases, int max_rows, bint keep_z=False):
        cdef int l, n_in = weights[0].shape[1], n_out = weights[0].shape[0]
        cdef double[:, ::1] W, Z, A, D
        cdef double[::1] b
        cdef Py_ssize_t[::1] labels
        cdef int[::1] cols
        cdef unsigned char[::1] active
        self.n_layers = len(weights)
        self.max_rows = max_rows
        self._keep = []
        self.layers = <Layer *>malloc(self.n_layers * sizeof(Layer))
        self.rows = <const double **>malloc(max_rows * sizeof(double *))
        if self.layers == NULL or self.rows == NULL:
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
        labels = np.empty(max_rows, dtype=np.intp)
        self.batch_labels = &labels[0]
        W = np.empty((max_rows, n_in))
        self.input.Xc = &W[0, 0]
        self._keep.extend([labels, W])
        W = np.empty((n_in, n_out))
        self.input.WT = &W[0, 0]
        self._keep.append(W)
        W = np.empty((n_in, n_out))
        self.input.WTc_buffer = &W[0, 0]
        self._keep.append(W)
        cols = np.empty(n_in, dtype=np.intc)
        active = np.empty(n_in, dtype=np.uint8)
        self.input.cols = &cols[0]
        self.input.active = &active[0]
        self._keep.extend([cols, active])

    def __dealloc__(self):
        free(self.layers)
        free(self.rows)

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
            forward_batch(self.layers, self.n_layers, &X[0, 0], S, 0)
        return self._buffer(self.n_layers - 1, 'A', S)

    def gradients(self, const double[:, ::1] X, const Py_ssize_t[::1] labels,
                  list grad_weights, list grad_biases):
        """Mean gradients of C = 1/2 ||a - y||^2 over the rows of X, into the given arrays."""
        cdef int S = X.shape[0], l
        cdef double[:, ::1] G
        cdef double[::1] g
        cdef Layer *L
        with nogil:
            forward_batch(self.layers, self.n_layers, &X[0, 0], S, 0)
            backward_batch(self.layers, self.n_layers, &labels[0], S)
        for l in range(self.n_layers):
            G = grad_weights[l]
            g = grad_biases[l]
            L = &self.layers[l]
            with nogil:
                weight_product_rows(L, &X[0, 0] if l == 0 else self.layers[l - 1].A,
                                    S, 1.0 / S, 0.0, &G[0, 0], 0, L.n_out)
                bias_product_rows(L, S, 1.0 / S, 0.0, &g[0], 0, L.n_out)

    cdef void train_batch(self, int S, double alpha) noexcept nogil:
        """Forward, backward and update on the batch in self.rows / self.batch_labels."""
        cdef int l
        cdef Layer *L
        cdef Layer *first = &self.layers[0]
        gather_input(&self.input, self.rows, S, first.n_in, first.n_out)
        input_forward_rows(first, &self.input, S, 0, first.n_out)
        forward_batch(self.layers, self.n_layers, NULL, S, 1)
        backward_batch(self.layers, self.n_layers, self.batch_labels, S)
        # every delta is known (computed with the old weights): update
        for l in range(self.n_layers - 1, 0, -1):
            L = &self.layers[l]
            weight_product_rows(L, self.layers[l - 1].A, S, alpha, 1.0, L.W, 0, L.n_out)
            bias_product_rows(L, S, alpha, 1.0, L.b, 0, L.n_out)
        input_update_rows(first, &self.input, S, alpha, 0, first.n_out)
        scatter_input_weights(&self.input, first.n_out)

    def train_epoch(self, const double[:, ::1] X, const Py_ssize_t[::1] labels,
                    const Py_ssize_t[::1] order, int batch_size,
                    double learning_rate, long check_every=1):
        """One epoch of mini-batch gradient descent (Algorithm 2), without the GIL.

        The batches are rows order[0:S], order[S:2S], ... of X (the last one may
        be smaller); ``order=None`` takes X's rows as they are. Every
        ``check_every`` batches the GIL is taken back for a moment to look for
        Ctrl-C: a KeyboardInterrupt then leaves the weights of the last
        completed batch.
        """
        cdef Py_ssize_t n = X.shape[0], start, row
        cdef int S, i, n_in = X.shape[1]
        cdef long batches = 0
        cdef Layer *first = &self.layers[0]
        transpose(first.W, first.n_out, first.n_in, self.input.WT)
        try:
            with nogil:
                start = 0
                while start < n:
                    S = <int>min(<Py_ssize_t>batch_size, n - start)
                    for i in range(S):
                        row = start + i if order is None else order[start + i]
                        self.rows[i] = &X[row, 0]
                        self.batch_labels[i] = labels[row]
                    self.train_batch(S, -learning_rate / S)
                    start += S
                    batches += 1
                    if batches % check_every == 0:
                        with gil:
                            PyErr_CheckSignals()
        finally:
            transpose(self.input.WT, first.n_in, first.n_out, first.W)
