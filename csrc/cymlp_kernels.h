/* cymlp_kernels.h: the core's hottest loops, in C vectorized for the CPU at hand.
 *
 * cymlp_combine_d / _f: the sparse first layer's one kernel, a combination of rows,
 *
 *     out[u] (+)= sum over s < segments and e < count[s] of
 *                 coef[s][e] * M[rows[s][e] * ld + u],          u < n,
 *
 * summed in the order of s, then e. The forward pass takes it with M = WT
 * and a row's non-zero inputs (Z[i] = sum x_ij WT[j]: one segment); the gradient with
 * M = D and a column's (GT[j] = sum x_ij D[i]: a segment per row block). Outputs are
 * kept in registers, a block at a time, across all the entries.
 *
 * cymlp_adam_d / _f: Adam's step (scikit-learn's AdamOptimizer) on count parameters;
 * cymlp_step_d / _f: the step of plain SGD, classical or Nesterov momentum.
 *
 * cymlp_list_d / _f, cymlp_list_pixels_d / _f: a row's non-zero values and their
 * columns, in column order (from floats, tested by their bits without the sign, so
 * -0.0 is zero; or from uint8 pixels, scaled by 1/255).
 *
 * With GCC or Clang on x86-64 Linux each is compiled twice, for the baseline (SSE2) and
 * for AVX (the lists: AVX2), the combine and step kernels also for AVX-512, and
 * cymlp_kernels_init picks one per CPU: all do the same multiplications and additions
 * in the same order (no FMA), so every CPU gets the same result, bit for bit.
 */
#ifndef CYMLP_KERNELS_H
#define CYMLP_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* (Linux only, where the wheels' compilers and runtimes are known to provide
 * __builtin_cpu_supports; elsewhere the baseline everywhere) */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__linux__) && \
    (defined(__x86_64__) || defined(__i386__))
#define CYMLP_X86_AVX_DISPATCH 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CYMLP_ALWAYS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define CYMLP_ALWAYS_INLINE __inline   /* (MSVC's C has no "inline" before C11) */
#else
#define CYMLP_ALWAYS_INLINE
#endif

#if defined(__GNUC__) || defined(__clang__)
/* 32-byte vectors that may sit anywhere a double or float may (unaligned loads) */
typedef double cymlp_v4d __attribute__((vector_size(32), aligned(8)));
typedef float cymlp_v8f __attribute__((vector_size(32), aligned(4)));

/* The entry whose row of M is fetched into the cache while entry e is combined (rows
 * are random, so the hardware cannot foresee them) */
#define CYMLP_AHEAD(e, count) ((e) + 8 < (count) ? (e) + 8 : (e))

/* PASS: the BLOCK vectors of outputs from u on, their sums held in registers across
 * all the entries; then u moves past them */
#define CYMLP_COMBINE_PASS(T, V, LANES, BLOCK)                                         \
    {                                                                                  \
        V acc[BLOCK];                                                                  \
        for (k = 0; k < (BLOCK); k++)                                                  \
            acc[k] = add ? *(const V *)(out + u + k * (LANES)) : (V){0};               \
        for (s = 0; s < segments; s++)                                                 \
        for (e = 0; e < count[s]; e++) {                                               \
            const T *m = M + rows[s][e] * ld + u;                                      \
            const char *ahead =                                                        \
                (const char *)(M + rows[s][CYMLP_AHEAD(e, count[s])] * ld + u);        \
            V v = coef[s][e] - (V){0};   /* a broadcast (x - 0 is x, -0.0 too) */      \
            for (k = 0; k < (int)((BLOCK) * (LANES) * sizeof(T)); k += 64)             \
                __builtin_prefetch(ahead + k);                                         \
            for (k = 0; k < (BLOCK); k++)                                              \
                acc[k] += v * *(const V *)(m + k * (LANES));                           \
        }                                                                              \
        for (k = 0; k < (BLOCK); k++)                                                  \
            *(V *)(out + u + k * (LANES)) = acc[k];                                    \
        u += (BLOCK) * (LANES);                                                        \
    }

