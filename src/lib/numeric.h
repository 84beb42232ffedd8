/* numeric.h - random numbers, number parsing and small vector helpers. */
#ifndef DML_NUMERIC_H
#define DML_NUMERIC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* xoshiro256** seeded through splitmix64: the same seed, the same stream
 * on every platform. */
struct dml_rng {
	uint64_t s[4];
};

void dml_rng_seed(struct dml_rng *r, uint64_t seed);
uint64_t dml_rng_next(struct dml_rng *r);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t dml_rng_below(struct dml_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double dml_rng_unit(struct dml_rng *r);

/* Parse a whole field as a finite double.  Leading/trailing blanks are
 * allowed.  Returns 0 on success, -1 if not a number, -2 if NaN/infinite,
 * -3 if empty. */
int dml_parse_double(const char *s, double *out);
/* dml_parse_double for a field of dml_csv_read, which is followed by at
 * least 8 readable bytes: up to 7 digits and a NUL without a branch per
 * digit.  Each byte XOR '0' is its digit; a byte is not a digit when
 * that, or that plus 6, has a high nibble (a carry out of a byte only
 * comes from a byte that is not a digit, so the first such byte is found
 * right).  The digits, moved to the top with zeros before them, are
 * summed in pairs, fours and eights by three multiplications. */
static inline int dml_parse_field(const char *s, double *out)
{
	uint64_t v;
	memcpy(&v, s, 8);
	uint64_t x = v ^ UINT64_C(0x3030303030303030);
	uint64_t nd = (x | (x + UINT64_C(0x0606060606060606))) &
		      UINT64_C(0xF0F0F0F0F0F0F0F0);
	if (nd) {
		unsigned len = (unsigned)__builtin_ctzll(nd) >> 3;
		if (len && s[len] == '\0') {
			x <<= 8 * (8 - len);
			x = (x * 10 + (x >> 8)) & UINT64_C(0x00FF00FF00FF00FF);
			x = (x * 100 + (x >> 16)) &
			    UINT64_C(0x0000FFFF0000FFFF);
			x = (x * 10000 + (x >> 32)) & UINT64_C(0xFFFFFFFF);
			/* x < 2^52: its bits below 2^52's, less 2^52, is x
			 * exactly -- without cvtsi2sd, whose merge into the
			 * old register chains one field to the next */
			uint64_t b = x | UINT64_C(0x4330000000000000);
			double d;
			memcpy(&d, &b, sizeof d);
			*out = d - 0x1p52;
			return 0;
		}
	}
	return dml_parse_double(s, out);
}

/* DML_WIDE: a loop compiled for the machine's widest vectors as well,
 * the version chosen at run time.  Products and sums stay apart (no
 * fused multiply-add), so each version computes the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	defined(__gnu_linux__)
#define DML_WIDE __attribute__((target_clones("avx512f", "avx2", "default"), \
				 optimize("fp-contract=off",		   \
					  "vect-cost-model=dynamic")))
#else
#define DML_WIDE
#endif

double dml_dot(const double *a, const double *b, size_t n);
double dml_norm_inf(const double *a, size_t n);

#endif
