/* Shared by the libFuzzer harnesses (make fuzz): the input as a file, for
 * readers that take a path, and a Lua state with optlab's core and stdlib,
 * for readers that live behind the Lua bindings. Each harness includes this
 * once and defines LLVMFuzzerTestOneInput. */
#ifndef OL_FUZZ_H
#define OL_FUZZ_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "host.h"

/* The bytes in an in-memory file, named by a path every reader can open
 * (stat sees a regular file, as for a file on disk). */
static inline const char *fz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("optlab-fuzz", 0);
        if (fd < 0) { perror("memfd_create"); abort(); }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) { perror("memfd"); abort(); }
    return path;
}

/* One Lua state for the whole run, single-threaded; OL_FUZZ_ROOT is the
 * source tree (its stdlib/), set by the Makefile. */
static inline lua_State *fz_lua(void)
{
    static lua_State *L;
    if (L) return L;
    setenv("OPTLAB_THREADS", "1", 1);
    L = luaL_newstate();
    luaL_openlibs(L);
    if (ol_host_setup(L, OL_FUZZ_ROOT) != 0) { fprintf(stderr, "%s\n", lua_tostring(L, -1)); abort(); }
    return L;
}

/* Calls field `name` of module `mod` (a dotted path: "data.csv") with a
 * string argument; errors are the expected outcome for most inputs and are
 * dropped. */
static inline void fz_call(const char *mod, const char *name, const char *arg, size_t len)
{
    lua_State *L = fz_lua();
    lua_getglobal(L, "require");
    lua_pushstring(L, mod);
    lua_call(L, 1, 1);
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        lua_pushlstring(L, p, n);
        lua_gettable(L, -2);
        lua_remove(L, -2);
        p += n + (dot != NULL);
    }
    lua_pushlstring(L, arg, len);
    lua_pcall(L, 1, LUA_MULTRET, 0);
    lua_settop(L, 0);
    /* Free this input's garbage now: libFuzzer runs LeakSanitizer after any input
     * whose mallocs and frees do not balance, which Lua's deferred collection made
     * every input (100x slower, and nothing it could find). */
    lua_gc(L, LUA_GCCOLLECT, 0);
}
#endif