/* STAGE: passes of BLOCK vectors while that many remain */
#define CYMLP_COMBINE_STAGE(T, V, LANES, BLOCK)                                        \
    while (u + (BLOCK) * (LANES) <= n)                                                 \
        CYMLP_COMBINE_PASS(T, V, LANES, BLOCK)

/* BODY(NAME, T, V, LANES, STAGES): NAME(...) combining with vectors V of LANES values
 * of T, in the stages that STAGES(T, V, LANES) lists (largest first), then one value
 * at a time */
#define CYMLP_COMBINE_BODY(NAME, T, V, LANES, STAGES)                                  \
    static CYMLP_ALWAYS_INLINE void NAME(                                              \
        const T *M, ptrdiff_t ld, int n, int segments, const int *const *rows,         \
        const T *const *coef, const int *count, T *out, int add)                       \
    {                                                                                  \
        int u = 0, s, e, k;                                                            \
        STAGES(T, V, LANES)                                                            \
        for (; u < n; u++) {                                                           \
            T sum = add ? out[u] : 0;                                                  \
            for (s = 0; s < segments; s++)                                             \
                for (e = 0; e < count[s]; e++)                                         \
                    sum += coef[s][e] * M[rows[s][e] * ld + u];                        \
            out[u] = sum;                                                              \
        }                                                                              \
    }

/* the baseline: 4 vectors of outputs at a time (8 SSE2 registers), then 1 */
#define CYMLP_BASE_STAGES(T, V, LANES)                                                 \
    CYMLP_COMBINE_STAGE(T, V, LANES, 4)                                                \
    CYMLP_COMBINE_STAGE(T, V, LANES, 1)
CYMLP_COMBINE_BODY(cymlp_combine_base_d, double, cymlp_v4d, 4, CYMLP_BASE_STAGES)
CYMLP_COMBINE_BODY(cymlp_combine_base_f, float, cymlp_v8f, 8, CYMLP_BASE_STAGES)

#else  /* MSVC: plain loops */
#define CYMLP_COMBINE_PLAIN(NAME, T)                                                   \
    static void NAME(const T *M, ptrdiff_t ld, int n, int segments,                    \
                     const int *const *rows, const T *const *coef, const int *count,   \
                     T *out, int add)                                                  \
    {                                                                                  \
        int u, s, e;                                                                   \
        for (u = 0; u < n; u++) {                                                      \
            T sum = add ? out[u] : 0;                                                  \
            for (s = 0; s < segments; s++)                                             \
                for (e = 0; e < count[s]; e++)                                         \
                    sum += coef[s][e] * M[rows[s][e] * ld + u];                        \
            out[u] = sum;                                                              \
        }                                                                              \
    }
CYMLP_COMBINE_PLAIN(cymlp_combine_base_d, double)
CYMLP_COMBINE_PLAIN(cymlp_combine_base_f, float)
#endif


/* W <- W - rate m / (sqrt(v) + epsilon) after m, v <- the moments of g = (G + l2 W) / size,
 * in the order of scikit-learn's AdamOptimizer (sqrt in double, as C's sqrt takes it),
 * except that g multiplies by 1 / size (within an ulp of the quotient): the divider
 * bounds the step, and dividing by size too took a third of it */
#define CYMLP_ADAM_BODY(NAME, T)                                                       \
    static CYMLP_ALWAYS_INLINE void NAME(                                       \
        T *W, T *V, T *M2, const T *G, ptrdiff_t count, T l2, T size, T rate,          \
        T beta_1, T beta_2, T epsilon)                                                 \
    {                                                                                  \
        ptrdiff_t i;                                                                   \
        const T scale = 1 / size;                                                      \
        T g;                                                                           \
        for (i = 0; i < count; i++) {                                                  \
            g = l2 != 0 ? (G[i] + l2 * W[i]) * scale : G[i] * scale;                   \
            V[i] = beta_1 * V[i] + (1 - beta_1) * g;                                   \
            M2[i] = beta_2 * M2[i] + (1 - beta_2) * (g * g);                           \
            W[i] = W[i] + (-rate * V[i]) / (sqrt(M2[i]) + epsilon);                    \
        }                                                                              \
    }
