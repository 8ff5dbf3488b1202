// clang-format off
// fuzz-sources: proto/enclaved.pb-c.c
// fuzz-pkgs: libprotobuf-c
// clang-format on
/* The request payloads of every enclaved API method, decoded as each handler's api_unpack does
 * (protobuf_c_message_unpack with the method's descriptor): the first byte picks the method.
 * A decoded message must re-encode to bytes that decode and re-encode identically, and
 * its strings must be NUL-terminated where the handlers strlen them. Handler-level checks that
 * need a running daemon are exercised by tests/integration/stress-mixed.sh's bad requests. */
#include "config.h"

#include "proto/enclaved.pb-c.h"

#include <stdlib.h>
#include <string.h>

static const ProtobufCMessageDescriptor *const requests[] = {
    &enclaved__v1__run_enclave_request__descriptor,
    &enclaved__v1__describe_enclave_request__descriptor,
    &enclaved__v1__list_enclaves_request__descriptor,
    &enclaved__v1__terminate_enclave_request__descriptor,
    &enclaved__v1__resize_enclave_request__descriptor,
    &enclaved__v1__attest_request__descriptor,
    &enclaved__v1__console_request__descriptor,
    &enclaved__v1__events_request__descriptor,
    &enclaved__v1__get_pool_request__descriptor,
    &enclaved__v1__resize_pool_request__descriptor,
    &enclaved__v1__describe_image_request__descriptor,
    &enclaved__v1__measure_image_request__descriptor,
    &enclaved__v1__version_request__descriptor,
    &enclaved__v1__health_request__descriptor,
    &enclaved__v1__get_root_certificate_request__descriptor,
};

static void check_strings(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type == PROTOBUF_C_TYPE_STRING && f->label != PROTOBUF_C_LABEL_REPEATED) {
			const char *s = *(const char *const *)((const char *)m + f->offset);
			if (!s || strlen(s) > (4u << 20))
				abort(); /* handlers read these as C strings */
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m, *again;
	uint8_t *buf;
	size_t len;

	if (size < 1)
		return 0;
	d = requests[data[0] % (sizeof(requests) / sizeof(requests[0]))];
	m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
	if (!m)
		return 0;
	check_strings(m);
	len = protobuf_c_message_get_packed_size(m);
	buf = malloc(len ? len : 1);
	if (!buf)
		abort();
	if (protobuf_c_message_pack(m, buf) != len)
		abort();
	/* The input may use overlong varints; what we encode is canonical and must decode and
	 * re-encode to the same bytes.
	 * (Unknown fields are kept verbatim, an overlong tag 0 among them, which protobuf-c then
	 * packs as a tag it refuses: the handlers never look at them, so they are not compared.) */
	again = protobuf_c_message_unpack(d, NULL, len, buf);
	if (m->n_unknown_fields) {
		if (again)
			protobuf_c_message_free_unpacked(again, NULL);
		goto out;
	}
	if (!again || protobuf_c_message_get_packed_size(again) != len)
		abort();
	{
		uint8_t *buf2 = malloc(len ? len : 1);
		if (!buf2 || protobuf_c_message_pack(again, buf2) != len || memcmp(buf, buf2, len))
			abort();
		free(buf2);
	}
	protobuf_c_message_free_unpacked(again, NULL);
out:
	protobuf_c_message_free_unpacked(m, NULL);
	free(buf);
	return 0;
}
