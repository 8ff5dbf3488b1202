/* ttrpc envelopes (Request, Response with google.rpc.Status) packed and checked, and the
 * validation Go's protobuf runtime applies that protobuf-c does not. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proto/ttrpc.pb-c.h"

/* Unpack a Request from a hostile peer. On failure returns -EBADMSG and writes the reason
 * (for the INVALID_ARGUMENT message) into why. */
int rpc_message_request_decode(const uint8_t *data, size_t len, Ttrpc__Request **out, char *why,
			       size_t why_len);

/* Response{status{code, message}, payload}. Code 0 still carries an empty Status, as Go sends. */
int rpc_message_response_encode(int code, const char *message, const uint8_t *payload, size_t len,
				uint8_t **out, size_t *out_len);

/* Request; metadata is n_metadata key/value pairs (may be 0). */
int rpc_message_request_encode(const char *service, const char *method, const uint8_t *payload,
			       size_t len, int64_t timeout_ns, const char *const *metadata,
			       size_t n_metadata, uint8_t **out, size_t *out_len);

/* 0 when s[0..len) is well-formed UTF-8 without NUL bytes. */
int rpc_message_check_string(const uint8_t *s, size_t len);
