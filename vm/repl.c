/* The REPL: line editing, history and completion through libedit's
 * readline-compatible API; chunks read like the stock lua (an incomplete
 * chunk continues with ">> "), expressions print themselves through
 * stdlib/repl.lua, Ctrl-C stops a running chunk (lua.c's laction scheme).
 * With stdin not a terminal: the same statements, no prompts, no colours. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <editline/readline.h>
#include "host.h"
#include "repl.h"

#define OL_HISTORY_FILE "/.optlab_history"
#define OL_HISTORY_MAX 1000
#define OL_SLOW_SECONDS 0.5

/* ---- Ctrl-C ------------------------------------------------------------ */

static lua_State *volatile running_L;      /* the state inside ol_docall */
static volatile sig_atomic_t prompt_interrupted;
static volatile sig_atomic_t run_interrupted;  /* Ctrl-C during ol_docall */

/* Hook installed by the signal handler: raise at the next Lua instruction. */
static void lstop(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* Setting a hook is the one thing lua.c deems safe inside a handler. A second
 * Ctrl-C before the hook runs (a long C call) kills the process, as in lua.c. */
static void on_sigint(int sig)
{
    lua_State *L = running_L;
    if (L) {
        signal(sig, SIG_DFL);
        run_interrupted = 1;
        lua_sethook(L, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    } else {
        prompt_interrupted = 1;
    }
}

static void set_sigint(void (*handler)(int), struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old);
}

/* ---- calling Lua --------------------------------------------------------- */

/* Message handler: a traceback below the message, as lua.c does. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int ol_docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    struct sigaction old;
    lua_State *outer = running_L;
    running_L = L;
    set_sigint(on_sigint, &old);
    int status = lua_pcall(L, narg, nres, base);
    sigaction(SIGINT, &old, NULL);
    running_L = outer;
    lua_sethook(L, NULL, 0, 0); /* a Ctrl-C that came after the last instruction */
    lua_remove(L, base);
    return status;
}

/* ---- the session ----------------------------------------------------------- */

typedef struct {
    lua_State *L;
    int tty;            /* stdin is a terminal: prompts, editing, history */
    int colour;
    int ref;            /* registry ref of the stdlib/repl.lua module, or LUA_NOREF */
    char history[4096]; /* empty: no history file */
    int failed;         /* piped input: some statement failed -> exit status 1 */
    int lines;          /* lines read so far */
} Session;

static Session *completing; /* the session libedit's completion callbacks serve */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void report_error(Session *s, const char *msg)
{
    if (s->colour) fprintf(stderr, "\033[31m%s\033[0m\n", msg);
    else fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

/* Calls repl.<name>(args...) from the repl module; returns the pcall status
 * with nres results (or an error message) on the stack. */
static int call_repl(Session *s, const char *name, int narg, int nres)
{
    lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->ref);
    lua_getfield(s->L, -1, name);
    lua_remove(s->L, -2);
    lua_insert(s->L, -narg - 1);
    return lua_pcall(s->L, narg, nres, 0);
}

/* One line of input, malloc'd, without its newline; NULL at end of input.
 * *interrupted is set when Ctrl-C cleared the line. */
static char *read_line(Session *s, const char *prompt, int *interrupted)
{
    *interrupted = 0;
    s->lines++;
    if (!s->tty) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) { free(line); return NULL; }
        if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
        return line;
    }
    fflush(stdout);
    prompt_interrupted = 0;
    struct sigaction old;
    set_sigint(on_sigint, &old);
    char *line = readline(prompt);
    sigaction(SIGINT, &old, NULL);
    if (prompt_interrupted) {
        /* libedit gives up the line on the signal: start a fresh one */
        free(line);
        fputs("^C\n", stdout);
        *interrupted = 1;
        return NULL;
    }
    return line;
}

static void remember(Session *s, const char *chunk)
{
    if (!s->tty || !*chunk) return;
    HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
    if (last && last->line && strcmp(last->line, chunk) == 0) return;
    add_history(chunk);
    /* Written at once, so os.exit() or a killed session loses nothing. */
    if (s->history[0] && write_history(s->history) == 0) chmod(s->history, 0600);
}

/* Compiles a chunk that began on input line `first`. Piped input gets its
 * real line numbers in messages ("stdin:12:") by starting the source with
 * blank lines; at the terminal every chunk counts from 1, as in lua. */
