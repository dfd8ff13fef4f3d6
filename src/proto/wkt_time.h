/*
 * wkt_time.h — text forms of google.protobuf.Timestamp and Duration under the proto3
 * JSON mapping. Timestamp: RFC 3339 "1972-01-01T10:00:20.021Z", range
 * 0001-01-01T00:00:00Z ..  9999-12-31T23:59:59.999999999Z, offsets ("+01:00") accepted on
 * input, output always 'Z' with 0, 3, 6 or 9 fractional digits. Duration: "1.5s", "-0.000001s",
 * range +-315576000000 s, same fractional digit rule, nanos sign must agree with seconds.
 */
#ifndef PORTICO_PROTO_WKT_TIME_H
#define PORTICO_PROTO_WKT_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define WKT_TIMESTAMP_MIN_SECONDS (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define WKT_TIMESTAMP_MAX_SECONDS 253402300799LL   /* 9999-12-31T23:59:59Z */
#define WKT_DURATION_MAX_SECONDS 315576000000LL

/* Each returns 0, or -1 when the value is out of range (nothing is appended then). */
int wkt_timestamp_format(util_buf_t *out, int64_t seconds, int32_t nanos);
int wkt_duration_format(util_buf_t *out, int64_t seconds, int32_t nanos);
/* Each returns 0, or -1 when |text| is not a valid, in-range value. */
int wkt_timestamp_parse(const char *text, size_t len, int64_t *seconds, int32_t *nanos);
int wkt_duration_parse(const char *text, size_t len, int64_t *seconds, int32_t *nanos);

#endif
