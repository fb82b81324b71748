/* A plain REPL: one statement or expression per line, values printed. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "repl.h"

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
    int status = lua_pcall(L, narg, nres, base);
    lua_remove(L, base);
    return status;
}

static int print_results(lua_State *L, int base)
{
    int n = lua_gettop(L) - base;
    if (n <= 0) return 0;
    lua_getglobal(L, "print");
    lua_insert(L, base + 1);
    return lua_pcall(L, n, 0, 0);
}

int ol_repl(lua_State *L)
{
    int tty = isatty(0);
    char line[8192];
    for (;;) {
        if (tty) { fputs("> ", stdout); fflush(stdout); }
        if (!fgets(line, sizeof line, stdin)) break;
        int base = lua_gettop(L);
        lua_pushfstring(L, "return %s", line);
        int status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=stdin");
        lua_remove(L, -2);
        if (status != LUA_OK) {
            lua_pop(L, 1);
            status = luaL_loadbuffer(L, line, strlen(line), "=stdin");
        }
        if (status == LUA_OK) status = ol_docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK) status = print_results(L, base);
        if (status != LUA_OK) {
            fprintf(stderr, "%s\n", lua_tostring(L, -1));
            lua_settop(L, base);
        }
    }
    if (tty) fputs("\n", stdout);
    return 0;
}
