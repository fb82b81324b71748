/* Argument checks shared by the bindings (vm/l*.c), in the manner of
 * lauxlib's luaL_check* / luaL_opt*: each returns the argument or raises
 * through ol_error (at the user's file:line), naming the operation (op) and
 * the argument (what) rather than a stack slot of a C function.
 * ol_checktensor (tensor.h) is the plain "a tensor" check. */
#ifndef OL_LCHECK_H
#define OL_LCHECK_H

#include "tensor.h"

/* Argument idx as a contiguous tensor for a kernel to read: a view is copied
 * and the copy replaces the argument in its slot, so it lives until the call
 * returns. */
OLTensor *ol_checkcontig(lua_State *L, int idx);
/* The same, or NULL when the argument is nil or absent. */
OLTensor *ol_optcontig(lua_State *L, int idx);

/* A tensor a kernel writes in place: it must be contiguous already (writing
 * a copy would leave the caller's tensor unchanged). The caller marks it
 * written (ol_written) once every check has passed. */
OLTensor *ol_checkinplace(lua_State *L, int idx, const char *op, const char *what);

/* a and b of one shape: "op: an [2, 3] and bn [3, 2] must have the same shape". */
void ol_checksameshape(lua_State *L, const char *op, const OLTensor *a, const char *an,
                       const OLTensor *b, const char *bn);

/* An integer argument in lo..hi: a number with an integral value (2.0 too,
 * on both VMs); 2.5, a string or nil is refused, never truncated. */
lua_Integer ol_checkrange(lua_State *L, int idx, lua_Integer lo, lua_Integer hi,
                          const char *op, const char *what);
/* The same, dflt when the argument is nil or absent. */
lua_Integer ol_optrange(lua_State *L, int idx, lua_Integer dflt, lua_Integer lo, lua_Integer hi,
                        const char *op, const char *what);

/* A number argument, or dflt when nil or absent. */
double ol_optnum(lua_State *L, int idx, double dflt, const char *op, const char *what);

/* With the core table on top of the stack: add funcs to its sub-table `name`
 * (made if absent), so each binding file's functions live under its module:
 * C.optim.update, C.data.idx, C.train.grad_norm... */
void ol_module(lua_State *L, const char *name, const luaL_Reg *funcs);

#endif
