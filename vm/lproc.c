/* Processes, for experiment.lua: the working directory as the kernel knows
 * it, worker processes for --jobs (started and waited for here, not through
 * a shell, so the parent sees each worker's fate and Ctrl-C cannot kill a
 * shell between them; wait_any for the scheduler), and the exit status a
 * script asks for. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "host.h"
#include "lcheck.h"

extern char **environ;

/* $PWD is whatever the launcher left there; getcwd() is where we are. */
static int sys_getcwd(lua_State *L)
{
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf)) ol_error(L, "getcwd: %s", strerror(errno));
    lua_pushstring(L, buf);
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* sys.listdir(path) -> the names in a directory, sorted bytewise (so the
 * same order on every machine), without "." and "..". */
static int sys_listdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (!d) ol_error(L, "listdir: %s: %s", path, strerror(errno));
    lua_newtable(L);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        lua_pushstring(L, e->d_name);
        lua_rawseti(L, -2, ++n);
    }
    closedir(d);
    /* sort through a C array of the interned strings (they stay anchored in the table) */
    const char **names = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *names, 0);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, -2, i + 1);
        names[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* sys.spawn{exe, arg1, ...} -> pid. The child inherits stdout, stderr,
 * the environment and the process group (so Ctrl-C reaches it too). */
static int sys_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    if (n < 1 || n > 4096) ol_error(L, "spawn: expected a list of 1 to 4096 strings (program, arguments)");
    const char **argv = lua_newuserdata(L, (size_t)(n + 1) * sizeof *argv);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (lua_type(L, -1) != LUA_TSTRING) ol_error(L, "spawn: argument %d is not a string", (int)i);
        argv[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1); /* the table keeps the string alive */
    }
    argv[n] = NULL;
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], NULL, NULL, (char *const *)argv, environ);
    if (err) ol_error(L, "spawn: cannot start %s: %s", argv[0], strerror(err));
    lua_pushinteger(L, pid);
    return 1;
}

/* A child's fate as sys.wait reports it: "exit", status | "signal", number, name. */
static int push_fate(lua_State *L, int st)
{
    if (WIFSIGNALED(st)) {
        lua_pushliteral(L, "signal");
        lua_pushinteger(L, WTERMSIG(st));
        lua_pushstring(L, strsignal(WTERMSIG(st)));
        return 3;
    }
    lua_pushliteral(L, "exit");
    lua_pushinteger(L, WIFEXITED(st) ? WEXITSTATUS(st) : 1);
    return 2;
}

/* waitpid reads 0 and negative ids as process groups: only children here */
static pid_t check_pid(lua_State *L, lua_Integer id, const char *fn)
{
    if (id < 1 || id > INT_MAX) ol_error(L, "%s: expected a process id from sys.spawn, got %d", fn, (int)id);
    return (pid_t)id;
}

/* sys.wait(pid) -> "exit", status | "signal", number, name. Waits through
 * the EINTR of a caught Ctrl-C: the child decides when it is done. */
static int sys_wait(lua_State *L)
{
    pid_t pid = check_pid(L, luaL_checkinteger(L, 1), "wait");
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) ol_error(L, "wait: process %d: %s", (int)pid, strerror(errno));
    }
    return push_fate(L, st);
}

/* sys.wait_any{pid, ...} -> pid, then its fate as sys.wait gives it. Waits
 * for the first of these children to end (the experiment scheduler starts
 * the next run, or gives the freed cores to the runs still going); the
 * others stay for later calls. SIGCHLD is blocked in this thread while it
 * waits, so sigtimedwait wakes as a child ends; a SIGCHLD taken by one of
 * OpenMP's threads instead is caught by looking again every 0.2 s. */
static int sys_wait_any(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    if (n < 1 || n > 4096) ol_error(L, "wait_any: expected a list of 1 to 4096 process ids");
    pid_t *pids = lua_newuserdata(L, (size_t)n * sizeof *pids);
    for (lua_Integer i = 1; i <= n; i++) {
        int ok;
        lua_rawgeti(L, 1, i);
        lua_Integer id = lua_tointegerx(L, -1, &ok);
        if (!ok) ol_error(L, "wait_any: entry %d is not a process id", (int)i);
        pids[i - 1] = check_pid(L, id, "wait_any");
        lua_pop(L, 1);
    }
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, &old);
    for (;;) {
        for (lua_Integer i = 0; i < n; i++) {
            int st;
            pid_t r = waitpid(pids[i], &st, WNOHANG);
            if (r == pids[i]) {
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                lua_pushinteger(L, r);
                return 1 + push_fate(L, st);
            }
            if (r < 0 && errno != EINTR) {
                int e = errno;
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                ol_error(L, "wait_any: process %d: %s", (int)pids[i], strerror(e));
            }
        }
        /* a child's end, a timeout or a caught Ctrl-C (EINTR): look again */
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        sigtimedwait(&chld, NULL, &ts);
    }
}

/* The exit status of optlab when the script returns normally: a comparison
 * with failed or interrupted runs sets it, so shells and CI see it. */
static int exit_status;

int ol_exit_status(void) { return exit_status; }

static int sys_set_exit_status(lua_State *L)
{
    lua_Integer s = ol_checkrange(L, 1, 0, 255, "set_exit_status", "exit status");
    exit_status = (int)s;
    return 0;
}

static const luaL_Reg proc_funcs[] = {
    {"getcwd", sys_getcwd}, {"listdir", sys_listdir}, {"spawn", sys_spawn}, {"wait", sys_wait}, {"wait_any", sys_wait_any},
    {"set_exit_status", sys_set_exit_status},
    {NULL, NULL}
};

/* Adds to the sys table made by ol_open_sys (registered before this). */
void ol_open_proc(lua_State *L)
{
    if (lua_getfield(L, -1, "sys") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "sys");
    }
    luaL_setfuncs(L, proc_funcs, 0);
    lua_pop(L, 1);
}
