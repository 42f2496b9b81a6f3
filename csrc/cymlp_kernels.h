/* cymlp_kernels.h: the core's two hottest loops, in C vectorized for the CPU at hand.
 *
 * cymlp_combine_d / _f: the sparse first layer's one kernel, a combination of rows,
 *
 *     out[u] (+)= sum over e < count of coef[e] * M[rows[e] * ld + u],   u < n,
 *
 * summed in the order of e. The forward pass takes it with M = WT and a row's
 * non-zero inputs (Z[i] = sum x_ij WT[j]); the gradient with M = D and a column's
 * (GT[j] = sum x_ij D[i]). Outputs are kept in registers, a block at a time, across
 * all the entries.
 *
 * cymlp_adam_d / _f: Adam's step (scikit-learn's AdamOptimizer) on count parameters.
 *
 * With GCC or Clang on x86-64 each is compiled twice, for the baseline (SSE2) and for
 * AVX, and cymlp_kernels_init picks one per CPU: both do the same multiplications and
 * additions in the same order (no FMA), so every CPU gets the same result, bit for bit.
 */
#ifndef CYMLP_KERNELS_H
#define CYMLP_KERNELS_H

#include <math.h>
#include <stddef.h>

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
#define CYMLP_AHEAD(e) ((e) + 8 < count ? (e) + 8 : (e))

/* STAGE: while BLOCK vectors of outputs remain, combine them, their sums held in
 * registers across all the entries */
#define CYMLP_COMBINE_STAGE(T, V, LANES, BLOCK)                                        \
    for (; u + (BLOCK) * (LANES) <= n; u += (BLOCK) * (LANES)) {                       \
        V acc[BLOCK];                                                                  \
        for (k = 0; k < (BLOCK); k++)                                                  \
            acc[k] = add ? *(const V *)(out + u + k * (LANES)) : (V){0};               \
        for (e = 0; e < count; e++) {                                                  \
            const T *m = M + rows[e] * ld + u;                                         \
            const char *ahead = (const char *)(M + rows[CYMLP_AHEAD(e)] * ld + u);     \
            V v = (V){0} + coef[e];                                                    \
            for (k = 0; k < (int)((BLOCK) * (LANES) * sizeof(T)); k += 64)             \
                __builtin_prefetch(ahead + k);                                         \
            for (k = 0; k < (BLOCK); k++)                                              \
                acc[k] += v * *(const V *)(m + k * (LANES));                           \
        }                                                                              \
        for (k = 0; k < (BLOCK); k++)                                                  \
            *(V *)(out + u + k * (LANES)) = acc[k];                                    \
    }

/* BODY(NAME, T, V, LANES, BLOCK): NAME(...) combining with vectors V of LANES values
 * of T, BLOCK vectors of outputs at a time, then 4, then 1, then one value */
#define CYMLP_COMBINE_BODY(NAME, T, V, LANES, BLOCK)                                   \
    static CYMLP_ALWAYS_INLINE void NAME(                                       \
        const T *M, ptrdiff_t ld, int n, const int *rows, const T *coef, int count,    \
        T *out, int add)                                                               \
    {                                                                                  \
        int u = 0, e, k;                                                               \
        CYMLP_COMBINE_STAGE(T, V, LANES, BLOCK)                                        \
        CYMLP_COMBINE_STAGE(T, V, LANES, 4)                                            \
        CYMLP_COMBINE_STAGE(T, V, LANES, 1)                                            \
        for (; u < n; u++) {                                                           \
            T s = add ? out[u] : 0;                                                    \
            for (e = 0; e < count; e++)                                                \
                s += coef[e] * M[rows[e] * ld + u];                                    \
            out[u] = s;                                                                \
        }                                                                              \
    }

/* the baseline: 4 vectors of outputs at a time (8 SSE2 registers) */
CYMLP_COMBINE_BODY(cymlp_combine_base_d, double, cymlp_v4d, 4, 4)
CYMLP_COMBINE_BODY(cymlp_combine_base_f, float, cymlp_v8f, 8, 4)

