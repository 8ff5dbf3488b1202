/* run-enclave, describe-enclaves, terminate-enclave, resize-enclave, attest. */
#include "config.h"

#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "ctl/getopt-util.h"
#include "ctl/progress.h"
#include "ctl/wait.h"

#include "common/util.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MIB (1ull << 40)

static const char run_help[] =
    "Usage: enclavectl run-enclave --eif-path FILE --memory MIB (--cpu-count N | --cpu-ids LIST)\n"
    "                              [--enclave-cid CID] [--enclave-name NAME] [--debug-mode]\n"
    "                              [--attach-console] [--heartbeat-timeout MS] [--max-memory MIB]\n"
    "                              [--wait [--reconnect-timeout SEC]]\n"
    "       enclavectl run-enclave --config FILE.json [--enclave-name NAME] [--attach-console]\n"
    "                              [--wait [--reconnect-timeout SEC]]\n"
    "Start an enclave from an EIF. Prints EnclaveName, EnclaveID, ProcessID, EnclaveCID,\n"
    "NumberOfCPUs, CPUIDs and MemoryMiB. --config takes nitro-cli's JSON keys (eif_path,\n"
    "memory_mib, cpu_count | cpu_ids, enclave_cid, debug_mode, attach_console, enclave_name).\n"
    "Run replies once the enclave sent its boot heartbeat (--heartbeat-timeout overrides the\n"
    "daemon's deadline). --wait stays until the enclave ends: exit 0 when it was terminated,\n"
    "6 when it failed; SIGTERM/SIGINT terminate it; READY=1 goes to $NOTIFY_SOCKET. When\n"
    "enclaved restarts meanwhile, it reconnects for up to --reconnect-timeout (default 60 s).\n";

