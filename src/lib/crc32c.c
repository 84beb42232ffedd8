/* crc32c.c - CRC-32C with the SSE4.2 instruction where the CPU has it,
 * else a slicing-by-8 table.  Polynomial 0x1EDC6F41 (reflected 0x82F63B78),
 * initial value and final xor 0xFFFFFFFF: crc32c("123456789") = 0xE3069283. */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int t = 1; t < 8; t++)
			table[t][n] = (table[t - 1][n] >> 8) ^
				      table[0][table[t - 1][n] & 0xff];
}

static uint32_t crc_soft(uint32_t crc, const unsigned char *p, size_t len)
{
	pthread_once(&table_once, table_init);
	while (len && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint32_t lo = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			      (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
			      (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		lo ^= crc;
		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		      table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		      table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		      table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>

/* Long inputs go as three streams of LANE bytes at a time, so that three
 * crc32 instructions are in flight; the three registers are then joined
 * by shifting the first two over the LANE zero bytes that follow them
 * (the register update is linear), through shift[][]. */
#define LANE 4096

static uint32_t shift[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2")))
static uint32_t zeros(uint32_t c)
{
	uint64_t r = c;
	for (int i = 0; i < LANE / 8; i++)
		r = _mm_crc32_u64(r, 0);
	return (uint32_t)r;
}

static void shift_init(void)
{
	uint32_t bit[32];
	for (int i = 0; i < 32; i++)
		bit[i] = zeros(UINT32_C(1) << i);
	for (int t = 0; t < 4; t++)
		for (uint32_t n = 0; n < 256; n++) {
			uint32_t v = 0;
			for (int i = 0; i < 8; i++)
				if (n >> i & 1)
					v ^= bit[8 * t + i];
			shift[t][n] = v;
		}
}

static uint32_t shifted(uint32_t c)
{
	return shift[0][c & 0xff] ^ shift[1][(c >> 8) & 0xff] ^
	       shift[2][(c >> 16) & 0xff] ^ shift[3][c >> 24];
}

__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;
	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	if (len >= 3 * LANE)
		pthread_once(&shift_once, shift_init);
	while (len >= 3 * LANE) {
		uint64_t c1 = 0, c2 = 0;
		for (size_t i = 0; i < LANE; i += 8) {
			uint64_t a, b, d;
			memcpy(&a, p + i, 8);
			memcpy(&b, p + LANE + i, 8);
			memcpy(&d, p + 2 * LANE + i, 8);
			c = _mm_crc32_u64(c, a);
			c1 = _mm_crc32_u64(c1, b);
			c2 = _mm_crc32_u64(c2, d);
		}
		c = shifted((uint32_t)c) ^ (uint32_t)c1;
		c = shifted((uint32_t)c) ^ (uint32_t)c2;
		p += 3 * LANE;
		len -= 3 * LANE;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return (uint32_t)c;
}

static int have_hw(void)
{
	static int cached = -1;
	if (cached < 0) {
		__builtin_cpu_init();
		cached = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	}
	return cached;
}
#endif

uint32_t dml_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	crc = ~crc;
#if defined(__x86_64__) && defined(__GNUC__)
	if (have_hw())
		return ~crc_hw(crc, p, len);
#endif
	return ~crc_soft(crc, p, len);
}

/* Joining: crc_a times x^(8 len_b) modulo the polynomial, in the
 * reflected bit order, plus crc_b (the register update is linear and
 * the initial and final inversions cancel). */
static uint32_t mulmod(uint32_t a, uint32_t b)
{
	uint32_t p = 0;
	for (uint32_t m = UINT32_C(1) << 31; m; m >>= 1) {
		if (a & m)
			p ^= b;
		b = (b & 1) ? (b >> 1) ^ 0x82F63B78u : b >> 1;
	}
	return p;
}

static uint32_t x2n[68]; /* x^(2^n) modulo the polynomial */
static pthread_once_t x2n_once = PTHREAD_ONCE_INIT;

static void x2n_init(void)
{
	x2n[0] = UINT32_C(1) << 30; /* x */
	for (int n = 1; n < 68; n++)
		x2n[n] = mulmod(x2n[n - 1], x2n[n - 1]);
}

uint32_t dml_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	pthread_once(&x2n_once, x2n_init);
	uint32_t xp = UINT32_C(1) << 31; /* 1 */
	for (int k = 3; len_b; len_b >>= 1, k++) /* x^(8 len_b) */
		if (len_b & 1)
			xp = mulmod(x2n[k], xp);
	return mulmod(xp, crc_a) ^ crc_b;
}
