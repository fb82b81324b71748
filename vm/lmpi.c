/* MPI, as the core sub-table C.mpi: the messages a cluster job needs (a
 * work queue of runs, stdlib/experiment/mpi.lua; gathering gradients for
 * data-parallel training), on Open MPI.
 *
 * optlab is always linked with MPI but initializes it only when a launcher
 * started it (ol_mpi_start, from main): mpirun sets OMPI_COMM_WORLD_SIZE,
 * srun and other PMIx launchers PMIX_RANK, older PMI launchers PMI_RANK. A
 * plain `optlab x.lua` never touches MPI, so the REPL, the tests and the
 * sanitizer build behave as without it; there C.mpi says rank 0 of 1, and
 * the collectives (barrier, allgather) work on that one process.
 *
 * Messages are Lua strings (serial.encode's text, raw float bytes): any
 * size, received by probe + get_count. MPI is called from the main thread
 * only (MPI_THREAD_FUNNELED: the kernels' OpenMP threads never call it).
 * Errors in MPI itself keep MPI's default handler, which aborts the whole
 * job: a rank that cannot talk must not leave the others waiting. */
#include <mpi.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "host.h"
#include "lcheck.h"

static int active;       /* MPI_Init ran and MPI_Finalize has not */
static int world_rank, world_size = 1;
/* 0: this rank ends normally and finalizes; else the code it aborts the job
 * with. Until main or os.exit says otherwise, an exit is abnormal (exit()
 * from a library, a crash in between). */
static int exit_code = 1;

static const char *const LAUNCHER_VARS[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK" };

static int launched(void)
{
    for (size_t i = 0; i < sizeof LAUNCHER_VARS / sizeof LAUNCHER_VARS[0]; i++)
        if (getenv(LAUNCHER_VARS[i])) return 1;
    return 0;
}

static void finalize(void)
{
    if (!active) return;
    active = 0;
    MPI_Finalize();
}

/* At exit (main's return or os.exit): a rank that ends normally finalizes
 * (main: the script ran to its end, whatever status it set; os.exit(0)); one
 * that ends on an error (a Lua error, os.exit(n) with n > 0 in the middle of
 * a job) aborts the job, because its peers may be waiting for a message it
 * will never send, and MPI_Finalize could wait for them in turn. */
static void at_exit(void)
{
    if (!active) return;
    if (exit_code == 0) finalize();
    else {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, exit_code);
    }
}

void ol_mpi_set_exit(int code) { exit_code = code; }
int ol_mpi_active(void) { return active; }

static void init_failed(const char *why)
{
    fprintf(stderr, "optlab: started by an MPI launcher (mpirun or srun), but %s\n"
                    "optlab: the launcher must be Open MPI's (optlab is linked with Debian's Open MPI: "
                    "openmpi-bin's mpirun, or srun with PMIx), with the job's environment intact\n", why);
}

int ol_mpi_start(int *argc, char ***argv)
{
    if (!launched()) return 0;
    /* the job's size as the launcher says it, to check that MPI agrees */
    const char *said = getenv("OMPI_COMM_WORLD_SIZE");
    if (!said) said = getenv("PMI_SIZE");
    long said_size = said ? strtol(said, NULL, 10) : 0;
    int provided = 0;
    /* Open MPI's own errors in MPI_Init end the process with its message;
     * an error it returns gets optlab's */
    int err = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (err != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING + 32] = "MPI_Init failed: ";
        int len = 0;
        MPI_Error_string(err, msg + strlen(msg), &len);
        init_failed(msg);
        return 1;
    }
    active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    if (said_size > 0 && said_size != world_size) {
        /* another MPI's launcher: each process would be a job of its own and
         * run every run, each into a folder of its own */
        char msg[160];
        snprintf(msg, sizeof msg, "it says the job has %ld ranks where MPI sees %d", said_size, world_size);
        init_failed(msg);
        MPI_Finalize();
        active = 0;
        return 1;
    }
    /* Processes this rank starts (--jobs workers, sha256sum, gnuplot) are not
     * ranks: without these they would try to join the job. */
    for (size_t i = 0; i < sizeof LAUNCHER_VARS / sizeof LAUNCHER_VARS[0]; i++) unsetenv(LAUNCHER_VARS[i]);
    atexit(at_exit);
    return 0;
}

/* ---- Lua ---------------------------------------------------------------- */

