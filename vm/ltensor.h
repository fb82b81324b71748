/* Shared by the tensor bindings (ltensor.c: creation, views, arithmetic,
 * reductions; ltensor_ops.c: fused in-place updates, joins, indexing, scans).
 * All methods are registered in one luaL_Reg table, in ltensor.c. */
#ifndef OL_LTENSOR_H
#define OL_LTENSOR_H
#include "tensor.h"
#include "reduce.h"

/* Argument checks that raise at the user's line (see ltensor.c). */
void arg_error(lua_State *L, int idx, const char *expected);
lua_Integer check_integer(lua_State *L, int idx);
lua_Number check_number(lua_State *L, int idx);
lua_Integer opt_integer(lua_State *L, int idx, lua_Integer def);
lua_Number opt_number(lua_State *L, int idx, lua_Number def);
/* A 1-based (or negative) dimension argument, returned 0-based. */
int get_dim(lua_State *L, int idx, int ndim);
OLTensor *self(lua_State *L);
/* t's strides broadcast to shape (0 on broadcast dims); 0 if incompatible. */
int broadcast_strides(const OLTensor *t, int nd, const int64_t *shape, int64_t *st);
/* The tensor at idx, or a number there as a 0-d tensor in tmp/tst/val. */
OLTensor *operand(lua_State *L, int idx, OLTensor *tmp, OLStorage *tst, float *val);
/* A reduction with its dim at argument `at` (nil: over all) and keepdim after. */
int reduce_at(lua_State *L, ol_redop op, double p, int at, double scale_by_len, int with_index);

/* ltensor_ops.c */
int t_clamp_(lua_State *L);
int t_addcmul_(lua_State *L);
int t_addcdiv_(lua_State *L);
int t_lerp_(lua_State *L);
int t_where(lua_State *L);
int t_cat(lua_State *L);
int t_stack(lua_State *L);
int t_gather(lua_State *L);
int t_scatter_add_(lua_State *L);
int t_cumsum(lua_State *L);
int t_dot(lua_State *L);
int t_prod(lua_State *L);
int t_logsumexp(lua_State *L);
int t_var(lua_State *L);
int t_std(lua_State *L);
int t_norm(lua_State *L);
#endif
