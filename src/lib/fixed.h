/* fixed.h - exact sums: signed 192-bit fixed point with 96 fraction bits.
 *
 * A double is converted once (rounded to the nearest multiple of 2^-96);
 * after that, sums are integer additions, which are associative and
 * commutative, so any reduction tree gives the same bits.  Range is
 * |x| < 2^95 (about 3.9e28); beyond it conversion and addition fail. */
#ifndef DML_FIXED_H
#define DML_FIXED_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define DML_FX_BYTES 24
#define DML_FX_FRAC 96

struct dml_fx {
	uint64_t w[3]; /* little-endian limbs, two's complement */
};

/* DML_ERANGE for NaN, infinities and |v| >= 2^95. */
enum dml_err dml_fx_from_double(double v, struct dml_fx *out);
/* Correctly rounded to the nearest double. */
double dml_fx_to_double(const struct dml_fx *x);
/* acc += x; DML_ERANGE on overflow (acc then undefined). */
enum dml_err dml_fx_add(struct dml_fx *acc, const struct dml_fx *x);
/* acc[i] += fx(v[i]) for i < n. */
enum dml_err dml_fx_add_doubles(struct dml_fx *acc, const double *v, size_t n);
/* acc[i] += fx read from 24-byte little-endian buf[i]; DML_ERANGE if one
 * of the sums overflows (acc then undefined). */
enum dml_err dml_fx_add_bytes(struct dml_fx *acc, const unsigned char *buf,
			      size_t n);
void dml_fx_store(unsigned char *dst, const struct dml_fx *x);
void dml_fx_load(struct dml_fx *x, const unsigned char *src);

#endif
