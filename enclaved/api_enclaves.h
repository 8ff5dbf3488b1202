/* Handlers of enclaved.v1.Enclaves, one file per role: api_run.c (Run), api_query.c
 * (Describe, List), api_terminate.c (Terminate), api_console.c (Console). */
#pragma once

#include "enclaved/api.h"

#define API_ENCLAVES_HANDLER(name)                                                                 \
	void name(struct enclaved *d, struct rpc_call *call, const struct api_caller *caller,      \
		  const struct api_method *method, const uint8_t *payload, size_t len)

API_ENCLAVES_HANDLER(api_enclaves_run);
/* At daemon stop: wait for the Runs still measuring their image and refuse them. */
void api_run_stop(struct enclaved *d);
API_ENCLAVES_HANDLER(api_enclaves_describe);
API_ENCLAVES_HANDLER(api_enclaves_list);
API_ENCLAVES_HANDLER(api_enclaves_terminate);
API_ENCLAVES_HANDLER(api_enclaves_console);
API_ENCLAVES_HANDLER(api_enclaves_resize); /* api_resize.c */