#else  /* MSVC: plain loops */
#define CYMLP_COMBINE_PLAIN(NAME, T)                                                   \
    static void NAME(const T *M, ptrdiff_t ld, int n, const int *rows, const T *coef,  \
                     int count, T *out, int add)                                       \
    {                                                                                  \
        int u, e;                                                                      \
        for (u = 0; u < n; u++) {                                                      \
            T s = add ? out[u] : 0;                                                    \
            for (e = 0; e < count; e++)                                                \
                s += coef[e] * M[rows[e] * ld + u];                                    \
            out[u] = s;                                                                \
        }                                                                              \
    }
CYMLP_COMBINE_PLAIN(cymlp_combine_base_d, double)
CYMLP_COMBINE_PLAIN(cymlp_combine_base_f, float)
#endif


/* W <- W - rate m / (sqrt(v) + epsilon) after m, v <- the moments of g = (G + l2 W) / size,
 * written as the Cython core wrote it (sqrt in double, as C's sqrt takes it) */
#define CYMLP_ADAM_BODY(NAME, T)                                                       \
    static CYMLP_ALWAYS_INLINE void NAME(                                       \
        T *W, T *V, T *M2, const T *G, ptrdiff_t count, T l2, T size, T rate,          \
        T beta_1, T beta_2, T epsilon)                                                 \
    {                                                                                  \
        ptrdiff_t i;                                                                   \
        T g;                                                                           \
        for (i = 0; i < count; i++) {                                                  \
            g = l2 != 0 ? (G[i] + l2 * W[i]) / size : G[i] / size;                     \
            V[i] = beta_1 * V[i] + (1 - beta_1) * g;                                   \
            M2[i] = beta_2 * M2[i] + (1 - beta_2) * (g * g);                           \
            W[i] = W[i] + (-rate * V[i]) / (sqrt(M2[i]) + epsilon);                    \
        }                                                                              \
    }
CYMLP_ADAM_BODY(cymlp_adam_body_d, double)
CYMLP_ADAM_BODY(cymlp_adam_body_f, float)

#ifdef CYMLP_X86_AVX_DISPATCH
/* AVX: 8 vectors of outputs at a time (8 of its 16 registers) */
CYMLP_COMBINE_BODY(cymlp_combine_wide_d, double, cymlp_v4d, 4, 8)
CYMLP_COMBINE_BODY(cymlp_combine_wide_f, float, cymlp_v8f, 8, 8)
#define CYMLP_AVX __attribute__((target("avx")))
#else
#define cymlp_combine_wide_d cymlp_combine_base_d
#define cymlp_combine_wide_f cymlp_combine_base_f
#define CYMLP_AVX
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

static int cymlp_has_avx = 0;

/* Call at import, and never while a kernel runs: the AVX builds where the CPU has AVX
 * and allow_avx is set, else the baseline. Returns whether AVX is used. */
static int cymlp_kernels_init(int allow_avx)
{
#ifdef CYMLP_X86_AVX_DISPATCH
    __builtin_cpu_init();
    cymlp_has_avx = allow_avx && __builtin_cpu_supports("avx");
#else
    (void)allow_avx;
#endif
    return cymlp_has_avx;
}

CYMLP_DISPATCH(cymlp_combine_d, cymlp_combine_base_d, cymlp_combine_wide_d,
               (const double *M, ptrdiff_t ld, int n, const int *rows, const double *coef,
                int count, double *out, int add),
               (M, ld, n, rows, coef, count, out, add))
CYMLP_DISPATCH(cymlp_combine_f, cymlp_combine_base_f, cymlp_combine_wide_f,
               (const float *M, ptrdiff_t ld, int n, const int *rows, const float *coef,
                int count, float *out, int add),
               (M, ld, n, rows, coef, count, out, add))
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

#endif
