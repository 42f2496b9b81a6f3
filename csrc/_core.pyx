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
  and ``D[l]`` its error delta dC/dZ (S, n_out).

The layer kernels work on a range of output units [r0, r1) of one layer so
that a layer's units can later be split between threads.
"""
from libc.math cimport exp, fabs, tanh
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
from cpython.exc cimport PyErr_CheckSignals
from scipy.linalg.cython_blas cimport dgemm, ddot

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
# Activations (the four of the paper's Figure 3, and softmax for the output)
# --------------------------------------------------------------------------

# Codes shared with cymlp._mlp.ACTIVATIONS / COSTS.
cdef enum:
    SIGMOID = 0
    TANH = 1
    RELU = 2
    LEAKY_RELU = 3
    SOFTMAX = 4

cdef enum:
    QUADRATIC = 0
    CROSS_ENTROPY = 1


cdef inline double sigmoid(double z) noexcept nogil:
    """1 / (1 + e^-z), without overflow for large |z|."""
    # e^-|z| never overflows; e / (1 + e) is the value for z < 0. Selecting
    # rather than branching avoids a mispredicted branch per unit.
    cdef double e = exp(-fabs(z))
    cdef double s = 1.0 / (1.0 + e)
    return s if z >= 0.0 else e * s


cdef inline double activation(int kind, double z, double slope) noexcept nogil:
    """f(z) for an element-wise activation."""
    if kind == SIGMOID:
        return sigmoid(z)
    if kind == TANH:
        return tanh(z)
    if kind == RELU:
        return z if z > 0.0 else 0.0
    return z if z > 0.0 else slope * z


cdef inline double derivative(int kind, double a, double slope) noexcept nogil:
    """f'(z), written in terms of the output a = f(z)."""
    if kind == SIGMOID:
        return a * (1.0 - a)
    if kind == TANH:
        return 1.0 - a * a
    if kind == RELU:
        return 1.0 if a > 0.0 else 0.0
    return 1.0 if a > 0.0 else slope


cdef void softmax_row(const double *z, double *a, int n) noexcept nogil:
    """a = e^(z - max z) / sum e^(z - max z): never overflows."""
    cdef int j
    cdef double top = z[0], total = 0.0
    for j in range(1, n):
        if z[j] > top:
            top = z[j]
    for j in range(n):
        a[j] = exp(z[j] - top)
        total += a[j]
    for j in range(n):
        a[j] /= total


# --------------------------------------------------------------------------
# Layer kernels over a range of output units [r0, r1)
# --------------------------------------------------------------------------

cdef struct Layer:
    int n_in        # n_{l-1}
    int n_out       # n_l
    int kind        # activation code
    double slope    # leaky ReLU slope
    double *W       # (n_out, n_in) weights, updated in place
    double *b       # (n_out,) biases, updated in place
    double *VW      # (n_out, n_in) momentum velocity of W (NULL: no momentum)
    double *Vb      # (n_out,) momentum velocity of b
    double *Z       # (S, n_out) weighted inputs (may alias A)
    double *A       # (S, n_out) activations
    double *D       # (S, n_out) error delta


cdef void activate_rows(Layer *L, int S, int r0, int r1) noexcept nogil:
    """Z[:, r0:r1] += b[r0:r1], then A[:, r0:r1] = f(Z[:, r0:r1]) (softmax: whole rows)."""
    cdef int i, j, k
    cdef double z
    for i in range(S):
        for j in range(r0, r1):
            k = i * L.n_out + j
            z = L.Z[k] + L.b[j]
            L.Z[k] = z
            if L.kind != SOFTMAX:
                L.A[k] = activation(L.kind, z, L.slope)
        if L.kind == SOFTMAX:
            softmax_row(L.Z + i * L.n_out, L.A + i * L.n_out, L.n_out)


cdef void forward_rows(Layer *L, const double *A_prev, int S,
                       int r0, int r1) noexcept nogil:
    """Z[:, r0:r1] = A_prev @ W[r0:r1].T + b[r0:r1], then A[:, r0:r1] = f(Z[:, r0:r1])."""
    gemm(False, True, S, r1 - r0, L.n_in,
         1.0, A_prev, L.n_in, L.W + r0 * L.n_in, L.n_in,
         0.0, L.Z + r0, L.n_out)
    activate_rows(L, S, r0, r1)