static int load(Session *s, const char *src, size_t len, int first)
{
    if (s->tty || first <= 1) return luaL_loadbuffer(s->L, src, len, "=stdin");
    luaL_Buffer b;
    luaL_buffinit(s->L, &b);
    for (int i = 1; i < first; i++) luaL_addchar(&b, '\n');
    luaL_addlstring(&b, src, len);
    luaL_pushresult(&b);
    int status = luaL_loadbuffer(s->L, lua_tostring(s->L, -1), lua_rawlen(s->L, -1), "=stdin");
    lua_remove(s->L, -2);
    return status;
}

static int incomplete(lua_State *L, int status)
{
    if (status != LUA_ERRSYNTAX) return 0;
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    /* Lua 5.4 ends the message with near <eof>, LuaJIT with near '<eof>' */
    return (len >= 5 && strcmp(msg + len - 5, "<eof>") == 0) ||
           (len >= 7 && strcmp(msg + len - 7, "'<eof>'") == 0);
}

/* Reads a chunk: "return <line>" if that compiles (an expression), else the
 * line as a statement, reading more lines while it is incomplete. Pushes the
 * compiled function (LUA_OK) or an error message. Returns -1 at end of input
 * and -2 when Ctrl-C dropped the chunk (nothing pushed). */
static int read_chunk(Session *s)
{
    lua_State *L = s->L;
    int intr;
    char *line = read_line(s, "> ", &intr);
    if (!line) return intr ? -2 : -1;
    int first = s->lines;
    if (strcmp(line, ":traceback") == 0 && s->ref != LUA_NOREF) {
        /* the full traceback of the last error (errors show the user's frames) */
        free(line);
        if (call_repl(s, "traceback", 0, 0) != LUA_OK) lua_pop(L, 1);
        return -2;
    }
    const char *src = line[0] == '=' ? line + 1 : line; /* Lua 5.1's "=expr" */
    /* `return f(x)` is a tail call (into a C function too, on LuaJIT), so the
     * typed line's frame would be gone from errors: error("boom") would lose
     * its stdin:N: position and a stdlib error would show no frame of the
     * user's. select(1, ...) is a plain call that returns every value. */
    lua_pushfstring(L, "return select(1, %s);", src);
    int status = load(s, lua_tostring(L, -1), lua_rawlen(L, -1), first);
    lua_remove(L, -2);
    if (status == LUA_OK) {
        remember(s, line);
        free(line);
        return LUA_OK;
    }
    lua_pop(L, 1);
    lua_pushstring(L, line); /* the chunk so far */
    free(line);
    for (;;) {
        size_t len;
        const char *chunk = lua_tolstring(L, -1, &len);
        status = load(s, chunk, len, first);
        if (!incomplete(L, status)) break;
        lua_pop(L, 1);
        char *more = read_line(s, ">> ", &intr);
        if (!more) {
            if (intr) { lua_pop(L, 1); return -2; }
            /* end of input inside a chunk: report it as lua does */
            status = load(s, chunk, len, first);
            break;
        }
        /* chunk .. "\n" .. more (not a luaL_Buffer: 5.4's keeps a slot on the
         * stack and 5.1's does not, so stack positions would differ) */
        lua_pushliteral(L, "\n");
        lua_pushstring(L, more);
        free(more);
        lua_concat(L, 3);
    }
    remember(s, lua_tostring(L, -2));
    lua_remove(L, -2);
    return status;
}

