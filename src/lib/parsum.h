/* parsum.h - exact sums computed on several threads. */
#ifndef DML_PARSUM_H
#define DML_PARSUM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "fixed.h"

/* One thread's part: add exactly into acc, return DML_OK or the error
 * (the job itself tells the other parts to stop). */
typedef enum dml_err (*dml_parsum_fn)(void *job, struct dml_fx *acc);

/* Run fn(job, ...) on nt threads, this one included: this thread adds
 * into acc itself, the others into n sums of their own, which are then
 * added into acc.  Exact addition makes the result the same bits for any
 * nt.  Returns the first error, DML_ERANGE if a sum overflowed. */
enum dml_err dml_parsum(uint32_t nt, size_t n, struct dml_fx *acc,
			dml_parsum_fn fn, void *job);

#endif