static void need_active(lua_State *L, const char *op)
{
    if (!active)
        ol_error(L, "mpi.%s: optlab was not started by an MPI launcher (mpirun or srun), so there are no other ranks", op);
}

/* A tag: 0..32767, the least MPI_TAG_UB the standard allows. */
#define TAG_MAX 32767

static int l_active(lua_State *L) { lua_pushboolean(L, active); return 1; }
static int l_rank(lua_State *L) { lua_pushinteger(L, world_rank); return 1; }
static int l_size(lua_State *L) { lua_pushinteger(L, world_size); return 1; }

/* The name MPI knows this host by (the manifest records it per run);
 * gethostname's outside a job. */
static int l_hostname(lua_State *L)
{
    char name[MPI_MAX_PROCESSOR_NAME + 1] = "";
    int len = 0;
    if (active) MPI_Get_processor_name(name, &len);
    else if (gethostname(name, sizeof name - 1) == 0) len = (int)strlen(name);
    lua_pushlstring(L, name, (size_t)len);
    return 1;
}

/* send(bytes, dest, tag): blocking (returns when the buffer may be reused). */
static int l_send(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    need_active(L, "send");
    lua_Integer dest = ol_checkrange(L, 2, 0, world_size - 1, "mpi.send", "destination rank");
    lua_Integer tag = ol_checkrange(L, 3, 0, TAG_MAX, "mpi.send", "tag");
    if (n > INT_MAX) ol_error(L, "mpi.send: a message of %zu bytes is over MPI's limit of %d", n, INT_MAX);
    MPI_Send(s, (int)n, MPI_BYTE, (int)dest, (int)tag, MPI_COMM_WORLD);
    return 0;
}

/* Arguments 1 and 2 of recv and iprobe: a source rank and a tag, each any when nil. */
static void opt_source_tag(lua_State *L, const char *fn, int *src, int *tag)
{
    *src = lua_isnoneornil(L, 1) ? MPI_ANY_SOURCE : (int)ol_checkrange(L, 1, 0, world_size - 1, fn, "source rank");
    *tag = lua_isnoneornil(L, 2) ? MPI_ANY_TAG : (int)ol_checkrange(L, 2, 0, TAG_MAX, fn, "tag");
}

/* recv([source[, tag]]) -> bytes, source, tag: waits for the next message
 * from source (any when nil) with tag (any when nil), whatever its size. */
static int l_recv(lua_State *L)
{
    need_active(L, "recv");
    int src, tag;
    opt_source_tag(L, "mpi.recv", &src, &tag);
    /* Open MPI's blocking probe spins on its core while it waits; a rank
     * waiting for the next run (or rank 0 for the last records) would take
     * that core from the ranks still computing on the same host. So look,
     * then sleep, from 50 us doubling to 2 ms: the messages here are few
     * (one per run) and a millisecond of latency is nothing beside a run. */
    MPI_Status st;
    int flag = 0;
    long nap = 50000;
    for (;;) {
        MPI_Iprobe(src, tag, MPI_COMM_WORLD, &flag, &st);
        if (flag) break;
        struct timespec ts = { 0, nap };
        nanosleep(&ts, NULL);
        if (nap < 2000000) nap *= 2;
    }
    int n = 0;
    MPI_Get_count(&st, MPI_BYTE, &n);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, (size_t)n);
    MPI_Recv(p, n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    luaL_pushresultsize(&b, (size_t)n);
    lua_pushinteger(L, st.MPI_SOURCE);
    lua_pushinteger(L, st.MPI_TAG);
    return 3;
}

/* iprobe([source[, tag]]) -> source, tag, bytes of the next message, or
 * nil when none is there yet: a coordinator that computes too polls with it. */
static int l_iprobe(lua_State *L)
{
    need_active(L, "iprobe");
    int src, tag;
    opt_source_tag(L, "mpi.iprobe", &src, &tag);
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(src, tag, MPI_COMM_WORLD, &flag, &st);
    if (!flag) { lua_pushnil(L); return 1; }
    int n = 0;
    MPI_Get_count(&st, MPI_BYTE, &n);
    lua_pushinteger(L, st.MPI_SOURCE);
    lua_pushinteger(L, st.MPI_TAG);
    lua_pushinteger(L, n);
    return 3;
}

static int l_barrier(lua_State *L)
{
    if (active) MPI_Barrier(MPI_COMM_WORLD);
    return 0;
}

