/* cymlp_combine.h: the sparse first layer's one kernel, a combination of rows.
 *
 *     out[u] (+)= sum over e < count of coef[e] * M[rows[e] * ld + u],   u < n,
 *
 * summed in the order of e. The forward pass takes it with M = WT and a row's
 * non-zero inputs (Z[i] = sum x_ij WT[j]); the gradient with M = D and a column's
 * (GT[j] = sum x_ij D[i]).
 *
 * Outputs are kept in registers, a block at a time, across all the entries. With
 * GCC or Clang on x86-64 the same code is compiled twice, for the baseline (SSE2)
 * and for AVX, and cymlp_combine_init picks one per CPU: they do the same
 * multiplications and additions in the same order (no FMA), so every CPU gets the
 * same result, bit for bit.
 */
#ifndef CYMLP_COMBINE_H
#define CYMLP_COMBINE_H

#include <stddef.h>

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define CYMLP_X86_AVX_DISPATCH 1
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
    static inline __attribute__((always_inline)) void NAME(                            \
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

#ifdef CYMLP_X86_AVX_DISPATCH
/* AVX: 8 vectors of outputs at a time (8 of its 16 registers) */
CYMLP_COMBINE_BODY(cymlp_combine_wide_d, double, cymlp_v4d, 4, 8)
CYMLP_COMBINE_BODY(cymlp_combine_wide_f, float, cymlp_v8f, 8, 8)

__attribute__((target("avx"))) static void cymlp_combine_avx_d(
    const double *M, ptrdiff_t ld, int n, const int *rows, const double *coef, int count,
    double *out, int add)
{
    cymlp_combine_wide_d(M, ld, n, rows, coef, count, out, add);
}

__attribute__((target("avx"))) static void cymlp_combine_avx_f(
    const float *M, ptrdiff_t ld, int n, const int *rows, const float *coef, int count,
    float *out, int add)
{
    cymlp_combine_wide_f(M, ld, n, rows, coef, count, out, add);
}

static int cymlp_has_avx = 0;

/* Call once (at import), before any thread combines. */
static void cymlp_combine_init(void)
{
    __builtin_cpu_init();
    cymlp_has_avx = __builtin_cpu_supports("avx");
}
#else
static void cymlp_combine_init(void) {}
#endif

static void cymlp_combine_d(const double *M, ptrdiff_t ld, int n, const int *rows,
                            const double *coef, int count, double *out, int add)
{
#ifdef CYMLP_X86_AVX_DISPATCH
    if (cymlp_has_avx) {
        cymlp_combine_avx_d(M, ld, n, rows, coef, count, out, add);
        return;
    }
#endif
    cymlp_combine_base_d(M, ld, n, rows, coef, count, out, add);
}

static void cymlp_combine_f(const float *M, ptrdiff_t ld, int n, const int *rows,
                            const float *coef, int count, float *out, int add)
{
#ifdef CYMLP_X86_AVX_DISPATCH
    if (cymlp_has_avx) {
        cymlp_combine_avx_f(M, ld, n, rows, coef, count, out, add);
        return;
    }
#endif
    cymlp_combine_base_f(M, ld, n, rows, coef, count, out, add);
}

#endif
