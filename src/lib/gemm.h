/* gemm.h - z += x w, the scores of a linear model for a block of rows. */
#ifndef DML_GEMM_H
#define DML_GEMM_H

#include <stdint.h>

/* z[nr x k] += x[nr x nf] w[nf x k], all row-major and dense: the bits
 * BLIS's dgemm gives (with alpha = beta = 1), any number of rows at a
 * time. */
void dml_gemm_add(uint64_t nr, uint32_t k, uint32_t nf, const double *x,
		  const double *w, double *z);

#endif
