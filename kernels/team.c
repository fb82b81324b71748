/* The team of team.h: a claim word, a done count and parked workers.
 *
 * One 64-bit word holds the job's generation, its item count n and the next
 * unclaimed item; a thread claims [next, next + size) with one compare-and-
 * swap. A successful claim pins the job: the caller cannot publish the next
 * one before the done count reaches n, which needs this claim finished, so
 * fn and ctx read after the claim are still this job's. */

#include "team.h"
#include <linux/futex.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define OL_HAS_FTZ 1
#endif

#define MAX_WORKERS 63

#define N_BITS 20 /* OL_TEAM_MAX_ITEMS fits */
#define ITEM_MASK (((uint64_t)1 << N_BITS) - 1)
#define PACK(gen, n, next) (((uint64_t)(gen) << (2 * N_BITS)) | ((uint64_t)(n) << N_BITS) | (uint64_t)(next))
#define W_N(w) (((w) >> N_BITS) & ITEM_MASK)
#define W_NEXT(w) ((w) & ITEM_MASK)
#define W_GEN(w) ((w) >> (2 * N_BITS))

static _Atomic uint64_t word;    /* generation | n | next */
static _Atomic int64_t done;     /* items finished in the current job */
static _Atomic uint32_t seq;     /* bumped per job; workers sleep on it */
static _Atomic int sleepers;     /* workers in futex_wait */
static _Atomic int active;       /* workers that may claim: threads - 1 */
static _Atomic int busy;         /* a job is running: nested and concurrent calls go inline */
static ol_range_fn job_fn;
static void *job_ctx;
static int nworkers;             /* started; touched by the calling thread only */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static _Atomic int ftz_on, ftz_gen; /* the denormal mode, and how often it was set */

/* FTZ (results) and DAZ (inputs) bits of this thread's MXCSR */
static void apply_ftz(int on)
{
#ifdef OL_HAS_FTZ
    unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? csr | 0x8040u : csr & ~0x8040u);
#else
    (void)on;
#endif
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims ranges of the current job until none is left; returns items run. */
static int64_t work(int threads)
{
    int64_t ran = 0;
    for (;;) {
        uint64_t w = atomic_load(&word);
        uint64_t n = W_N(w), next = W_NEXT(w);
        if (next >= n) return ran;
        /* guided: big ranges first (few calls), small ones at the end (balance) */
        uint64_t size = (n - next) / (2 * (uint64_t)threads);
        if (size < 1) size = 1;
        if (!atomic_compare_exchange_weak(&word, &w, w + size)) continue;
        job_fn(job_ctx, (int64_t)next, (int64_t)(next + size));
        atomic_fetch_add(&done, (int64_t)size);
        ran += (int64_t)size;
    }
}

/* A worker sleeps as soon as it finds nothing to take. Spinning first (20 us, 1 ms) bought
 * nothing on an idle machine, where the caller starts without it anyway, and cost 8-33% of a
 * 2-thread step when another process held a core (bench/optlab_cnn.lua, 2-core EPYC). */
static void *worker_main(void *arg)
{
    int index = (int)(intptr_t)arg, my_ftz_gen = atomic_load(&ftz_gen);
    uint32_t seen = atomic_load(&seq);
    for (;;) {
        while (atomic_load(&seq) == seen) {
            atomic_fetch_add(&sleepers, 1);
            if (atomic_load(&seq) == seen)
                syscall(SYS_futex, &seq, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
            atomic_fetch_sub(&sleepers, 1);
        }
        seen = atomic_load(&seq);
        if (atomic_load(&ftz_gen) != my_ftz_gen) {
            my_ftz_gen = atomic_load(&ftz_gen);
            apply_ftz(atomic_load(&ftz_on));
        }
        int threads = atomic_load(&active) + 1;
        if (index < threads - 1) work(threads);
    }
    return NULL;
}

/* A forked child has none of the parent's workers: it starts its own. */
static void after_fork_child(void)
{
    nworkers = 0;
    atomic_store(&sleepers, 0);
    atomic_store(&busy, 0);
}

static void install_atfork(void) { pthread_atfork(NULL, NULL, after_fork_child); }

static void start_workers(int want)
{
    pthread_once(&atfork_once, install_atfork);
    while (nworkers < want && nworkers < MAX_WORKERS) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)nworkers);
        pthread_attr_destroy(&attr);
        if (rc != 0) break; /* fewer helpers, same results */
        nworkers++;
    }
}

/* More items than the claim word holds: claims of whole blocks of items. */
typedef struct { ol_range_fn fn; void *ctx; int64_t n, per; } Blocks;

static void block_range(void *ctx, int64_t lo, int64_t hi)
{
    const Blocks *b = ctx;
    b->fn(b->ctx, lo * b->per, hi * b->per < b->n ? hi * b->per : b->n);
}

void ol_team_for(int64_t n, ol_range_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (n > OL_TEAM_MAX_ITEMS) {
        Blocks b = { fn, ctx, n, (n + OL_TEAM_MAX_ITEMS - 1) / OL_TEAM_MAX_ITEMS };
        ol_team_for((n + b.per - 1) / b.per, block_range, &b);
        return;
    }
    int threads = omp_get_max_threads();
    if (threads > MAX_WORKERS + 1) threads = MAX_WORKERS + 1;
    if (threads < 2 || n < 2 || omp_in_parallel() ||
        atomic_exchange(&busy, 1)) {
        fn(ctx, 0, n);
        return;
    }
    start_workers(threads - 1);
    if (nworkers == 0) {
        atomic_store(&busy, 0);
        fn(ctx, 0, n);
        return;
    }
    if (threads > nworkers + 1) threads = nworkers + 1;
    job_fn = fn;
    job_ctx = ctx;
    atomic_store(&active, threads - 1);
    atomic_store(&done, 0);
    uint64_t gen = W_GEN(atomic_load(&word)) + 1;
    atomic_store(&word, PACK(gen & (((uint64_t)1 << 24) - 1), n, 0));
    atomic_fetch_add(&seq, 1);
    if (atomic_load(&sleepers) > 0)
        syscall(SYS_futex, &seq, FUTEX_WAKE_PRIVATE, MAX_WORKERS, NULL, NULL, 0);
    work(threads);
    /* only ranges a worker has claimed are left: wait for them */
    for (int spins = 0; atomic_load(&done) < n; spins++) {
        if (spins < 4096) cpu_relax();
        else sched_yield(); /* its thread was preempted: give it the core */
    }
    atomic_store(&busy, 0);
}

int ol_flush_denormal_set(int on)
{
#ifdef OL_HAS_FTZ
    atomic_store(&ftz_on, on != 0);
    atomic_fetch_add(&ftz_gen, 1); /* the team's workers apply it before their next range */
    apply_ftz(on);
    #pragma omp parallel
    apply_ftz(on);
    return 1;
#else
    (void)on;
    return 0;
#endif
}