CYMLP_ADAM_BODY(cymlp_adam_body_d, double)
CYMLP_ADAM_BODY(cymlp_adam_body_f, float)

/* The other optimizers' step from g = G + l2 W (G alone when l2 is 0), with
 * keep = 1 - shrink: kind 0, SGD: W <- keep W + alpha g; 1, momentum: V <- mu V + s,
 * W <- W + V; 2, Nesterov: V <- mu V + s, W <- W + mu V + s; where s = alpha g - shrink W.
 * A loop for each case, which the compiler vectorizes. */
#define CYMLP_STEP_BODY(NAME, T)                                                       \
    static CYMLP_ALWAYS_INLINE void NAME(T *W, T *V, const T *G, ptrdiff_t count,      \
                                         int kind, T keep, T shrink, T l2, T alpha,    \
                                         T mu)                                         \
    {                                                                                  \
        ptrdiff_t i;                                                                   \
        T g, s;                                                                        \
        if (kind == 0 && l2 == 0)                                                      \
            for (i = 0; i < count; i++)                                                \
                W[i] = keep * W[i] + alpha * G[i];                                     \
        else if (kind == 0)                                                            \
            for (i = 0; i < count; i++)                                                \
                W[i] = keep * W[i] + alpha * (G[i] + l2 * W[i]);                       \
        else if (kind == 1)                                                            \
            for (i = 0; i < count; i++) {                                              \
                g = l2 != 0 ? G[i] + l2 * W[i] : G[i];                                 \
                s = alpha * g - shrink * W[i];                                         \
                V[i] = mu * V[i] + s;                                                  \
                W[i] += V[i];                                                          \
            }                                                                          \
        else                                                                           \
            for (i = 0; i < count; i++) {                                              \
                g = l2 != 0 ? G[i] + l2 * W[i] : G[i];                                 \
                s = alpha * g - shrink * W[i];                                         \
                V[i] = mu * V[i] + s;                                                  \
                W[i] += mu * V[i] + s;                                                 \
            }                                                                          \
    }
CYMLP_STEP_BODY(cymlp_step_body_d, double)
CYMLP_STEP_BODY(cymlp_step_body_f, float)

#ifdef CYMLP_X86_AVX_DISPATCH
/* AVX: the whole vectors in as few passes as 13 registers of sums allow (of its 16),
 * as even as can be: each pass costs a walk over the entries, and a narrow one waits
 * on its few sums (100 outputs: 13 + 12 vectors, not 12 + 12 + 1) */
#define CYMLP_AVX_CASE(T, V, LANES, BLOCK)                                             \
    case BLOCK:                                                                        \
        CYMLP_COMBINE_PASS(T, V, LANES, BLOCK)                                         \
        break;
#define CYMLP_AVX_STAGES(T, V, LANES)                                                  \
    while (u + (LANES) <= n) {                                                         \
        int left = (n - u) / (LANES), passes = (left + 12) / 13;                       \
        switch ((left + passes - 1) / passes) {                                        \
            CYMLP_AVX_CASE(T, V, LANES, 13) CYMLP_AVX_CASE(T, V, LANES, 12)            \
            CYMLP_AVX_CASE(T, V, LANES, 11) CYMLP_AVX_CASE(T, V, LANES, 10)            \
            CYMLP_AVX_CASE(T, V, LANES, 9) CYMLP_AVX_CASE(T, V, LANES, 8)              \
            CYMLP_AVX_CASE(T, V, LANES, 7) CYMLP_AVX_CASE(T, V, LANES, 6)              \
            CYMLP_AVX_CASE(T, V, LANES, 5) CYMLP_AVX_CASE(T, V, LANES, 4)              \
            CYMLP_AVX_CASE(T, V, LANES, 3) CYMLP_AVX_CASE(T, V, LANES, 2)              \
            default:                                                                   \
                CYMLP_COMBINE_PASS(T, V, LANES, 1)                                     \
        }                                                                              \
    }
