/* The interactive loop. */
#ifndef OL_REPL_H
#define OL_REPL_H
#include "lcompat.h"

/* Read-eval-print until end of input; returns the process exit status. */
int ol_repl(lua_State *L);
/* Call the function below narg arguments with a traceback on error. */
int ol_docall(lua_State *L, int narg, int nres);
#endif
