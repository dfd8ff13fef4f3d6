/*
 * response.h — gRPC response → REST response: the response message as JSON (whole, or the
 * response_body field), and google.rpc.Status details (grpc-status-details-bin) as the
 * "details" array of the JSON error body. A detail whose type the registry does not know is
 * rendered as {"@type": url, "value": base64} instead of failing the response.
 */
#ifndef PORTICO_TRANSCODE_RESPONSE_H
#define PORTICO_TRANSCODE_RESPONSE_H

#include "proto/proto.h"
#include "transcode/binding.h"
#include "util/buf.h"
#include "util/error.h"

/*
 * Appends the JSON of response message |pb| for binding |b| (whole message, or only the
 * response_body field) to |out|. For a google.api.HttpBody response, appends the raw data
 * instead, sets |*raw| and appends its content type to |content_type| (left empty when the
 * message has none); otherwise |*raw| is 0. Returns 0, or -1 with |err| set.
 */
int response_render(const proto_registry_t *r, const binding_rule_t *b, const uint8_t *pb, size_t len,
                    const codec_options_t *opt, util_buf_t *out, int *raw, util_buf_t *content_type, util_error_t *err);

/*
 * Appends the "details" JSON array of a serialized google.rpc.Status (|status_pb|, the
 * decoded grpc-status-details-bin) to |out|. Never fails: undecodable details are rendered
 * in the fallback form, and undecodable status bytes give "[]".
 */
void response_status_details(const proto_registry_t *r, const uint8_t *status_pb, size_t len, util_buf_t *out);

#endif