CYMLP_COMBINE_BODY(cymlp_combine_wide_d, double, cymlp_v4d, 4, CYMLP_AVX_STAGES)
CYMLP_COMBINE_BODY(cymlp_combine_wide_f, float, cymlp_v8f, 8, CYMLP_AVX_STAGES)
#define CYMLP_AVX __attribute__((target("avx")))
#else
#define cymlp_combine_wide_d cymlp_combine_base_d
#define cymlp_combine_wide_f cymlp_combine_base_f
#define CYMLP_AVX
#endif

#ifdef CYMLP_X86_AVX_DISPATCH
#include <immintrin.h>
#define CYMLP_AVX512 __attribute__((target("avx512f")))

/* AVX-512: 64-byte vectors, up to 24 of 32 registers of sums a pass (as even as can be),
 * the pass's last vector masked to the outputs left, so that n outputs take one walk
 * over the entries per 24 vectors, remainder included (100 doubles: 13 vectors, one
 * pass). No prefetching: on the AVX-512 Xeon measured, the hardware keeps up with the
 * rows of M, and the prefetches' load slots cost 3-4% of an epoch. S is the
 * intrinsics' suffix (pd, ps), MASK their mask type. */
#define CYMLP_AVX512_PASS(T, V, S, MASK, LANES, BLOCK)                                 \
    case BLOCK: {                                                                      \
        V acc[BLOCK];                                                                  \
        for (k = 0; k < (BLOCK); k++)                                                  \
            acc[k] = add ? _mm512_maskz_loadu_##S(k < (BLOCK) - 1 ? (MASK)-1 : last,   \
                                                  out + u + k * (LANES))               \
                         : _mm512_setzero_##S();                                       \
        for (s = 0; s < segments; s++)                                                 \
        for (e = 0; e < count[s]; e++) {                                              \
            const T *m = M + rows[s][e] * ld + u;                                      \
            V v = _mm512_set1_##S(coef[s][e]);                                         \
            for (k = 0; k < (BLOCK) - 1; k++)                                          \
                acc[k] = _mm512_add_##S(acc[k], _mm512_mul_##S(                        \
                    v, _mm512_loadu_##S(m + k * (LANES))));                            \
            acc[k] = _mm512_add_##S(acc[k], _mm512_mul_##S(                            \
                v, _mm512_maskz_loadu_##S(last, m + k * (LANES))));                    \
        }                                                                              \
        for (k = 0; k < (BLOCK) - 1; k++)                                              \
            _mm512_storeu_##S(out + u + k * (LANES), acc[k]);                          \
        _mm512_mask_storeu_##S(out + u + k * (LANES), last, acc[k]);                   \
        break;                                                                         \
    }

#define CYMLP_AVX512_BODY(NAME, T, V, S, MASK, LANES)                                  \
    static CYMLP_AVX512 void NAME(const T *M, ptrdiff_t ld, int n, int segments,       \
                                  const int *const *rows, const T *const *coef,        \
                                  const int *count, T *out, int add)                   \
    {                                                                                  \
        int u = 0, s, e, k, vectors, block, width;                                     \
        MASK last;                                                                     \
        while (u < n) {                                                                \
            vectors = (n - u + (LANES) - 1) / (LANES);                                 \
            block = (vectors + (vectors + 23) / 24 - 1) / ((vectors + 23) / 24);       \
            width = block * (LANES) < n - u ? block * (LANES) : n - u;                 \
            last = (MASK)((MASK)-1 >> (block * (LANES) - width));                      \
            switch (block) {                                                           \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 24)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 23)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 22)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 21)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 20)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 19)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 18)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 17)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 16)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 15)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 14)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 13)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 12)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 11)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 10)                            \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 9)                             \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 8)                             \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 7)                             \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 6)                             \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 5)                             \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 4)                             \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 3)                             \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 2)                             \
                CYMLP_AVX512_PASS(T, V, S, MASK, LANES, 1)                             \
            }                                                                          \
            u += width;                                                                \
        }                                                                              \
    }
CYMLP_AVX512_BODY(cymlp_combine_avx512_d, double, __m512d, pd, __mmask8, 8)
CYMLP_AVX512_BODY(cymlp_combine_avx512_f, float, __m512, ps, __mmask16, 16)
#endif

