/* optlab: the command line. Runs scripts like the stock `lua` does (the
 * global `arg`, -e, -i), with optlab's modules loaded as globals. */
#include <limits.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "host.h"
#include "gemm.h"
#include "repl.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: optlab [options] [script.lua [args...]]\n"
        "  -e CHUNK       run CHUNK\n"
        "  -i             open the REPL after running the script\n"
        "  --threads N    threads for BLIS and optlab's kernels (default: all cores; or OPTLAB_THREADS)\n"
        "  --version      print versions of optlab, Lua and BLIS and the thread count\n"
        "  -h, --help     this text\n"
        "  verify DIR     re-run the copy of the code kept in a run folder and compare bit for bit\n"
        "  resume DIR     finish an interrupted experiment in its run folder (the runs not finished)\n"
        "  merge SHARD... --out DIR\n"
        "                 make the folders of an experiment's shards one run folder, as a serial run writes it\n"
        "An experiment script takes key=value overrides, --jobs N (runs at once), --shard i/n (run only the\n"
        "i-th of n slices of its runs: run id k is shard ((k - 1) mod n) + 1) and --out DIR (the run folder).\n"
        "With no script, optlab opens the REPL (reads statements from stdin when it is not a terminal).\n");
}

static int had_error; /* a Lua error ended a chunk: under MPI, the job is aborted (vm/lmpi.c) */

static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        had_error = 1;
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "optlab: %s\n", msg ? msg : "(error object is not a string)");
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

static int run_chunk(lua_State *L, const char *chunk)
{
    int status = luaL_loadbuffer(L, chunk, strlen(chunk), "=(command line)");
    if (status == LUA_OK) status = ol_docall(L, 0, 0);
    return report(L, status);
}

/* arg as the stock lua sets it: arg[0] the script, arg[1..] its arguments,
 * negative indices the interpreter and its options; with no script arg[0]
 * is the interpreter and arg[1..] its options, as lua.c does. */
static void create_arg(lua_State *L, char **argv, int argc, int script)
{
    lua_createtable(L, argc - script, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int run_script(lua_State *L, char **argv, int argc, int script)
{
    const char *fname = strcmp(argv[script], "-") == 0 ? NULL : argv[script];
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = argc - script - 1;
        luaL_checkstack(L, n + 3, "too many arguments to script");
        for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
        status = ol_docall(L, n, 0);
    }
    return report(L, status);
}

static int load_stdlib(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, "optlab_init");
    return report(L, ol_docall(L, 1, 0));
}

/* OpenMP threads that wait for work spin before they sleep; libgomp's default
 * spin is long, and when another process holds a core a spinning thread
 * steals it from the thread everyone waits for (a training step became 5x
 * slower at 2 threads under load; 1000 spins kept it at 1-thread speed or
 * better, 10000 lost 15%). libgomp reads its settings when it loads,
 * before main, so optlab sets a short spin and re-executes itself once;
 * a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT is left alone. */
#define OL_SPINCOUNT "1000"

static void tune_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    setenv("GOMP_SPINCOUNT", OL_SPINCOUNT, 1);
    execv("/proc/self/exe", argv); /* on failure, run with libgomp's defaults */
}

/* Everything after option parsing; returns the exit status. */
static int run(lua_State *L, int argc, char **argv, int script, int interactive, int version, int threads)
{
    luaL_openlibs(L);
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    if (ol_host_setup(L, exe) != 0) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        return 1;
    }
    if (threads) ol_threads_set(threads);
    if (version) {
        printf("optlab %s (%s, BLIS %s %s kernels, %d thread%s)\n", OPTLAB_VERSION, OL_LUA_RELEASE,
               ol_blis_version(), ol_blis_arch(), ol_threads_get(), ol_threads_get() == 1 ? "" : "s");
        fflush(stdout);
        if (!script && !interactive) return 0;
    }
    if (load_stdlib(L) != LUA_OK) return 1;

    /* `optlab verify DIR`: a subcommand, not a script */
    if (script && strcmp(argv[script], "verify") == 0 && access("verify", F_OK) != 0) {
        create_arg(L, argv, argc, script);
        return run_chunk(L, "local e = require 'experiment'; os.exit(e.verify_main(arg) and 0 or 1, true)") == LUA_OK ? 0 : 1;
    }
    /* `optlab resume DIR`: complete an interrupted comparison in its folder */
    if (script && strcmp(argv[script], "resume") == 0 && access("resume", F_OK) != 0) {
        create_arg(L, argv, argc, script);
        return run_chunk(L, "local e = require 'experiment'; os.exit(e.resume_main(arg), true)") == LUA_OK ? 0 : 1;
    }
    /* `optlab merge A B C --out DIR`: the folders of --shard runs made one run folder */
    if (script && strcmp(argv[script], "merge") == 0 && access("merge", F_OK) != 0) {
        create_arg(L, argv, argc, script);
        return run_chunk(L, "local e = require 'experiment'; os.exit(e.merge_main(arg), true)") == LUA_OK ? 0 : 1;
    }

    create_arg(L, argv, argc, script); /* no script: arg[0] is the interpreter, like lua */
    for (int k = 1; k < (script ? script : argc); k++)
        if (strcmp(argv[k], "-e") == 0 && run_chunk(L, argv[++k]) != LUA_OK) return 1;
    int ran_e = 0;
    for (int k = 1; k < (script ? script : argc); k++) if (strcmp(argv[k], "-e") == 0) ran_e = 1;
    if (script && run_script(L, argv, argc, script) != LUA_OK) return 1;
    if (interactive || (!script && !ran_e && !version)) return ol_repl(L);
    return ol_exit_status();
}

int main(int argc, char **argv)
{
    tune_openmp(argv);
    int interactive = 0, version = 0, script = 0, threads = 0;
    /* first pass: options up to the script name */
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { i++; break; }
        if (a[0] != '-' || strcmp(a, "-") == 0) break;
        if (strcmp(a, "-i") == 0) interactive = 1;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) version = 1;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        else if (strcmp(a, "--threads") == 0 || strncmp(a, "--threads=", 10) == 0) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
            char *end;
            long n = v ? strtol(v, &end, 10) : 0;
            if (!v || *end || n < 1 || n > 1024) {
                fprintf(stderr, "optlab: --threads needs a number from 1 to 1024, got '%s'\n", v ? v : "");
                return 2;
            }
            threads = (int)n;
        } else if (strcmp(a, "-e") == 0) {
            if (++i >= argc) { fprintf(stderr, "optlab: -e needs an argument\n"); return 2; }
        } else {
            fprintf(stderr, "optlab: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (i < argc) script = i;
    if (ol_mpi_start(&argc, &argv) != 0) return 1;

    lua_State *L = luaL_newstate();
    if (!L) { fprintf(stderr, "optlab: cannot create a Lua state: out of memory\n"); return 1; }
    /* Every exit goes through lua_close: LeakSanitizer (make sanitize) checks
     * at exit, and a state left open would be reported as leaked. */
    int status = run(L, argc, argv, script, interactive, version, threads);
    lua_close(L);
    /* a script that ended normally finalizes MPI whatever its status (a failed
     * run's 1); one that ended on an error aborts the job */
    ol_mpi_set_exit(had_error ? (status ? status : 1) : 0);
    return status;
}
