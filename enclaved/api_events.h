/* Enclaves.Events: a server stream of what happens to the enclaves a caller may see (root: all;
 * members: their own), optionally one enclave by id. On subscription every matching enclave is
 * sent once as a SNAPSHOT (so a client never misses a change between a Describe and its
 * subscription); then each transition the registry makes is sent as it happens.
 *
 * The registry reports transitions through one hook, enclave_emit_event(), called where the
 * state or memory changes (enclave.c, api_resize.c). Subscribers are bounded in number (total
 * and per uid) and in the unread output each may let pile up: one that falls behind is ended
 * with RESOURCE_EXHAUSTED instead of growing the daemon. */
#pragma once

#include "enclaved/api_enclaves.h"
#include "enclaved/enclave.h"

#include <stddef.h>

#define EVENTS_MAX_SUBSCRIBERS 256u
#define EVENTS_MAX_PER_UID     32u
/* Unread bytes a subscriber's connection may hold before its stream is ended (~1000 events). */
#define EVENTS_MAX_UNREAD (256u << 10)

API_ENCLAVES_HANDLER(api_enclaves_events);

/* Tell every subscriber that may see e what just happened to it (its state, reason and memory
 * as they are now). Also ends console streams' disconnect timers of an enclave that ended. */
void enclave_emit_event(struct enclave *e, Enclaved__V1__EnclaveEventKind kind);

/* Open Events streams (tests and Health). */
size_t api_events_subscriber_count(void);

/* api_console.c: an enclave ended; drop its console streams' disconnect timers (the streams
 * themselves are closed by enclave_finish). */
void api_console_enclave_ended(struct enclave *e);