void ol_gather_free(ol_gather *g)
{
    free(g->all);
    free(g->counts);
    memset(g, 0, sizeof *g);
}

void ol_mpi_allgather(lua_State *L, const void *mine, size_t n, ol_gather *g)
{
    if (n > INT_MAX) ol_error(L, "mpi.allgather: a message of %zu bytes is over MPI's limit of %d", n, INT_MAX);
    int size = active ? world_size : 1;
    if (g->ranks != size) {
        int *c = realloc(g->counts, 2 * (size_t)size * sizeof *c);
        if (!c) ol_error(L, "mpi.allgather: out of memory");
        g->counts = c;
        g->displs = c + size;
        g->ranks = size;
    }
    if (active) MPI_Allgather(&(int){ (int)n }, 1, MPI_INT, g->counts, 1, MPI_INT, MPI_COMM_WORLD);
    else g->counts[0] = (int)n;
    size_t total = 0;
    for (int r = 0; r < size; r++) {
        g->displs[r] = (int)total;
        total += (size_t)g->counts[r];
    }
    /* every rank computes the same total, so all raise together or none does */
    if (total > INT_MAX) ol_error(L, "mpi.allgather: %zu bytes in all is over MPI's limit of %d", total, INT_MAX);
    if (total > g->cap || !g->all) {
        unsigned char *a = realloc(g->all, total ? total : 1);
        if (!a) ol_error(L, "mpi.allgather: out of memory for %zu bytes", total);
        g->all = a;
        g->cap = total ? total : 1;
    }
    if (active) MPI_Allgatherv(mine, (int)n, MPI_BYTE, g->all, g->counts, g->displs, MPI_BYTE, MPI_COMM_WORLD);
    else if (n) memcpy(g->all, mine, n);
}

static int gather_gc(lua_State *L)
{
    ol_gather_free(lua_touserdata(L, 1));
    return 0;
}

/* allgather(bytes) -> {bytes of rank 0, bytes of rank 1, ...}: every rank
 * gets every rank's string, in rank order (MPI_Allgatherv; sizes may differ).
 * For messages of a few bytes: each call allocates its buffers afresh. */
static int l_allgather(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    ol_gather *g = lua_newuserdatauv(L, sizeof *g, 0);
    memset(g, 0, sizeof *g);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, gather_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    ol_mpi_allgather(L, s, n, g);
    lua_createtable(L, g->ranks, 0);
    for (int r = 0; r < g->ranks; r++) {
        lua_pushlstring(L, (const char *)g->all + g->displs[r], (size_t)g->counts[r]);
        lua_rawseti(L, -2, r + 1);
    }
    ol_gather_free(g);
    return 1;
}

/* abort(code): ends every rank of the job (outside a job, this process). */
static int l_abort(lua_State *L)
{
    lua_Integer code = ol_optrange(L, 1, 1, 0, 255, "mpi.abort", "exit code");
    fflush(stdout);
    fflush(stderr);
    if (active) MPI_Abort(MPI_COMM_WORLD, (int)code);
    exit((int)code);
}

/* finalize(): this rank is done with MPI (collective: every rank calls it);
 * afterwards active() is false. Idempotent. */
static int l_finalize(lua_State *L)
{
    finalize();
    return 0;
}

static const luaL_Reg funcs[] = {
    {"active", l_active},
    {"rank", l_rank},
    {"size", l_size},
    {"hostname", l_hostname},
    {"send", l_send},
    {"recv", l_recv},
    {"iprobe", l_iprobe},
    {"barrier", l_barrier},
    {"allgather", l_allgather},
    {"abort", l_abort},
    {"finalize", l_finalize},
    {NULL, NULL},
};

/* os.exit under a launcher: notes the status for at_exit, then exits as before. */
static int l_os_exit(lua_State *L)
{
    if (lua_isboolean(L, 1)) exit_code = lua_toboolean(L, 1) ? 0 : 1;
    else exit_code = (int)luaL_optinteger(L, 1, 0);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 0);
    return 0;
}

void ol_open_mpi(lua_State *L)
{
    ol_module(L, "mpi", funcs);
    if (!active) return;
    lua_getglobal(L, "os");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "exit");
        lua_pushcclosure(L, l_os_exit, 1);
        lua_setfield(L, -2, "exit");
    }
    lua_pop(L, 1);
}
