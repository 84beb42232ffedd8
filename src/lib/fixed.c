/* fixed.c - 192-bit fixed-point exact accumulation. */
#include "fixed.h"

#include <math.h>
#include <string.h>

static void negate(struct dml_fx *x)
{
	uint64_t carry = 1;
	for (int i = 0; i < 3; i++) {
		uint64_t v = ~x->w[i] + carry;
		carry = (carry && v == 0);
		x->w[i] = v;
	}
}

static int is_negative(const struct dml_fx *x)
{
	return (int)(x->w[2] >> 63);
}

enum dml_err dml_fx_from_double(double v, struct dml_fx *out)
{
	uint64_t bits;
	memcpy(&bits, &v, 8);
	int biased = (int)((bits >> 52) & 0x7ff);
	uint64_t mant = bits & ((UINT64_C(1) << 52) - 1);
	out->w[0] = out->w[1] = out->w[2] = 0;
	if (biased == 0x7ff)
		return DML_ERANGE; /* NaN or infinity */
	if (biased == 0) {
		if (mant == 0)
			return DML_OK;
		biased = 1; /* subnormal: far below 2^-96, rounds to 0 */
	} else {
		mant |= UINT64_C(1) << 52;
	}
	/* |v| = mant * 2^(biased - 1075); times 2^96: shift by s */
	int s = biased - 1075 + DML_FX_FRAC;
	if (s >= 0) {
		if (s + 53 > 191)
			return DML_ERANGE; /* |v| >= 2^95 */
		int limb = s / 64, bit = s % 64;
		out->w[limb] = mant << bit;
		if (bit && limb + 1 < 3)
			out->w[limb + 1] = mant >> (64 - bit);
	} else {
		int r = -s;
		if (r > 54)
			return DML_OK; /* below half a unit of 2^-96 */
		uint64_t q = mant >> r;
		uint64_t rem = mant & ((UINT64_C(1) << r) - 1);
		uint64_t half = UINT64_C(1) << (r - 1);
		if (rem > half || (rem == half && (q & 1)))
			q++;
		out->w[0] = q;
	}
	if (bits >> 63)
		negate(out);
	return DML_OK;
}

double dml_fx_to_double(const struct dml_fx *x)
{
	struct dml_fx a = *x;
	int neg = is_negative(&a);
	if (neg)
		negate(&a);
	int top = 2;
	while (top >= 0 && a.w[top] == 0)
		top--;
	if (top < 0)
		return 0.0;
	int lz = __builtin_clzll(a.w[top]);
	int p = top * 64 + (63 - lz); /* index of highest set bit */
	double d;
	if (p < 64) {
		d = ldexp((double)a.w[0], -DML_FX_FRAC);
	} else {
		int lo = p - 63; /* take bits lo..p */
		int limb = lo / 64, bit = lo % 64;
		uint64_t top64 = a.w[limb] >> bit;
		if (bit && limb + 1 < 3)
			top64 |= a.w[limb + 1] << (64 - bit);
		int sticky = (a.w[limb] & ((UINT64_C(1) << bit) - 1)) != 0;
		for (int i = 0; i < limb; i++)
			sticky |= a.w[i] != 0;
		if (sticky)
			top64 |= 1;
		d = ldexp((double)top64, lo - DML_FX_FRAC);
	}
	return neg ? -d : d;
}

enum dml_err dml_fx_add(struct dml_fx *acc, const struct dml_fx *x)
{
	int sa = is_negative(acc), sx = is_negative(x);
	unsigned __int128 t = (unsigned __int128)acc->w[0] + x->w[0];
	acc->w[0] = (uint64_t)t;
	t = (t >> 64) + acc->w[1] + x->w[1];
	acc->w[1] = (uint64_t)t;
	t = (t >> 64) + acc->w[2] + x->w[2];
	acc->w[2] = (uint64_t)t;
	if (sa == sx && is_negative(acc) != sa)
		return DML_ERANGE;
	return DML_OK;
}

enum dml_err dml_fx_add_doubles(struct dml_fx *acc, const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct dml_fx f;
		enum dml_err rc = dml_fx_from_double(v[i], &f);
		if (rc)
			return rc;
		if ((rc = dml_fx_add(&acc[i], &f)))
			return rc;
	}
	return DML_OK;
}

static inline uint64_t get64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
#else
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	       (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
#endif
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

void dml_fx_store(unsigned char *dst, const struct dml_fx *x)
{
	for (int i = 0; i < 3; i++)
		put64(dst + 8 * i, x->w[i]);
}

void dml_fx_load(struct dml_fx *x, const unsigned char *src)
{
	for (int i = 0; i < 3; i++)
		x->w[i] = get64(src + 8 * i);
}

/* The same sums as dml_fx_add over each, without a branch per value:
 * the overflows are gathered and looked at once. */
enum dml_err dml_fx_add_bytes(struct dml_fx *acc, const unsigned char *buf,
			      size_t n)
{
	uint64_t over = 0;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = buf + DML_FX_BYTES * i;
		uint64_t *w = acc[i].w, a2 = w[2], x2 = get64(p + 16);
		unsigned __int128 t = (unsigned __int128)w[0] + get64(p);
		w[0] = (uint64_t)t;
		t = (t >> 64) + w[1] + get64(p + 8);
		w[1] = (uint64_t)t;
		uint64_t r2 = (uint64_t)(t >> 64) + a2 + x2;
		w[2] = r2;
		/* signed overflow: both signs alike, the result's not */
		over |= ~(a2 ^ x2) & (a2 ^ r2);
	}
	return over >> 63 ? DML_ERANGE : DML_OK;
}