/* Each kernel for AVX, and its entry point choosing between that and the baseline */
#define CYMLP_DISPATCH(NAME, BASE, WIDE, PARAMS, ARGS)                                  \
    static CYMLP_AVX void NAME##_avx PARAMS { WIDE ARGS; }                             \
    static void NAME PARAMS                                                            \
    {                                                                                  \
        if (cymlp_has_avx)                                                             \
            NAME##_avx ARGS;                                                           \
        else                                                                           \
            BASE ARGS;                                                                 \
    }

static int cymlp_has_avx = 0, cymlp_has_avx512 = 0;

/* The bytes of a row of WT that a forward pass takes at a time (a tile of units whose
 * columns of WT stay in the cache for all of a block's rows): 12 AVX registers of sums,
 * or 24 of AVX-512's (cymlp_kernels_init) */
static int cymlp_combine_tile = 384;

CYMLP_DISPATCH(cymlp_combine_below512_d, cymlp_combine_base_d, cymlp_combine_wide_d,
               (const double *M, ptrdiff_t ld, int n, int segments, const int *const *rows,
                const double *const *coef, const int *count, double *out, int add),
               (M, ld, n, segments, rows, coef, count, out, add))
CYMLP_DISPATCH(cymlp_combine_below512_f, cymlp_combine_base_f, cymlp_combine_wide_f,
               (const float *M, ptrdiff_t ld, int n, int segments, const int *const *rows,
                const float *const *coef, const int *count, float *out, int add),
               (M, ld, n, segments, rows, coef, count, out, add))

#ifdef CYMLP_X86_AVX_DISPATCH
#define CYMLP_IF_AVX512(CALL)                                                          \
    if (cymlp_has_avx512) {                                                            \
        CALL;                                                                          \
        return;                                                                        \
    }
#define CYMLP_IF_X86(CODE) CODE
#else
#define CYMLP_IF_AVX512(CALL)
#define CYMLP_IF_X86(CODE)
#endif

/* The combine kernel: the AVX-512 build, else AVX, else the baseline */
static void cymlp_combine_d(const double *M, ptrdiff_t ld, int n, int segments,
                            const int *const *rows, const double *const *coef,
                            const int *count, double *out, int add)
{
    CYMLP_IF_AVX512(cymlp_combine_avx512_d(M, ld, n, segments, rows, coef, count, out, add));
    cymlp_combine_below512_d(M, ld, n, segments, rows, coef, count, out, add);
}

static void cymlp_combine_f(const float *M, ptrdiff_t ld, int n, int segments,
                            const int *const *rows, const float *const *coef,
                            const int *count, float *out, int add)
{
    CYMLP_IF_AVX512(cymlp_combine_avx512_f(M, ld, n, segments, rows, coef, count, out, add));
    cymlp_combine_below512_f(M, ld, n, segments, rows, coef, count, out, add);
}

/* SGD's and momentum's step: the AVX-512 build, else AVX, else the baseline */
#define CYMLP_STEP_DISPATCH(NAME, BODY, T)                                             \
    CYMLP_IF_X86(static CYMLP_AVX512 void NAME##_avx512(                               \
        T *W, T *V, const T *G, ptrdiff_t count, int kind, T keep, T shrink, T l2,     \
        T alpha, T mu) { BODY(W, V, G, count, kind, keep, shrink, l2, alpha, mu); })   \
    CYMLP_DISPATCH(NAME##_below512, BODY, BODY,                                        \
                   (T *W, T *V, const T *G, ptrdiff_t count, int kind, T keep,         \
                    T shrink, T l2, T alpha, T mu),                                    \
                   (W, V, G, count, kind, keep, shrink, l2, alpha, mu))                \
    static void NAME(T *W, T *V, const T *G, ptrdiff_t count, int kind, T keep,        \
                     T shrink, T l2, T alpha, T mu)                                    \
    {                                                                                  \
        CYMLP_IF_AVX512(NAME##_avx512(W, V, G, count, kind, keep, shrink, l2, alpha,   \
                                      mu));                                            \
        NAME##_below512(W, V, G, count, kind, keep, shrink, l2, alpha, mu);            \
    }
