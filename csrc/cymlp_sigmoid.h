/* The sigmoid over whole rows of a layer, in C that compilers vectorize.
 *
 *   cymlp_sigmoid_rows_d / _f   A = 1 / (1 + e^-(Z + b)), row by row
 *
 * Included by the Cython core (csrc/_core.pyx.tp). tests/test_core.py transcribes
 * cymlp_exp_neg_* into NumPy and checks the kernel bit for bit against it. */
#ifndef CYMLP_SIGMOID_H
#define CYMLP_SIGMOID_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The sigmoid over whole rows, written so that compilers vectorize it:
   e^x (x <= 0) without branches or calls, within 1 ulp of libm's: x = n ln2 + r,
   |r| <= ln2/2, e^r from a polynomial, 2^n written straight into the exponent
   bits; 0 where e^x would leave the normal range (below 1e-308, 1e-38). On
   x86-64 Linux each row function is built for AVX-512, AVX2 and plain x86-64 and
   the CPU picks one at load time: all three do the same operations in the same
   order (no FMA), so every CPU gets the same bits. */
#if defined(__x86_64__) && defined(__GLIBC__) && (defined(__GNUC__) || defined(__clang__))
#define CYMLP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CYMLP_CLONES
#endif
#ifdef _MSC_VER
#define CYMLP_INLINE __inline
#else
#define CYMLP_INLINE inline
#endif

static CYMLP_INLINE double cymlp_exp_neg_d(double x) {
    const double shift = 6755399441055744.0;   /* 1.5 2^52: x + shift rounds x to an integer */
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double kd, n, r, p, scale;
    uint64_t bits;
    const double lo = -708.3964185322641;      /* ln(DBL_MIN): e^x is not normal below */
    double x0 = x;
    x = x < lo ? lo : x;                       /* (NaN stays NaN) */
    kd = x * 1.44269504088896338700 + shift;   /* n = round(x / ln2) */
    n = kd - shift;
    r = (x - n * ln2_hi) - n * ln2_lo;
    p = 1.0 / 6227020800.0;                    /* Taylor to r^13 / 13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    memcpy(&bits, &kd, 8);                     /* n in the low bits of kd */
    bits = (bits + 1023) << 52;
    memcpy(&scale, &bits, 8);                  /* 2^n */
    return x0 < lo ? 0.0 : p * scale;
}

static CYMLP_INLINE float cymlp_exp_neg_f(float x) {
    const float shift = 12582912.0f;           /* 1.5 2^23 */
    const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    float kd, n, r, p, scale;
    uint32_t bits;
    const float lo = -87.33654f;               /* ln(FLT_MIN) */
    float x0 = x;
    x = x < lo ? lo : x;
    kd = x * 1.44269504088896341f + shift;
    n = kd - shift;
    r = (x - n * ln2_hi) - n * ln2_lo;
    p = 1.9875691500e-4f;                      /* Cephes' expf polynomial */
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = (p * r) * r + r + 1.0f;
    memcpy(&bits, &kd, 4);
    bits = (bits + 127) << 23;
    memcpy(&scale, &bits, 4);
    return x0 < lo ? 0.0f : p * scale;
}

/* A[i, :] = 1 / (1 + e^-(Z[i, :] + b)) for rows i < m of n units; Z gets the sums if
   it is not A. e^-|z| never overflows, and e / (1 + e) is the value for z < 0. */
CYMLP_CLONES static void cymlp_sigmoid_rows_d(double *Z, double *A, const double *b,
                                              int m, int n) {
    for (int i = 0; i < m; i++) {
        double *z = Z + (size_t)i * n, *a = A + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            double v = z[j] + b[j];
            double e = cymlp_exp_neg_d(-fabs(v)), s = 1.0 / (1.0 + e), es = e * s;
            if (Z != A) z[j] = v;
            a[j] = v >= 0 ? s : es;
        }
    }
}

CYMLP_CLONES static void cymlp_sigmoid_rows_f(float *Z, float *A, const float *b,
                                              int m, int n) {
    for (int i = 0; i < m; i++) {
        float *z = Z + (size_t)i * n, *a = A + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            float v = z[j] + b[j];
            float e = cymlp_exp_neg_f(-fabsf(v)), s = 1.0f / (1.0f + e), es = e * s;
            if (Z != A) z[j] = v;
            a[j] = v >= 0 ? s : es;
        }
    }
}

#endif /* CYMLP_SIGMOID_H */