static void eval_and_print(Session *s)
{
    lua_State *L = s->L;
    int base = lua_gettop(L) - 1;
    double t0 = now();
    run_interrupted = 0;
#if OL_LUAJIT
    /* Ctrl-C works through a hook, which compiled code never checks: the
     * chunk typed at the prompt runs interpreted, so `while true do end`
     * stops. Functions it calls still compile (README, "Two VMs"). */
    luaJIT_setmode(L, -1, LUAJIT_MODE_FUNC | LUAJIT_MODE_OFF);
#endif
    int status = ol_docall(L, 0, LUA_MULTRET);
    double dt = now() - t0;
    if (status != LUA_OK) {
        s->failed = 1;
        if (s->tty && run_interrupted) fputs("\n", stdout); /* after the terminal's ^C */
        fflush(stdout);
        /* the user's frames only; repl.error_text keeps the whole for :traceback */
        if (s->ref != LUA_NOREF && lua_isstring(L, -1)) {
            lua_pushvalue(L, -1);
            if (call_repl(s, "error_text", 1, 1) == LUA_OK && lua_isstring(L, -1)) lua_remove(L, -2);
            else lua_pop(L, 1);
        }
        report_error(s, lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)");
    } else if (lua_gettop(L) > base) {
        int n = lua_gettop(L) - base;
        if (s->ref != LUA_NOREF) status = call_repl(s, "show", n, 0);
        else {
            lua_getglobal(L, "print");
            lua_insert(L, base + 1);
            status = lua_pcall(L, n, 0, 0);
        }
        if (status != LUA_OK) report_error(s, lua_tostring(L, -1));
    }
    lua_settop(L, base);
    fflush(stdout);
    if (s->tty && dt > OL_SLOW_SECONDS) {
        if (s->colour) fprintf(stdout, "\033[2m(%.2f s)\033[0m\n", dt);
        else fprintf(stdout, "(%.2f s)\n", dt);
        fflush(stdout);
    }
}

/* ---- completion ------------------------------------------------------------ */

static char **candidates;
static int ncandidates;

static char *next_candidate(const char *text, int state)
{
    static int i;
    (void)text;
    if (state == 0) i = 0;
    return i < ncandidates ? strdup(candidates[i++]) : NULL;
}

/* libedit hands us the word before the cursor; '.' and ':' are not word
 * breaks, so it is the whole chain ("optim.Ad", "t:su"). Candidates come
 * from repl.complete(word) as full words. */
static char **complete(const char *text, int start, int end)
{
    (void)start; (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    Session *s = completing;
    for (int i = 0; i < ncandidates; i++) free(candidates[i]);
    free(candidates);
    candidates = NULL;
    ncandidates = 0;
    if (!s || s->ref == LUA_NOREF) return NULL;
    lua_State *L = s->L;
    int top = lua_gettop(L);
    lua_pushstring(L, text);
    if (call_repl(s, "complete", 1, 1) == LUA_OK && lua_istable(L, -1)) {
        int n = (int)lua_rawlen(L, -1);
        candidates = calloc((size_t)n + 1, sizeof *candidates);
        for (int i = 1; candidates && i <= n; i++) {
            lua_rawgeti(L, -1, i);
            const char *c = lua_tostring(L, -1);
            if (c && (candidates[ncandidates] = strdup(c))) ncandidates++;
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
    if (ncandidates == 0) return NULL;
    return rl_completion_matches(text, next_candidate);
}

static void setup_editing(Session *s)
{
    rl_readline_name = "optlab"; /* ~/.editrc may say "optlab:bind ..." */
    rl_attempted_completion_function = complete;
    static char breaks[] = " \t\n\"\\'`@$><=;|&{(}),+-*/%^~#"; /* not [ ]: model.layers[5].<Tab> */
    rl_basic_word_break_characters = breaks;
    rl_completer_word_break_characters = breaks;
    rl_completion_append_character = '\0';
    using_history();
    stifle_history(OL_HISTORY_MAX);
    const char *home = getenv("HOME");
    if (home && *home) {
        snprintf(s->history, sizeof s->history, "%s%s", home, OL_HISTORY_FILE);
        read_history(s->history);
    }
}

int ol_repl(lua_State *L)
{
    Session s;
    memset(&s, 0, sizeof s);
    s.L = L;
    s.tty = isatty(0);
    const char *nc = getenv("NO_COLOR");
    s.colour = s.tty && isatty(1) && isatty(2) && !(nc && *nc);
    s.ref = LUA_NOREF;
    lua_getglobal(L, "require");
    lua_pushstring(L, "repl");
    if (ol_docall(L, 1, 1) == LUA_OK) s.ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else {
        report_error(&s, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    if (s.tty) {
        setup_editing(&s);
        completing = &s;
        printf("optlab %s REPL (%s). help() lists the modules; Ctrl-D quits.\n", OPTLAB_VERSION, OL_LUA_RELEASE);
    }
    for (;;) {
        int status = read_chunk(&s);
        if (status == -1) break;
        if (status == -2) continue;
        if (status == LUA_OK) eval_and_print(&s);
        else {
            s.failed = 1;
            report_error(&s, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    if (s.tty) {
        fputs("\n", stdout);
        completing = NULL;
    }
    if (s.ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, s.ref);
    fflush(stdout);
    return !s.tty && s.failed ? 1 : 0;
}