CYMLP_STEP_DISPATCH(cymlp_step_d, cymlp_step_body_d, double)
CYMLP_STEP_DISPATCH(cymlp_step_f, cymlp_step_body_f, float)

CYMLP_DISPATCH(cymlp_adam_d, cymlp_adam_body_d, cymlp_adam_body_d,
               (double *W, double *V, double *M2, const double *G, ptrdiff_t count,
                double l2, double size, double rate, double beta_1, double beta_2,
                double epsilon),
               (W, V, M2, G, count, l2, size, rate, beta_1, beta_2, epsilon))
CYMLP_DISPATCH(cymlp_adam_f, cymlp_adam_body_f, cymlp_adam_body_f,
               (float *W, float *V, float *M2, const float *G, ptrdiff_t count,
                float l2, float size, float rate, float beta_1, float beta_2,
                float epsilon),
               (W, V, M2, G, count, l2, size, rate, beta_1, beta_2, epsilon))


/* ---- listing a row's non-zero entries -------------------------------------------- */

/* The baseline, from column j on, appended after the n entries already listed: eight
 * entries at a time, eight zeros (most of a sparse row) skipped at once; otherwise,
 * without branches, every entry is written and n moves past non-zeros (values and cols
 * have room for the whole row). Returns the new n. */
#define CYMLP_LIST_BODY(NAME, T, BITS, MAGNITUDE)                                      \
    static int NAME(const T *x, int j, int n_in, T *values, int *cols, int n)          \
    {                                                                                  \
        int k, end;                                                                    \
        BITS bits, any;                                                                \
        while (j < n_in) {                                                             \
            end = j + 8 < n_in ? j + 8 : n_in;                                         \
            any = 0;                                                                   \
            for (k = j; k < end; k++) {                                                \
                memcpy(&bits, x + k, sizeof bits);                                     \
                any |= bits;                                                           \
            }                                                                          \
            if (any & (MAGNITUDE))                                                     \
                for (k = j; k < end; k++) {                                            \
                    memcpy(&bits, x + k, sizeof bits);                                 \
                    values[n] = x[k];                                                  \
                    cols[n] = k;                                                       \
                    n += (bits & (MAGNITUDE)) != 0;                                    \
                }                                                                      \
            j = end;                                                                   \
        }                                                                              \
        return n;                                                                      \
    }
CYMLP_LIST_BODY(cymlp_list_base_d, double, uint64_t, 0x7fffffffffffffffULL)
CYMLP_LIST_BODY(cymlp_list_base_f, float, uint32_t, 0x7fffffffU)

#define CYMLP_LIST_PIXELS_BODY(NAME, T)                                                \
    static int NAME(const unsigned char *p, int j, int n_in, T *values, int *cols,     \
                    int n)                                                             \
    {                                                                                  \
        int k, end;                                                                    \
        uint64_t eight;                                                                \
        while (j < n_in) {                                                             \
            end = j + 8 < n_in ? j + 8 : n_in;                                         \
            if (end == j + 8) {                                                        \
                memcpy(&eight, p + j, 8);                                              \
                if (eight == 0) {                                                      \
                    j = end;                                                           \
                    continue;                                                          \
                }                                                                      \
            }                                                                          \
            for (k = j; k < end; k++) {                                                \
                values[n] = (T)(p[k] * (1.0 / 255.0));                                 \
                cols[n] = k;                                                           \
                n += p[k] != 0;                                                        \
            }                                                                          \
            j = end;                                                                   \
        }                                                                              \
        return n;                                                                      \
    }
CYMLP_LIST_PIXELS_BODY(cymlp_list_pixels_base_d, double)
CYMLP_LIST_PIXELS_BODY(cymlp_list_pixels_base_f, float)

#ifdef CYMLP_X86_AVX_DISPATCH
#define CYMLP_AVX2 __attribute__((target("avx2")))

static int cymlp_has_avx2 = 0;

/* For each mask of 8 (or 4) entries, the positions of its set bits packed to the front:
 * the permutation that moves the non-zero entries together (AVX2 has no compress) */
static int cymlp_packed[256][8];
static int cymlp_packed_pairs[16][8];   /* for 4 doubles, as pairs of 32-bit halves */

