/* error.c - error codes to text. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *dml_strerror(enum dml_err code)
{
	/* No default: the compiler flags a code without a message. */
	switch (code) {
	case DML_OK: return "success";
	case DML_ENOMEM: return "out of memory";
	case DML_EIO: return "input/output error";
	case DML_EEMPTY: return "empty input";
	case DML_ETRUNC: return "truncated record";
	case DML_EMAGIC: return "not a dml record (bad magic)";
	case DML_EVERSION: return "unsupported format version";
	case DML_EHEADER: return "header checksum mismatch";
	case DML_ECHECKSUM: return "checksum mismatch";
	case DML_ETOOBIG: return "size out of bounds";
	case DML_EFORMAT: return "malformed record";
	case DML_EUNSUPPORTED: return "unsupported record contents";
	case DML_ECSV: return "malformed CSV";
	case DML_EFIELDS: return "wrong number of fields";
	case DML_ENUMBER: return "not a number";
	case DML_ENOLABEL: return "label column not found";
	case DML_ENOCOLUMN: return "column not found";
	case DML_ESCHEMA: return "feature schemas differ";
	case DML_EKIND: return "wrong record kind";
	case DML_EMISMATCH: return "records do not match";
	case DML_EDUPLICATE: return "duplicate contribution";
	case DML_ERANGE: return "value out of range";
	case DML_ELABELS: return "unusable labels";
	case DML_EPARAM: return "invalid parameter";
	}
	return "unknown error";
}

enum dml_err dml_fail(struct dml_error *err, enum dml_err code,
		      const char *fmt, ...)
{
	if (err) {
		err->code = code;
		if (fmt) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(err->detail, sizeof err->detail, fmt, ap);
			va_end(ap);
		} else {
			err->detail[0] = '\0';
		}
	}
	return code;
}

void dml_error_clear(struct dml_error *err)
{
	if (err)
		memset(err, 0, sizeof *err);
}

void dml_error_format(const struct dml_error *err, const char *input,
		      char *buf, size_t size)
{
	const char *msg = err->detail[0] ? err->detail
					 : dml_strerror(err->code);
	if (err->line && err->column)
		snprintf(buf, size, "%s:%llu:%llu: %s", input,
			 (unsigned long long)err->line,
			 (unsigned long long)err->column, msg);
	else if (err->line)
		snprintf(buf, size, "%s:%llu: %s", input,
			 (unsigned long long)err->line, msg);
	else if (err->record)
		snprintf(buf, size, "%s: record %llu: %s", input,
			 (unsigned long long)err->record, msg);
	else
		snprintf(buf, size, "%s: %s", input, msg);
}
