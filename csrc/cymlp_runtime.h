/* cymlp's C runtime: the pieces of the training core that are plain C.
 *
 *   cymlp_barrier      a spin barrier for the threads that share each batch
 *   cymlp_pin_to       CPU placement of a training thread (Linux), saved in a
 *   cymlp_unpin        cymlp_affinity and given back
 *   cymlp_prefetch     ask for cache lines ahead of use
 *   cymlp_openmp       whether the core was built with OpenMP
 *   cymlp_agree_team_size  the threads a parallel region really has
 *
 * Included by the Cython core (csrc/_core.pyx.tp); every function is static. */
#ifndef CYMLP_RUNTIME_H
#define CYMLP_RUNTIME_H

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#if defined(__GNUC__) || defined(__clang__)
#include <sched.h>
#endif
#ifdef __linux__
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <stddef.h>

static int cymlp_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* Called by every thread of a parallel region: *n_threads becomes the number of threads
   the region has, seen by all of them on return (the single construct's barrier). OpenMP
   may start fewer than num_threads asks (OMP_THREAD_LIMIT, OMP_DYNAMIC), and the core's
   barriers must wait for those only. */
static void cymlp_agree_team_size(int *n_threads) {
#ifdef _OPENMP
    #pragma omp single
    *n_threads = omp_get_num_threads();
#else
    (void)n_threads;
#endif
}

/* ---- CPU placement ------------------------------------------------------ */

/* A thread's affinity before it was pinned, to be restored after training. */
typedef struct {
#ifdef __linux__
    cpu_set_t mask;
#endif
    int pinned;
} cymlp_affinity;

/* Pin the calling thread to CPU `cpu` (an id the process may run on), saving its
   old affinity in *saved (Linux only; elsewhere, or for cpu < 0, nothing happens).
   The threads of a training spin at barriers: two of them on one CPU would wait
   for each other's time slices. Which CPU each thread gets is decided in Python
   (cymlp._threads), so that trainings running side by side get different CPUs. */
static void cymlp_pin_to(int cpu, cymlp_affinity *saved) {
    saved->pinned = 0;
#ifdef __linux__
    cpu_set_t one;
    if (cpu < 0 || cpu >= CPU_SETSIZE) return;
    if (sched_getaffinity(0, sizeof(cpu_set_t), &saved->mask) != 0) return;
    if (!CPU_ISSET(cpu, &saved->mask)) return;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    saved->pinned = sched_setaffinity(0, sizeof(cpu_set_t), &one) == 0;
#else
    (void)cpu;
#endif
}

static void cymlp_unpin(cymlp_affinity *saved) {
#ifdef __linux__
    if (saved->pinned) sched_setaffinity(0, sizeof(cpu_set_t), &saved->mask);
#endif
    saved->pinned = 0;
}

/* ---- barrier -------------------------------------------------------------- */

/* A sense-reversing spin barrier for the n threads of one parallel region. Between
   two barriers there are only microseconds of work, and OpenMP's own barrier may
   put a waiting thread to sleep at once, which costs far more. A thread that waits
   long (its partner was descheduled: more runnable threads than cores) sleeps on a
   futex (Linux; elsewhere it yields), so it does not burn the CPU the others need. */
typedef struct { int count; int sense; int sleepers; } cymlp_spin_barrier;

#define CYMLP_SPINS_BEFORE_SLEEP 2000

static void cymlp_barrier(cymlp_spin_barrier *b, int n, int *sense) {
    if (n < 2) return;
#if defined(__GNUC__) || defined(__clang__)
    *sense = !*sense;
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == n) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        /* (sequentially consistent with the sleepers' count: a thread that counted
           itself before this store is woken; one that did after sees the new sense) */
        __atomic_store_n(&b->sense, *sense, __ATOMIC_SEQ_CST);
#ifdef __linux__
        if (__atomic_load_n(&b->sleepers, __ATOMIC_SEQ_CST) > 0)
            syscall(SYS_futex, &b->sense, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#endif
    } else {
        long spins = 0;
        while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != *sense) {
            if (++spins < CYMLP_SPINS_BEFORE_SLEEP) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#elif defined(__aarch64__)
                __asm__ __volatile__("yield");
#endif
            } else {
#ifdef __linux__
                __atomic_add_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
                /* sleeps only while the sense is still the old one */
                syscall(SYS_futex, &b->sense, FUTEX_WAIT_PRIVATE, !*sense, NULL, NULL, 0);
                __atomic_sub_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
#else
                sched_yield();
#endif
            }
        }
    }
#elif defined(_OPENMP)
    (void)b; (void)sense;
    #pragma omp barrier
#endif
}

/* ---- prefetch ------------------------------------------------------------ */

/* Ask for the cache lines of [p, p + bytes) ahead of use (no-op on other compilers). */
static void cymlp_prefetch(const void *p, size_t bytes) {
#if defined(__GNUC__) || defined(__clang__)
    const char *c = (const char *)p;
    for (size_t i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 1);
#else
    (void)p; (void)bytes;
#endif
}

#endif /* CYMLP_RUNTIME_H */