static void cymlp_lists_init(void)
{
    int m, b, k;
    for (m = 0; m < 256; m++)
        for (b = 0, k = 0; b < 8; b++)
            if (m >> b & 1)
                cymlp_packed[m][k++] = b;
    for (m = 0; m < 16; m++)
        for (b = 0, k = 0; b < 4; b++)
            if (m >> b & 1) {
                cymlp_packed_pairs[m][k++] = 2 * b;
                cymlp_packed_pairs[m][k++] = 2 * b + 1;
            }
}

/* Append the doubles of v (columns j..j+3) that mask selects at values + n, their
 * columns at cols + n (writing 4 of each: the caller has room); returns the new n */
static CYMLP_AVX2 CYMLP_ALWAYS_INLINE int cymlp_pack4_d(__m256d v, int mask, int j,
                                                       double *values, int *cols, int n)
{
    __m256i pairs = _mm256_loadu_si256((const __m256i *)cymlp_packed_pairs[mask]);
    __m128i where = _mm_loadu_si128((const __m128i *)cymlp_packed[mask]);
    _mm256_storeu_pd(values + n, _mm256_castsi256_pd(
        _mm256_permutevar8x32_epi32(_mm256_castpd_si256(v), pairs)));
    _mm_storeu_si128((__m128i *)(cols + n), _mm_add_epi32(where, _mm_set1_epi32(j)));
    return n + __builtin_popcount(mask);
}

/* The same for the 8 floats of v (columns j..j+7) */
static CYMLP_AVX2 CYMLP_ALWAYS_INLINE int cymlp_pack8_f(__m256 v, int mask, int j,
                                                       float *values, int *cols, int n)
{
    __m256i where = _mm256_loadu_si256((const __m256i *)cymlp_packed[mask]);
    _mm256_storeu_ps(values + n, _mm256_permutevar8x32_ps(v, where));
    _mm256_storeu_si256((__m256i *)(cols + n), _mm256_add_epi32(where, _mm256_set1_epi32(j)));
    return n + __builtin_popcount(mask);
}

/* (each loop stores a whole vector at values + n, cols + n: it fits, as n <= j; the
 * last few entries go to the baseline) */
static CYMLP_AVX2 int cymlp_list_avx2_d(const double *x, int n_in, double *values, int *cols)
{
    const __m256i magnitude = _mm256_set1_epi64x(0x7fffffffffffffffLL);
    int j = 0, n = 0, mask;
    __m256i bits;
    for (; j + 4 <= n_in; j += 4) {
        bits = _mm256_loadu_si256((const __m256i *)(x + j));
        mask = ~_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(
            _mm256_and_si256(bits, magnitude), _mm256_setzero_si256()))) & 0xf;
        if (mask)
            n = cymlp_pack4_d(_mm256_castsi256_pd(bits), mask, j, values, cols, n);
    }
    return cymlp_list_base_d(x, j, n_in, values, cols, n);   /* the tail */
}

static CYMLP_AVX2 int cymlp_list_avx2_f(const float *x, int n_in, float *values, int *cols)
{
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff);
    int j = 0, n = 0, mask;
    __m256i bits;
    for (; j + 8 <= n_in; j += 8) {
        bits = _mm256_loadu_si256((const __m256i *)(x + j));
        mask = ~_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(
            _mm256_and_si256(bits, magnitude), _mm256_setzero_si256()))) & 0xff;
        if (mask)
            n = cymlp_pack8_f(_mm256_castsi256_ps(bits), mask, j, values, cols, n);
    }
    return cymlp_list_base_f(x, j, n_in, values, cols, n);   /* the tail */
}

/* uint8 pixels: p * (1/255) in double, rounded to the row's type, as the baseline
 * computes them (and as float32 copies of load_mnist()'s float64 pixels are) */
