/* Ctrl-C during training: sys.catch_interrupts(true) makes SIGINT set a
 * flag instead of killing the process; the training loop polls
 * sys.interrupted() after each step and stops cleanly. A second Ctrl-C
 * while the flag is still set gets the previous handler (by default: the
 * process ends), so a stuck step can still be killed. */
#include <signal.h>
#include <string.h>
#include "tensor.h"

static volatile sig_atomic_t interrupted;
static int catching;
static struct sigaction previous;

static void on_sigint(int sig)
{
    if (interrupted) {
        sigaction(SIGINT, &previous, NULL);
        raise(sig);
        return;
    }
    interrupted = 1;
}

/* sys.catch_interrupts(on) -> whether it was on. Switching it on or off
 * clears the flag; asking for what is already so keeps it, so a Ctrl-C that
 * came while an experiment was catching (between runs, during start-up)
 * survives the train.fit calls that catch on their own. */
static int sys_catch_interrupts(lua_State *L)
{
    int on = lua_toboolean(L, 1), was = catching;
    if (on != was) interrupted = 0;
    if (on && !catching) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGINT, &sa, &previous) != 0) ol_error(L, "catch_interrupts: cannot install a SIGINT handler");
        catching = 1;
    } else if (!on && catching) {
        sigaction(SIGINT, &previous, NULL);
        catching = 0;
    }
    lua_pushboolean(L, was);
    return 1;
}

static int sys_interrupted(lua_State *L)
{
    lua_pushboolean(L, interrupted != 0);
    return 1;
}

static const luaL_Reg signal_funcs[] = {
    {"catch_interrupts", sys_catch_interrupts}, {"interrupted", sys_interrupted}, {NULL, NULL}
};

/* Adds to the sys table made by ol_open_sys (registered before this). */
void ol_open_signal(lua_State *L)
{
    if (lua_getfield(L, -1, "sys") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "sys");
    }
    luaL_setfuncs(L, signal_funcs, 0);
    lua_pop(L, 1);
}