cdef void output_error(Layer *L, const Py_ssize_t *labels, int S, int cost) noexcept nogil:
    """D = dC/dZ of the output layer for one-hot targets Y given by labels.

    quadratic C = 1/2 ||a - y||^2:    D = (A - Y) * f'(Z) (the paper's delta_{L-1});
                          softmax:    D = A * (G - sum_k G_k A_k) with G = A - Y;
    cross-entropy (sigmoid/softmax):  D = A - Y (the closed form, no f').
    """
    cdef int i, j, k
    cdef double g, dot
    for i in range(S):
        dot = 0.0
        for j in range(L.n_out):
            k = i * L.n_out + j
            g = L.A[k] - (1.0 if j == labels[i] else 0.0)
            L.D[k] = g
            dot += g * L.A[k]
        if cost == CROSS_ENTROPY:
            continue
        for j in range(L.n_out):
            k = i * L.n_out + j
            if L.kind == SOFTMAX:
                L.D[k] = L.A[k] * (L.D[k] - dot)
            else:
                L.D[k] *= derivative(L.kind, L.A[k], L.slope)


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
            prev.D[k] *= derivative(prev.kind, prev.A[k], prev.slope)


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


cdef struct Step:
    double alpha      # -eta / S: the step along the summed gradient
    double decay      # eta * lambda / n: L2 weight decay (Nielsen's network2)
    double momentum   # mu: classical momentum (0: none)


cdef void update_weights(double *W, double *V, Py_ssize_t count, const Step *step,
                         bint momentum_pass) noexcept nogil:
    """Momentum's element-wise passes around the product (count weights).

    Before (momentum_pass=False): V = mu V - decay W.  After (True): W += V.
    """
    cdef Py_ssize_t i
    if not momentum_pass:
        for i in range(count):
            V[i] = step.momentum * V[i] - step.decay * W[i]
    else:
        for i in range(count):
            W[i] += V[i]


cdef void update_rows(Layer *L, const double *A_prev, int S, const Step *step,
                      int r0, int r1) noexcept nogil:
    """Algorithm 2's update of units [r0, r1), with the gradient folded into dgemm.

    No momentum:  W = (1 - decay) W + alpha D^T A_prev    (one dgemm, beta = 1 - decay)
    momentum mu:  V = mu V - decay W + alpha D^T A_prev;  W += V
    Biases get neither L2 nor anything else: b += alpha sum(D) (or via Vb).
    """
    cdef double *W = L.W + r0 * L.n_in
    cdef Py_ssize_t count = (r1 - r0) * <Py_ssize_t>L.n_in
    if L.VW == NULL:
        gemm(True, False, r1 - r0, L.n_in, S, step.alpha, L.D + r0, L.n_out,
             A_prev, L.n_in, 1.0 - step.decay, W, L.n_in)
        bias_product_rows(L, S, step.alpha, 1.0, L.b, r0, r1)
        return
    update_weights(W, L.VW + r0 * L.n_in, count, step, False)
    gemm(True, False, r1 - r0, L.n_in, S, step.alpha, L.D + r0, L.n_out,
         A_prev, L.n_in, 1.0, L.VW + r0 * L.n_in, L.n_in)
    update_weights(W, L.VW + r0 * L.n_in, count, step, True)
    bias_product_rows(L, S, step.alpha, step.momentum, L.Vb, r0, r1)
    update_weights(L.b + r0, L.Vb + r0, r1 - r0, step, True)


# --------------------------------------------------------------------------
# The input layer during training: transposed weights, zero inputs skipped
# --------------------------------------------------------------------------
#
# Inputs such as MNIST pixels are mostly zero, and an input column that is
# zero for the whole batch adds nothing to the forward product and leaves its
# weights unchanged in the update. So the input layer works on the batch's
# k active columns only: Xc (S, k) holds those columns of the batch and WTc
# (k, n_out) the matching rows of WT = W.T, copied in before the batch and
# back after it. On dense data, and with L2 or momentum (which move every
# weight at every step), WTc is WT itself and Xc the whole batch.

cdef struct InputBatch:
    int k           # active input columns of this batch
    bint dense      # True: all columns, WTc is WT
    bint sparse_ok  # False: always dense (L2 or momentum)
    double *Xc      # (S, k) the batch's active columns
    double *WT      # (n_in, n_out) input-layer weights, transposed
    double *VT      # (n_in, n_out) their momentum velocity, transposed (or NULL)
    double *WTc     # (k, n_out) rows of WT of the active columns
    double *WTc_buffer  # storage for WTc when it is not WT
    int *cols       # (k,) the active columns, ascending
    unsigned char *active  # (n_in,) scratch: column j is active


cdef void gather_input(InputBatch *B, const double **rows, int S,
                       int n_in, int n_out) noexcept nogil:
    """Find the batch's active columns and copy them (and their weights) in."""
    cdef int i, j, c, k = 0
    cdef const double *x
    if B.sparse_ok:
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
    B.dense = not B.sparse_ok or 10 * k > 9 * n_in
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


