/* crc32c.h - CRC-32C (Castagnoli), as used by the record format. */
#ifndef DML_CRC32C_H
#define DML_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC-32C over buf; start with crc = 0. */
uint32_t dml_crc32c(uint32_t crc, const void *buf, size_t len);
/* The CRC-32C of A followed by B from crc_a of A, crc_b of B (each
 * started at 0) and B's length: pieces checksummed apart, joined. */
uint32_t dml_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

#endif