/* nitro-cli's --config file: the same request from JSON keys. */
static int run_from_config(const char *path, Enclaved__V1__RunEnclaveRequest *req, bool *attach,
			   uint32_t **cpu_ids, char **eif_path, char **name)
{
	struct json_object *root = json_object_from_file(path);
	struct json_object *v;
	int rc = CTL_EXIT_OK;

	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return ctl_usage_error("run-enclave", "--config %s: not a JSON object (%s)", path,
				       json_util_get_last_err() ? json_util_get_last_err() : "");
	}
	json_object_object_foreach(root, key, val)
	{
		static const char *const known[] = {"eif_path",	      "memory_mib",  "cpu_count",
						    "cpu_ids",	      "enclave_cid", "debug_mode",
						    "attach_console", "enclave_name"};
		bool ok = false;
		for (size_t i = 0; i < UTIL_ARRAY_SIZE(known); i++)
			ok |= strcmp(key, known[i]) == 0;
		(void)val;
		if (!ok) {
			rc = ctl_usage_error("run-enclave", "--config %s: unknown key '%s'", path,
					     key);
			goto out;
		}
	}
	if (json_object_object_get_ex(root, "eif_path", &v) &&
	    (*eif_path = strdup(json_object_get_string(v))))
		req->eif_path = *eif_path;
	if (json_object_object_get_ex(root, "enclave_name", &v) &&
	    (*name = strdup(json_object_get_string(v))))
		req->enclave_name = *name;
	if (json_object_object_get_ex(root, "memory_mib", &v))
		req->memory_mib = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(root, "cpu_count", &v))
		req->cpu_count = (uint32_t)json_object_get_int64(v);
	if (json_object_object_get_ex(root, "enclave_cid", &v))
		req->enclave_cid = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(root, "debug_mode", &v))
		req->debug_mode = json_object_get_boolean(v);
	if (json_object_object_get_ex(root, "attach_console", &v))
		*attach |= json_object_get_boolean(v);
	if (json_object_object_get_ex(root, "cpu_ids", &v)) {
		size_t n =
		    json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
		*cpu_ids = calloc(n ? n : 1, sizeof(uint32_t));
		if (!*cpu_ids) {
			rc = ctl_fail(CTL_EXIT_LOCAL, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			(*cpu_ids)[i] =
			    (uint32_t)json_object_get_int64(json_object_array_get_idx(v, i));
		req->n_cpu_ids = n;
	}
out:
	json_object_put(root);
	return rc;
}

int ctl_cmd_run_enclave(int argc, char **argv)
{
	enum {
		O_EIF = 256,
		O_MEM,
		O_CPUS,
		O_CPU_IDS,
		O_CID,
		O_DEBUG,
		O_ATTACH,
		O_NAME,
		O_CONFIG,
		O_HB,
		O_MAX,
		O_WAIT,
		O_RECONNECT
	};
	static const struct option options[] = {
	    {"eif-path", required_argument, NULL, O_EIF},
	    {"memory", required_argument, NULL, O_MEM},
	    {"cpu-count", required_argument, NULL, O_CPUS},
	    {"cpu-ids", required_argument, NULL, O_CPU_IDS},
	    {"enclave-cid", required_argument, NULL, O_CID},
	    {"debug-mode", no_argument, NULL, O_DEBUG},
	    {"attach-console", no_argument, NULL, O_ATTACH},
	    {"enclave-name", required_argument, NULL, O_NAME},
	    {"config", required_argument, NULL, O_CONFIG},
	    {"heartbeat-timeout", required_argument, NULL, O_HB},
	    {"max-memory", required_argument, NULL, O_MAX},
	    {"wait", no_argument, NULL, O_WAIT},
	    {"reconnect-timeout", required_argument, NULL, O_RECONNECT},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	Enclaved__V1__RunEnclaveRequest req = ENCLAVED__V1__RUN_ENCLAVE_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	_cleanup_free_ uint32_t *cpu_ids = NULL;
	_cleanup_free_ char *eif_path = NULL;
	_cleanup_free_ char *name = NULL;
	_cleanup_free_ char *absolute_eif = NULL;
	const char *config = NULL;
	bool attach = false, other_flags = false, wait = false, reconnect_given = false;
	const char *name_flag = NULL;
	uint64_t v, reconnect_s = CTL_RECONNECT_TIMEOUT_S;
	int c, rc;

	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		other_flags |= c != O_CONFIG && c != O_ATTACH && c != O_NAME && c != O_WAIT &&
			       c != O_RECONNECT && c != 'h';
		switch (c) {
		case O_EIF:
			req.eif_path = optarg;
			break;
		case O_MEM:
			if ((rc = ctl_parse_u64(argv[0], "--memory", optarg, MAX_MIB,
						&req.memory_mib)))
				return rc;
			break;
		case O_CPUS:
			if ((rc = ctl_parse_u64(argv[0], "--cpu-count", optarg, 4096, &v)))
				return rc;
			req.cpu_count = (uint32_t)v;
			break;
		case O_CPU_IDS:
			if ((rc = ctl_parse_cpu_list(argv[0], optarg, &cpu_ids, &req.n_cpu_ids)))
				return rc;
			break;
		case O_CID:
			if ((rc = ctl_parse_u64(argv[0], "--enclave-cid", optarg, UINT32_MAX - 1,
						&req.enclave_cid)))
				return rc;
			break;
		case O_DEBUG:
			req.debug_mode = true;
			break;
		case O_ATTACH:
			attach = true;
			break;
		case O_NAME:
			name_flag = optarg;
			break;
		case O_WAIT:
			wait = true;
			break;
		case O_RECONNECT:
			if ((rc = ctl_parse_reconnect(argv[0], optarg, &reconnect_s)))
				return rc;
			reconnect_given = true;
			break;
		case O_CONFIG:
			config = optarg;
			break;
		case O_HB:
			if ((rc = ctl_parse_u64(argv[0], "--heartbeat-timeout", optarg, UINT32_MAX,
						&v)))
				return rc;
			req.heartbeat_timeout_ms = (uint32_t)v;
			break;
		case O_MAX:
			if ((rc = ctl_parse_u64(argv[0], "--max-memory", optarg, MAX_MIB,
						&req.max_memory_mib)))
				return rc;
			break;
		case 'h':
			return ctl_help(run_help);
		default:
			return ctl_bad_option(argv);
		}
	}
	if ((rc = ctl_check_args(argc, argv, false, NULL, NULL)))
		return rc;
	if (reconnect_given && !wait)
		return ctl_usage_error(argv[0], "--reconnect-timeout needs --wait");
	if (config) {
		if (other_flags)
			return ctl_usage_error(argv[0], "--config excludes every flag but "
							"--enclave-name, --attach-console, --wait "
							"and --reconnect-timeout");
		rc = run_from_config(config, &req, &attach, &cpu_ids, &eif_path, &name);
		if (rc)
			return rc;
	}
	if (name_flag)
		req.enclave_name = (char *)name_flag; /* the flag wins over the file */
	if (!req.eif_path || !*req.eif_path)
		return ctl_usage_error(argv[0], "--eif-path is required");
	if (req.memory_mib == 0)
		return ctl_usage_error(argv[0], "--memory is required");
	if ((req.cpu_count == 0) == (req.n_cpu_ids == 0))
		return ctl_usage_error(argv[0], "give exactly one of --cpu-count and --cpu-ids");
	/* The daemon opens the image itself and takes absolute paths only; resolve ours. */
	if (req.eif_path[0] != '/') {
		absolute_eif = realpath(req.eif_path, NULL);
		if (!absolute_eif)
			return ctl_fail(CTL_EXIT_LOCAL, "--eif-path %s: %s", req.eif_path,
					strerror(errno));
		req.eif_path = absolute_eif;
	}
	req.cpu_ids = cpu_ids;
	/* nitro-cli: attaching the console implies debug mode. */
	req.debug_mode |= attach;

	/* No client deadline: the daemon ends Run at its heartbeat timeout. */
	struct ctl_progress_timer *waiting =
	    ctl_progress_timer_start("waiting for the enclave's heartbeat");
	rc = ctl_call_timeout(CTL_SERVICE_ENCLAVES, "Run", &req.base,
			      &enclaved__v1__run_enclave_response__descriptor, &resp, 0);
	ctl_progress_timer_stop(waiting);
	if (rc)
		return rc;
	const Enclaved__V1__Enclave *e = ((Enclaved__V1__RunEnclaveResponse *)resp)->enclave;
	if (!e) {
		protobuf_c_message_free_unpacked(resp, NULL);
		return ctl_fail(CTL_EXIT_BAD_RESPONSE, "Run answered without an enclave");
	}
	fprintf(stderr, "Started enclave with enclave-cid: %llu, memory: %llu MiB\n",
		(unsigned long long)e->enclave_cid, (unsigned long long)e->memory_mib);
	rc = ctl_print_json(ctl_json_enclave(e, false));
	if (rc == CTL_EXIT_OK && attach) {
		Enclaved__V1__ConsoleRequest creq = ENCLAVED__V1__CONSOLE_REQUEST__INIT;
		creq.enclave_id = e->enclave_id;
		fflush(stdout);
		rc = ctl_stream(CTL_SERVICE_ENCLAVES, "Console", &creq.base, 0,
				ctl_console_write_chunk, NULL);
	}
	if (rc == CTL_EXIT_OK && wait) {
		fflush(stdout);
		rc = ctl_wait_enclave(e->enclave_id, e->enclave_cid, (uint32_t)reconnect_s);
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

static const char describe_help[] =
    "Usage: enclavectl describe-enclaves [--metadata]\n"
    "Print a JSON array of the enclaves you may see (root: all; members: their own).\n";

int ctl_cmd_describe_enclaves(int argc, char **argv)
{
	static const struct option options[] = {
	    {"metadata", no_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	Enclaved__V1__ListEnclavesRequest req = ENCLAVED__V1__LIST_ENCLAVES_REQUEST__INIT;
	Enclaved__V1__ListEnclavesResponse *list;
	ProtobufCMessage *resp = NULL;
	struct json_object *arr;
	int c, rc;

	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		if (c == 'm')
			req.metadata = true;
		else if (c == 'h')
			return ctl_help(describe_help);
		else
			return ctl_bad_option(argv);
	}
	if ((rc = ctl_check_args(argc, argv, false, NULL, NULL)))
		return rc;
	rc = ctl_call(CTL_SERVICE_ENCLAVES, "List", &req.base,
		      &enclaved__v1__list_enclaves_response__descriptor, &resp);
	if (rc)
		return rc;
	list = (Enclaved__V1__ListEnclavesResponse *)resp;
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < list->n_enclaves; i++)
		json_object_array_add(arr, ctl_json_enclave(list->enclaves[i], true));
	protobuf_c_message_free_unpacked(resp, NULL);
	return ctl_print_json(arr);
}

static const char terminate_help[] =
    "Usage: enclavectl terminate-enclave (--enclave-id ID | --enclave-name NAME | --all)\n"
    "Stop enclaves and give their CPUs and memory back to the pool. Prints EnclaveName,\n"
    "EnclaveID and Terminated (an array with --all).\n";

int ctl_cmd_terminate_enclave(int argc, char **argv)
{
	static const struct option options[] = {
	    CTL_OPTIONS_ENCLAVE,
	    {"all", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	Enclaved__V1__TerminateEnclaveRequest req = ENCLAVED__V1__TERMINATE_ENCLAVE_REQUEST__INIT;
	Enclaved__V1__TerminateEnclaveResponse *t;
	ProtobufCMessage *resp = NULL;
	struct json_object *arr;
	int c, rc;

	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		if (ctl_enclave_opt(c, optarg, &req.enclave_id, &req.enclave_name))
			continue;
		if (c == 'a')
			req.all = true;
		else if (c == 'h')
			return ctl_help(terminate_help);
		else
			return ctl_bad_option(argv);
	}
	if ((rc = ctl_check_args(argc, argv, false, NULL, NULL)))
		return rc;
	if (CTL_GIVEN(req.enclave_id) + CTL_GIVEN(req.enclave_name) + req.all != 1)
		return ctl_usage_error(
		    argv[0], "give exactly one of --enclave-id, --enclave-name and --all");
	rc = ctl_call(CTL_SERVICE_ENCLAVES, "Terminate", &req.base,
		      &enclaved__v1__terminate_enclave_response__descriptor, &resp);
	if (rc)
		return rc;
	t = (Enclaved__V1__TerminateEnclaveResponse *)resp;
	arr = json_object_new_array();
	for (size_t i = 0; arr && i < t->n_enclaves; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "EnclaveName",
				       json_object_new_string(t->enclaves[i]->enclave_name));
		json_object_object_add(o, "EnclaveID",
				       json_object_new_string(t->enclaves[i]->enclave_id));
		json_object_object_add(o, "Terminated",
				       json_object_new_boolean(t->enclaves[i]->terminated));
		json_object_array_add(arr, o);
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	if (!req.all && arr && json_object_array_length(arr) == 1) {
		struct json_object *one = json_object_get(json_object_array_get_idx(arr, 0));
		json_object_put(arr);
		return ctl_print_json(one);
	}
	return ctl_print_json(arr);
}

static const char resize_help[] =
    "Usage: enclavectl resize-enclave (--enclave-id ID | --enclave-name NAME) --memory MIB\n"
    "                                 [--wait [--timeout SEC] [--reconnect-timeout SEC]]\n"
    "Grow or shrink a running enclave's memory between its boot size and its --max-memory.\n"
    "--wait waits (default 30 s) until the guest has plugged or unplugged its way there and\n"
    "prints the enclave with its plugged size; when the guest does not get there in time it\n"
    "keeps its memory, and the exit code is 14 (DEADLINE_EXCEEDED). A restart of enclaved\n"
    "meanwhile is ridden out for up to --reconnect-timeout (default 60 s).\n";

int ctl_cmd_resize_enclave(int argc, char **argv)
{
	static const struct option options[] = {
	    CTL_OPTIONS_ENCLAVE,
	    {"memory", required_argument, NULL, 'm'},
	    {"wait", no_argument, NULL, 'w'},
	    {"timeout", required_argument, NULL, 't'},
	    {"reconnect-timeout", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	Enclaved__V1__ResizeEnclaveRequest req = ENCLAVED__V1__RESIZE_ENCLAVE_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	uint64_t timeout_s = 30, reconnect_s = CTL_RECONNECT_TIMEOUT_S;
	bool wait = false, timeout_given = false, reconnect_given = false;
	int c, rc;

	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		if (ctl_enclave_opt(c, optarg, &req.enclave_id, &req.enclave_name))
			continue;
		switch (c) {
		case 'm':
			if ((rc = ctl_parse_u64(argv[0], "--memory", optarg, MAX_MIB,
						&req.memory_mib)))
				return rc;
			break;
		case 'w':
			wait = true;
			break;
		case 't':
			if ((rc = ctl_parse_u64(argv[0], "--timeout", optarg, 86400, &timeout_s)))
				return rc;
			timeout_given = true;
			break;
		case 'r':
			if ((rc = ctl_parse_reconnect(argv[0], optarg, &reconnect_s)))
				return rc;
			reconnect_given = true;
			break;
		case 'h':
			return ctl_help(resize_help);
		default:
			return ctl_bad_option(argv);
		}
	}
	if ((rc = ctl_check_args(argc, argv, true, req.enclave_id, req.enclave_name)))
		return rc;
	if (req.memory_mib == 0)
		return ctl_usage_error(argv[0], "--memory is required");
	if (timeout_given && (!wait || timeout_s == 0))
		return ctl_usage_error(argv[0], "--timeout needs --wait and at least 1 second");
	if (reconnect_given && !wait)
		return ctl_usage_error(argv[0], "--reconnect-timeout needs --wait");
	rc = ctl_call(CTL_SERVICE_ENCLAVES, "Resize", &req.base,
		      &enclaved__v1__resize_enclave_response__descriptor, &resp);
	if (rc)
		return rc;
	const Enclaved__V1__Enclave *e = ((Enclaved__V1__ResizeEnclaveResponse *)resp)->enclave;
	if (e && wait)
		rc = ctl_wait_resize(e->enclave_id, req.memory_mib, (uint32_t)timeout_s,
				     (uint32_t)reconnect_s);
	else
		rc = e ? ctl_print_json(ctl_json_enclave(e, true))
		       : ctl_fail(CTL_EXIT_BAD_RESPONSE, "Resize answered without an enclave");
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

static const char attest_help[] =
    "Usage: enclavectl attest (--enclave-id ID | --enclave-name NAME) [--nonce HEX]\n"
    "                         [--user-data TEXT] [--public-key FILE] [--output FILE]\n"
    "Ask enclaved for an attestation document over the enclave's PCRs. Prints EnclaveID,\n"
    "DocumentSize and the document in base64, or writes it (raw COSE_Sign1) to --output.\n";

static int read_small_file(const char *path, size_t max, ProtobufCBinaryData *out)
{
	char *buf = NULL;
	size_t len = 0;
	int r = util_read_file(path, max, &buf, &len);

	if (r < 0)
		return ctl_fail(CTL_EXIT_LOCAL, "%s: %s", path, strerror(-r));
	out->data = (uint8_t *)buf;
	out->len = len;
	return CTL_EXIT_OK;
}

int ctl_cmd_attest(int argc, char **argv)
{
	static const struct option options[] = {
	    CTL_OPTIONS_ENCLAVE,
	    {"nonce", required_argument, NULL, 'N'},
	    {"user-data", required_argument, NULL, 'u'},
	    {"public-key", required_argument, NULL, 'k'},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	Enclaved__V1__AttestRequest req = ENCLAVED__V1__ATTEST_REQUEST__INIT;
	uint8_t nonce[512];
	_cleanup_free_ uint8_t *key = NULL;
	_cleanup_free_ char *b64 = NULL;
	ProtobufCMessage *resp = NULL;
	const char *output = NULL;
	int c, rc;

	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		if (ctl_enclave_opt(c, optarg, &req.enclave_id, &req.enclave_name))
			continue;
		switch (c) {
		case 'N':
			if (util_hex_decode(optarg, nonce, sizeof(nonce), &req.nonce.len) < 0)
				return ctl_usage_error(argv[0], "--nonce: not an even-length hex "
								"string of at most 512 bytes");
			req.nonce.data = nonce;
			break;
		case 'u':
			req.user_data.data = (uint8_t *)optarg;
			req.user_data.len = strlen(optarg);
			break;
		case 'k':
			free(key);
			if ((rc = read_small_file(optarg, 1024, &req.public_key)))
				return rc;
			key = req.public_key.data;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			return ctl_help(attest_help);
		default:
			return ctl_bad_option(argv);
		}
	}
	if ((rc = ctl_check_args(argc, argv, true, req.enclave_id, req.enclave_name)))
		return rc;
	if (req.user_data.len > 512)
		return ctl_usage_error(argv[0], "--user-data: at most 512 bytes");
	rc = ctl_call(CTL_SERVICE_ENCLAVES, "Attest", &req.base,
		      &enclaved__v1__attest_response__descriptor, &resp);
	if (rc)
		return rc;
	const ProtobufCBinaryData *doc = &((Enclaved__V1__AttestResponse *)resp)->document;
	struct json_object *obj = json_object_new_object();
	json_object_object_add(obj, "EnclaveID",
			       json_object_new_string(req.enclave_id ? req.enclave_id : ""));
	json_object_object_add(obj, "DocumentSize", json_object_new_uint64(doc->len));
	if (output) {
		int r = util_write_file_atomic(output, doc->data, doc->len, 0644);
		if (r < 0) {
			json_object_put(obj);
			protobuf_c_message_free_unpacked(resp, NULL);
			return ctl_fail(CTL_EXIT_LOCAL, "%s: %s", output, strerror(-r));
		}
		json_object_object_add(obj, "OutputFile", json_object_new_string(output));
	} else {
		b64 = malloc(4 * ((doc->len + 2) / 3) + 1);
		if (b64) {
			EVP_EncodeBlock((unsigned char *)b64, doc->data, (int)doc->len);
			json_object_object_add(obj, "Document", json_object_new_string(b64));
		}
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return ctl_print_json(obj);
}
