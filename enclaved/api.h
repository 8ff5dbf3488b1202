/* The API dispatch table. Each service file (api_system.c, api_enclaves.c, api_pool.c,
 * api_images.c) exports a table of methods; api_register() binds them all to the rpc server
 * behind one trampoline that checks authorization before the handler runs.
 *
 * To implement a method: write its handler in the service file and put it in the table in
 * place of api_unimplemented. Handlers own the call until they reply or fail it. */
#pragma once

#include "enclaved/authz.h"
#include "enclaved/enclaved.h"
#include "rpc/rpc.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define API_PACKAGE	     "enclaved.v1"
#define API_SERVICE_ENCLAVES API_PACKAGE ".Enclaves"
#define API_SERVICE_POOL     API_PACKAGE ".Pool"
#define API_SERVICE_IMAGES   API_PACKAGE ".Images"
#define API_SERVICE_SYSTEM   API_PACKAGE ".System"

/* Who is calling, as authorization saw it. */
struct api_caller {
	struct rpc_peer peer;
	enum authz_role role;
};

struct api_method;

typedef void (*api_handler_fn)(struct enclaved *d, struct rpc_call *call,
			       const struct api_caller *caller, const struct api_method *method,
			       const uint8_t *payload, size_t len);

struct api_method {
	const char *service; /* full name, API_SERVICE_* */
	const char *method;  /* bare name */
	enum authz_need need;
	api_handler_fn handler;
};

struct api_binding {
	struct enclaved *daemon;
	const struct api_method *method;
};

extern const struct api_method api_system_methods[];
extern const size_t api_system_n_methods;
extern const struct api_method api_enclaves_methods[];
extern const size_t api_enclaves_n_methods;
extern const struct api_method api_pool_methods[];
extern const size_t api_pool_n_methods;
extern const struct api_method api_images_methods[];
extern const size_t api_images_n_methods;

/* Register every method of every table with d->server. */
int api_register(struct enclaved *d);
void api_free(struct enclaved *d);

/* The handler of every method whose issue has not landed yet. */
void api_unimplemented(struct enclaved *d, struct rpc_call *call, const struct api_caller *caller,
		       const struct api_method *method, const uint8_t *payload, size_t len);

/* Decode a request; on failure answers INVALID_ARGUMENT naming the message type and returns
 * NULL (the call is then finished). Free the result with protobuf_c_message_free_unpacked. */
ProtobufCMessage *api_unpack(struct rpc_call *call, const ProtobufCMessageDescriptor *desc,
			     const uint8_t *payload, size_t len);
/* Pack msg and reply with it; INTERNAL when out of memory. Finishes the call either way. */
int api_reply(struct rpc_call *call, const ProtobufCMessage *msg);