static CYMLP_AVX2 int cymlp_list_pixels_avx2_d(const unsigned char *p, int n_in,
                                               double *values, int *cols)
{
    const __m256d scale = _mm256_set1_pd(1.0 / 255.0);
    int j = 0, n = 0, mask, half, four;
    uint64_t eight;
    __m128i ints;
    for (; j + 8 <= n_in; j += 8) {
        memcpy(&eight, p + j, 8);
        if (eight == 0)
            continue;
        for (half = 0; half < 8; half += 4) {
            memcpy(&four, p + j + half, 4);
            ints = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(four));
            mask = ~_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(ints, _mm_setzero_si128())))
                   & 0xf;
            if (mask)
                n = cymlp_pack4_d(_mm256_mul_pd(_mm256_cvtepi32_pd(ints), scale), mask,
                                  j + half, values, cols, n);
        }
    }
    return cymlp_list_pixels_base_d(p, j, n_in, values, cols, n);   /* the tail */
}

static CYMLP_AVX2 int cymlp_list_pixels_avx2_f(const unsigned char *p, int n_in,
                                               float *values, int *cols)
{
    const __m256d scale = _mm256_set1_pd(1.0 / 255.0);
    int j = 0, n = 0, mask;
    __m256i ints;
    __m128 low, high;
    for (; j + 8 <= n_in; j += 8) {
        ints = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + j)));
        mask = ~_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(
            ints, _mm256_setzero_si256()))) & 0xff;
        if (mask) {
            low = _mm256_cvtpd_ps(_mm256_mul_pd(
                _mm256_cvtepi32_pd(_mm256_castsi256_si128(ints)), scale));
            high = _mm256_cvtpd_ps(_mm256_mul_pd(
                _mm256_cvtepi32_pd(_mm256_extracti128_si256(ints, 1)), scale));
            n = cymlp_pack8_f(_mm256_insertf128_ps(_mm256_castps128_ps256(low), high, 1),
                              mask, j, values, cols, n);
        }
    }
    return cymlp_list_pixels_base_f(p, j, n_in, values, cols, n);   /* the tail */
}

#endif

/* Each listing: the AVX2 build where the CPU has AVX2 (cymlp_kernels_init), else the
 * baseline */
#ifdef CYMLP_X86_AVX_DISPATCH
#define CYMLP_IF_AVX2(CALL) if (cymlp_has_avx2) return CALL
#else
#define CYMLP_IF_AVX2(CALL)
#endif

static int cymlp_list_d(const double *x, int n_in, double *values, int *cols)
{
    CYMLP_IF_AVX2(cymlp_list_avx2_d(x, n_in, values, cols));
    return cymlp_list_base_d(x, 0, n_in, values, cols, 0);
}

static int cymlp_list_f(const float *x, int n_in, float *values, int *cols)
{
    CYMLP_IF_AVX2(cymlp_list_avx2_f(x, n_in, values, cols));
    return cymlp_list_base_f(x, 0, n_in, values, cols, 0);
}

static int cymlp_list_pixels_d(const unsigned char *p, int n_in, double *values, int *cols)
{
    CYMLP_IF_AVX2(cymlp_list_pixels_avx2_d(p, n_in, values, cols));
    return cymlp_list_pixels_base_d(p, 0, n_in, values, cols, 0);
}

static int cymlp_list_pixels_f(const unsigned char *p, int n_in, float *values, int *cols)
{
    CYMLP_IF_AVX2(cymlp_list_pixels_avx2_f(p, n_in, values, cols));
    return cymlp_list_pixels_base_f(p, 0, n_in, values, cols, 0);
}

/* Call at import, and never while a kernel runs: the builds for the CPU's vectors up to
 * `level` (0: the baseline, 1: AVX and AVX2, 2: AVX-512 too). Returns the level used. */
static int cymlp_kernels_init(int level)
{
#ifdef CYMLP_X86_AVX_DISPATCH
    __builtin_cpu_init();
    cymlp_has_avx = level >= 1 && __builtin_cpu_supports("avx");
    cymlp_has_avx2 = level >= 1 && __builtin_cpu_supports("avx2");
    cymlp_has_avx512 = level >= 2 && cymlp_has_avx2 && __builtin_cpu_supports("avx512f");
    cymlp_combine_tile = cymlp_has_avx512 ? 24 * 64 : 384;
    cymlp_lists_init();
#else
    (void)level;
#endif
    return cymlp_has_avx512 ? 2 : cymlp_has_avx;
}


#endif