cdef void input_update(Layer *L, InputBatch *B, int S, const Step *step) noexcept nogil:
    """update_rows for the input layer, on WTc (k, n_out): WTc += alpha Xc^T D, etc."""
    cdef Py_ssize_t count = B.k * <Py_ssize_t>L.n_out
    if B.VT == NULL:
        gemm(True, False, B.k, L.n_out, S, step.alpha, B.Xc, B.k, L.D, L.n_out,
             1.0 - step.decay, B.WTc, L.n_out)
        bias_product_rows(L, S, step.alpha, 1.0, L.b, 0, L.n_out)
        return
    update_weights(B.WTc, B.VT, count, step, False)   # dense here: WTc is WT
    gemm(True, False, B.k, L.n_out, S, step.alpha, B.Xc, B.k, L.D, L.n_out,
         1.0, B.VT, L.n_out)
    update_weights(B.WTc, B.VT, count, step, True)
    bias_product_rows(L, S, step.alpha, step.momentum, L.Vb, 0, L.n_out)
    update_weights(L.b, L.Vb, L.n_out, step, True)


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
                         int S, int cost) noexcept nogil:
    """Algorithm 3 on a batch: every layer's delta D, last layer first."""
    cdef int l
    output_error(&layers[n_layers - 1], labels, S, cost)
    for l in range(n_layers - 1, 0, -1):
        backward_error_rows(&layers[l], &layers[l - 1], S, 0, layers[l].n_in)


# --------------------------------------------------------------------------
# Python entry points
# --------------------------------------------------------------------------

