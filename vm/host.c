#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "host.h"
#include "tensor.h"
#include "gemm.h"

#ifndef OPTLAB_STDLIB
#define OPTLAB_STDLIB "/usr/local/share/optlab/stdlib"
#endif

static char stdlib_dir[PATH_MAX];

static int has_stdlib(const char *dir)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/optlab_init.lua", dir);
    return access(p, R_OK) == 0;
}

/* The standard library: $OPTLAB_STDLIB, else in the build tree above the
 * binary (build/../stdlib), else the installed prefix. */
static int find_stdlib(const char *exe_dir)
{
    char cand[8][PATH_MAX];
    int n = 0;
    const char *env = getenv("OPTLAB_STDLIB");
    if (env && *env) snprintf(cand[n++], PATH_MAX, "%s", env);
    if (exe_dir && *exe_dir) { /* build/optlab, build/san/optlab */
        snprintf(cand[n++], PATH_MAX, "%s/stdlib", exe_dir);
        snprintf(cand[n++], PATH_MAX, "%s/../stdlib", exe_dir);
        snprintf(cand[n++], PATH_MAX, "%s/../../stdlib", exe_dir);
        snprintf(cand[n++], PATH_MAX, "%s/../share/optlab/stdlib", exe_dir); /* PREFIX/bin/optlab */
        snprintf(cand[n++], PATH_MAX, "%s/../../../share/optlab/stdlib", exe_dir); /* PREFIX/lib/lua/5.4/optlab.so */
    }
    snprintf(cand[n++], PATH_MAX, "%s", OPTLAB_STDLIB);
    for (int i = 0; i < n; i++) {
        char *real = realpath(cand[i], NULL);
        if (real && has_stdlib(real)) {
            snprintf(stdlib_dir, sizeof stdlib_dir, "%s", real);
            free(real);
            return 0;
        }
        free(real);
    }
    return 1;
}

int ol_host_setup(lua_State *L, const char *exe_dir)
{
    ol_blis_choose_arch(); /* before anything calls BLIS */
    if (find_stdlib(exe_dir)) {
        lua_pushfstring(L, "optlab: cannot find the standard library (stdlib/optlab_init.lua) "
                           "next to %s or in %s; set OPTLAB_STDLIB", exe_dir ? exe_dir : "?", OPTLAB_STDLIB);
        return 1;
    }
    ol_set_stdlib_dir(stdlib_dir);
    /* package.path = stdlib/?.lua;<old> and package.preload["optlab.core"] */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s", stdlib_dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 1);
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_optlab_core);
    lua_setfield(L, -2, "optlab.core");
    lua_pop(L, 2);
    /* Threads: OPTLAB_THREADS, else all cores; --threads overrides later. */
    const char *env = getenv("OPTLAB_THREADS");
    long threads = 0;
    if (env) {   /* the bounds of --threads (vm/main.c); atoi took "x" for 0 and "1e9" for 1 */
        char *end;
        threads = strtol(env, &end, 10);
        if (end == env || *end || threads < 1 || threads > 1024) {
            lua_pushfstring(L, "optlab: OPTLAB_THREADS needs a number from 1 to 1024, got '%s'", env);
            return 1;
        }
    }
    /* Under mpirun or srun, the slot's threads when the job says
     * (OMP_NUM_THREADS, e.g. mpirun -x OMP_NUM_THREADS=4 or a Slurm script's
     * export of $SLURM_CPUS_PER_TASK); else the cores this rank is bound to,
     * which omp_get_num_procs counts. */
    const char *omp = getenv("OMP_NUM_THREADS");
    if (!threads && omp && ol_mpi_active()) {
        long n = strtol(omp, NULL, 10);
        if (n >= 1 && n <= 1024) threads = n;
    }
    ol_threads_set(threads > 0 ? (int)threads : omp_get_num_procs());
    return 0;
}
