/* fix-crc.h - make a fuzzed record stream's checksums right again.
 *
 * Almost every mutation of a record breaks its CRCs, so without this the
 * fuzzer would rarely get past the checksum checks into the decoders.
 * fix_crcs() walks the records of a buffer, member records of ensembles
 * included, and rewrites each header CRC and trailer CRC where the bytes
 * are there.  The targets run every input twice: as it is (the checks
 * themselves) and with its CRCs fixed (everything behind them). */
#ifndef FIX_CRC_H
#define FIX_CRC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"
#include "record.h"

static size_t fix_record(unsigned char *p, size_t len, int depth);

static void fix_members(unsigned char *pay, uint64_t plen, int depth)
{
	uint64_t pos = 0;
	while (plen - pos >= DML_SECTION_HEADER) {
		uint32_t tag = dml_get32(pay + pos);
		uint64_t slen = dml_get64(pay + pos + 8);
		if (slen > plen - pos - DML_SECTION_HEADER)
			return;
		if (tag == DML_SEC_MEMBER)
			fix_record(pay + pos + DML_SECTION_HEADER,
				   (size_t)slen, depth + 1);
		uint64_t padded = (slen + 7) & ~UINT64_C(7);
		if (padded > plen - pos - DML_SECTION_HEADER)
			return;
		pos += DML_SECTION_HEADER + padded;
	}
}

/* Fix one record at p; returns its length, or 0 if it is not whole. */
static size_t fix_record(unsigned char *p, size_t len, int depth)
{
	if (depth > 4 || len < DML_HEADER_SIZE ||
	    memcmp(p, DML_MAGIC, DML_MAGIC_LEN))
		return 0;
	dml_put32(p + 76, dml_crc32c(0, p, 76));
	uint64_t plen = dml_get64(p + 24);
	if (plen > len - DML_HEADER_SIZE ||
	    len - DML_HEADER_SIZE - plen < DML_TRAILER_SIZE)
		return 0;
	fix_members(p + DML_HEADER_SIZE, plen, depth);
	size_t total = DML_HEADER_SIZE + (size_t)plen;
	dml_put32(p + total, dml_crc32c(0, p, total));
	return total + DML_TRAILER_SIZE;
}

static void fix_crcs(unsigned char *p, size_t len)
{
	size_t off = 0, n;
	while (off < len && (n = fix_record(p + off, len - off, 0)) > 0)
		off += n;
}

#endif
