/* The team (kernels/team.h): every item runs exactly once, whatever the thread
 * count, the item count or the nesting; results do not depend on the cut. */
#include <criterion/criterion.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "team.h"

typedef struct {
    _Atomic int *hits;
    int64_t n;
    _Atomic int ranges;
    _Atomic int bad;
} Count;

static void count_items(void *ctx, int64_t lo, int64_t hi)
{
    Count *c = ctx;
    if (lo < 0 || hi > c->n || lo >= hi) atomic_store(&c->bad, 1);
    atomic_fetch_add(&c->ranges, 1);
    for (int64_t i = lo; i < hi && i < c->n; i++) atomic_fetch_add(&c->hits[i], 1);
}

static void check_once(int64_t n, int threads)
{
    omp_set_num_threads(threads);
    Count c = { calloc((size_t)n, sizeof(_Atomic int)), n, 0, 0 };
    cr_assert_not_null(c.hits);
    ol_team_for(n, count_items, &c);
    cr_assert_eq(atomic_load(&c.bad), 0, "n=%lld: a range outside [0, n)", (long long)n);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&c.hits[i]), 1, "n=%lld threads=%d: item %lld ran %d times",
                     (long long)n, threads, (long long)i, atomic_load(&c.hits[i]));
    if (threads == 1)
        cr_assert_eq(atomic_load(&c.ranges), 1, "one thread makes one call for the whole range");
    free(c.hits);
}

Test(team, every_item_once)
{
    const int64_t sizes[] = { 1, 2, 3, 7, 16, 100, 1000, 65537 };
    for (int t = 1; t <= 4; t++)
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
            for (int rep = 0; rep < 20; rep++) check_once(sizes[k], t);
}

Test(team, more_items_than_the_claim_word_holds)
{
    check_once(OL_TEAM_MAX_ITEMS * 3 + 5, 2);
    check_once(OL_TEAM_MAX_ITEMS * 3 + 5, 1);
}

/* A range that itself calls the team runs its inner loop inline. */
static void nested(void *ctx, int64_t lo, int64_t hi)
{
    Count *c = ctx;
    for (int64_t i = lo; i < hi; i++) {
        Count inner = { c->hits + i * 10, 10, 0, 0 };
        ol_team_for(10, count_items, &inner);
        if (atomic_load(&inner.ranges) != 1) atomic_store(&c->bad, 1);
    }
}

Test(team, nested_calls_run_inline)
{
    omp_set_num_threads(2);
    Count c = { calloc(640, sizeof(_Atomic int)), 64, 0, 0 };
    ol_team_for(64, nested, &c);
    cr_assert_eq(atomic_load(&c.bad), 0, "an inner call was split");
    for (int i = 0; i < 640; i++) cr_assert_eq(atomic_load(&c.hits[i]), 1, "item %d", i);
    free(c.hits);
}

Test(team, inside_an_openmp_region)
{
    omp_set_num_threads(2);
    _Atomic int fails = 0;
    #pragma omp parallel num_threads(2)
    {
        Count c = { calloc(100, sizeof(_Atomic int)), 100, 0, 0 };
        ol_team_for(100, count_items, &c);
        for (int i = 0; i < 100; i++)
            if (atomic_load(&c.hits[i]) != 1) atomic_store(&fails, 1);
        free(c.hits);
    }
    cr_assert_eq(atomic_load(&fails), 0);
}

/* Two host threads at once: the second runs inline instead of joining the first's job. */
static void *caller(void *arg)
{
    (void)arg;
    for (int rep = 0; rep < 200; rep++) {
        Count c = { calloc(500, sizeof(_Atomic int)), 500, 0, 0 };
        ol_team_for(500, count_items, &c);
        for (int i = 0; i < 500; i++)
            if (atomic_load(&c.hits[i]) != 1) { free(c.hits); return (void *)1; }
        free(c.hits);
    }
    return NULL;
}

Test(team, concurrent_callers)
{
    omp_set_num_threads(2);
    pthread_t a, b;
    void *ra, *rb;
    pthread_create(&a, NULL, caller, NULL);
    pthread_create(&b, NULL, caller, NULL);
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    cr_assert(ra == NULL && rb == NULL, "an item ran twice or never");
}

/* A child forked after the team started gets a team of its own. */
Test(team, after_fork)
{
    check_once(1000, 2);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        omp_set_num_threads(2);
        Count c = { calloc(1000, sizeof(_Atomic int)), 1000, 0, 0 };
        ol_team_for(1000, count_items, &c);
        for (int i = 0; i < 1000; i++)
            if (atomic_load(&c.hits[i]) != 1) _exit(1);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's loop went wrong");
}