cdef class Network:
    """Workspace for training or evaluating one network on up to ``max_rows`` rows.

    Holds pointers to the caller's weight and bias arrays (updated in place by
    ``train_epoch``) and the per-layer buffers, allocated once here and reused
    for every batch. ``kinds`` are the layers' activation codes.
    """
    cdef Layer *layers
    cdef int n_layers
    cdef int max_rows
    cdef int cost
    cdef InputBatch input
    cdef const double **rows        # the current batch's rows of X
    cdef Py_ssize_t *batch_labels   # and their labels
    cdef list _keep                 # every array the pointers point into

    def __cinit__(self):
        self.layers = NULL
        self.rows = NULL

    def __init__(self, list weights, list biases, list kinds, double slope, int cost,
                 int max_rows, bint keep_z=False, bint momentum=False):
        cdef int l, n_in = weights[0].shape[1], n_out = weights[0].shape[0]
        cdef Layer *L
        cdef Py_ssize_t[::1] labels
        cdef int[::1] cols
        cdef unsigned char[::1] active
        self.n_layers = len(weights)
        self.max_rows = max_rows
        self.cost = cost
        self._keep = []
        self.layers = <Layer *>malloc(self.n_layers * sizeof(Layer))
        self.rows = <const double **>malloc(max_rows * sizeof(double *))
        if self.layers == NULL or self.rows == NULL:
            raise MemoryError()
        for l in range(self.n_layers):
            L = &self.layers[l]
            L.n_out, L.n_in = weights[l].shape
            L.kind = kinds[l]
            L.slope = slope
            L.W = self._pointer(weights[l])
            L.b = self._pointer(biases[l])
            L.A = self._pointer(np.empty((max_rows, L.n_out)))
            L.D = self._pointer(np.empty((max_rows, L.n_out)))
            L.Z = self._pointer(np.empty((max_rows, L.n_out))) if keep_z else L.A
            L.VW = self._pointer(np.zeros((L.n_out, L.n_in))) if momentum else NULL
            L.Vb = self._pointer(np.zeros(L.n_out)) if momentum else NULL
        labels = np.empty(max_rows, dtype=np.intp)
        self._keep.append(labels)
        self.batch_labels = &labels[0]
        self.input.Xc = self._pointer(np.empty((max_rows, n_in)))
        self.input.WT = self._pointer(np.empty((n_in, n_out)))
        self.input.WTc_buffer = self._pointer(np.empty((n_in, n_out)))
        self.input.VT = self._pointer(np.zeros((n_in, n_out))) if momentum else NULL
        cols = np.empty(n_in, dtype=np.intc)
        active = np.empty(n_in, dtype=np.uint8)
        self._keep.extend([cols, active])
        self.input.cols = &cols[0]
        self.input.active = &active[0]

    cdef double *_pointer(self, array) except NULL:
        """The data of a C-contiguous float64 array, kept alive with this object."""
        cdef double[::1] flat = array.reshape(-1)
        self._keep.append(array)
        return &flat[0]

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
        """Mean gradients of the cost over the rows of X, into the given arrays."""
        cdef int S = X.shape[0], l
        cdef double[:, ::1] G
        cdef double[::1] g
        cdef Layer *L
        with nogil:
            forward_batch(self.layers, self.n_layers, &X[0, 0], S, 0)
            backward_batch(self.layers, self.n_layers, &labels[0], S, self.cost)
        for l in range(self.n_layers):
            G = grad_weights[l]
            g = grad_biases[l]
            L = &self.layers[l]
            with nogil:
                gemm(True, False, L.n_out, L.n_in, S, 1.0 / S, L.D, L.n_out,
                     &X[0, 0] if l == 0 else self.layers[l - 1].A, L.n_in,
                     0.0, &G[0, 0], L.n_in)
                bias_product_rows(L, S, 1.0 / S, 0.0, &g[0], 0, L.n_out)

    cdef void train_batch(self, int S, const Step *step) noexcept nogil:
        """Forward, backward and update on the batch in self.rows / self.batch_labels."""
        cdef int l
        cdef Layer *first = &self.layers[0]
        gather_input(&self.input, self.rows, S, first.n_in, first.n_out)
        input_forward_rows(first, &self.input, S, 0, first.n_out)
        forward_batch(self.layers, self.n_layers, NULL, S, 1)
        backward_batch(self.layers, self.n_layers, self.batch_labels, S, self.cost)
        # every delta is known (computed with the old weights): update
        for l in range(self.n_layers - 1, 0, -1):
            update_rows(&self.layers[l], self.layers[l - 1].A, S, step, 0, self.layers[l].n_out)
        input_update(first, &self.input, S, step)
        scatter_input_weights(&self.input, first.n_out)

    def train_epoch(self, const double[:, ::1] X, const Py_ssize_t[::1] labels,
                    const Py_ssize_t[::1] order, int batch_size,
                    double learning_rate, double l2=0.0, double momentum=0.0,
                    long check_every=1):
        """One epoch of mini-batch gradient descent (Algorithm 2), without the GIL.

        The batches are rows order[0:S], order[S:2S], ... of X (the last one may
        be smaller); ``order=None`` takes X's rows as they are. ``l2`` is
        lambda of Nielsen's network2 (decay eta * lambda / n per step) and
        ``momentum`` mu of classical momentum (the velocities live in this
        object, so they carry over between epochs). Every ``check_every``
        batches the GIL is taken back for a moment to look for Ctrl-C: a
        KeyboardInterrupt then leaves the weights of the last completed batch.
        """
        cdef Py_ssize_t n = X.shape[0], start, row
        cdef int S, i
        cdef long batches = 0
        cdef Step step
        cdef Layer *first = &self.layers[0]
        if momentum != 0.0 and first.VW == NULL:
            raise ValueError("momentum needs a Network built with momentum=True")
        step.decay = learning_rate * l2 / n
        step.momentum = momentum
        self.input.sparse_ok = l2 == 0.0 and momentum == 0.0
        transpose(first.W, first.n_out, first.n_in, self.input.WT)
        if self.input.VT != NULL:
            transpose(first.VW, first.n_out, first.n_in, self.input.VT)
        try:
            with nogil:
                start = 0
                while start < n:
                    S = <int>min(<Py_ssize_t>batch_size, n - start)
                    for i in range(S):
                        row = start + i if order is None else order[start + i]
                        self.rows[i] = &X[row, 0]
                        self.batch_labels[i] = labels[row]
                    step.alpha = -learning_rate / S
                    self.train_batch(S, &step)
                    start += S
                    batches += 1
                    if batches % check_every == 0:
                        with gil:
                            PyErr_CheckSignals()
        finally:
            transpose(self.input.WT, first.n_in, first.n_out, first.W)
            if self.input.VT != NULL:
                transpose(self.input.VT, first.n_in, first.n_out, first.VW)


# --------------------------------------------------------------------------
# The single-layer perceptron (paper section 1.2)
# --------------------------------------------------------------------------

def perceptron_epoch(double[::1] w, double[::1] b, const double[:, ::1] X,
                     const double[::1] y, double learning_rate):
    """One epoch of the Perceptron Training Rule, example by example, in order.

    o = H(x . w + b) (H(z) = 1 if z > 0 else 0); w += eta (y - o) x; b += eta (y - o).
    Returns the total error sum |y - o| of the epoch.
    """
    cdef Py_ssize_t i, j, n = X.shape[0]
    cdef int m = X.shape[1], one = 1
    cdef double z, error, step, total = 0.0
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
