/* Setting up a Lua state for optlab: paths to the standard library, the C
 * core preloaded, threads. Shared by the optlab binary and optlab.so. */
#ifndef OL_HOST_H
#define OL_HOST_H
#include "lcompat.h"

#define OPTLAB_VERSION "0.1.0"

/* exe_dir: the directory of the binary or shared object, to find stdlib/ in
 * a build tree. Returns 0, or 1 with an error message on the stack. */
int ol_host_setup(lua_State *L, const char *exe_dir);
int luaopen_optlab_core(lua_State *L);

/* The status sys.set_exit_status asked for (0 unless a script set it). */
int ol_exit_status(void);

/* MPI (vm/lmpi.c). ol_mpi_start initializes MPI when a launcher (mpirun,
 * srun) started optlab, else does nothing; 1 when MPI_Init failed (said on
 * stderr). ol_mpi_active: whether MPI is initialized (and not finalized).
 * ol_mpi_set_exit: how main ends: 0, normally (exit finalizes MPI), else
 * on an error, with that code (exit aborts the job: the other ranks must not
 * wait for this one). */
int ol_mpi_start(int *argc, char ***argv);
int ol_mpi_active(void);
void ol_mpi_set_exit(int code);

/* A gather's receiving side, kept by its owner from call to call (data-parallel steps gather
 * tens of megabytes every step: a buffer allocated afresh each time would be mmapped and
 * faulted in afresh each time). ol_mpi_allgather(L, mine, n, g): every rank's n bytes, in
 * rank order, into g->all (grown as needed), rank r's at g->displs[r], g->counts[r] long;
 * outside a job, this process's alone. The same collectives as C.mpi.allgather, so the two
 * match each other. ol_gather_free releases the buffers. */
typedef struct {
    unsigned char *all;
    size_t cap;
    int *counts, *displs;
    int ranks;
} ol_gather;
void ol_mpi_allgather(lua_State *L, const void *mine, size_t n, ol_gather *g);
void ol_gather_free(ol_gather *g);
#endif
