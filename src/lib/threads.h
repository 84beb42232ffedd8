/* threads.h - the parts of a job run on threads, this one included. */
#ifndef DML_THREADS_H
#define DML_THREADS_H

#include <stddef.h>
#include <stdint.h>

/* Run fn on each of n parts: part i is (char *)parts + i * size, or parts
 * itself for every i when size is 0.  Parts 1 to n - 1 run on threads of
 * their own and part 0 on this one; a part whose thread cannot start runs
 * here afterwards.  Returns when every part is done. */
void dml_threads_run(uint32_t n, void *(*fn)(void *), void *parts,
		     size_t size);

#endif
