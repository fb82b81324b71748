/* sys: clocks, threads and memory, for timing from scripts and the REPL
 * (Torch7's names: sys.clock, sys.threads). */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "lcheck.h"
#include "gemm.h"
#include "team.h"

static int sys_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + ts.tv_nsec * 1e-9);
    return 1;
}

static int sys_time(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + ts.tv_nsec * 1e-9);
    return 1;
}

static int sys_threads(lua_State *L) { lua_pushinteger(L, ol_threads_get()); return 1; }

static int sys_set_threads(lua_State *L)
{
    lua_Integer n = ol_checkrange(L, 1, 1, 1024, "set_threads", "thread count");
    ol_threads_set((int)n);
    return 0;
}

/* Resident set size now and at its peak, in bytes. */
static int sys_rss(lua_State *L)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    lua_pushinteger(L, (lua_Integer)rss * sysconf(_SC_PAGESIZE));
    return 1;
}

static int sys_peak_rss(lua_State *L)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    lua_pushinteger(L, (lua_Integer)ru.ru_maxrss * 1024);
    return 1;
}

static int sys_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_optinteger(L, 1, 1)));
    return 1;
}

/* sys.set_flush_denormal(on): PyTorch's torch.set_flush_denormal. Off by default (IEEE). */
static int sys_set_flush_denormal(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TBOOLEAN)
        ol_error(L, "set_flush_denormal: expected true or false, got %s", luaL_typename(L, 1));
    lua_pushboolean(L, ol_flush_denormal_set(lua_toboolean(L, 1)));
    return 1;
}

static int sys_blis_version(lua_State *L) { lua_pushstring(L, ol_blis_version()); return 1; }
static int sys_blis_arch(lua_State *L) { lua_pushstring(L, ol_blis_arch()); return 1; }

static const luaL_Reg sys_funcs[] = {
    {"clock", sys_clock}, {"time", sys_time}, {"threads", sys_threads}, {"set_threads", sys_set_threads},
    {"rss", sys_rss}, {"peak_rss", sys_peak_rss}, {"isatty", sys_isatty}, {"blis_version", sys_blis_version},
    {"blis_arch", sys_blis_arch}, {"set_flush_denormal", sys_set_flush_denormal},
    {NULL, NULL}
};

void ol_open_sys(lua_State *L)
{
    lua_newtable(L);
    luaL_setfuncs(L, sys_funcs, 0);
    lua_setfield(L, -2, "sys");
}
