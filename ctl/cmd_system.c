/* version, health, pool [resize], pki root. */
#include "config.h"

#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "ctl/getopt-util.h"
#include "ctl/progress.h"

#include "common/util.h"
#include "enclaved/git-describe.h"

#include <string.h>

/* Commands without flags other than --help: true when the command is done (--help, or a
 * usage error) with *rc its exit code. */
static bool no_flags(int argc, char **argv, const char *help, int *rc)
{
	static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {}};
	int c = ctl_getopt(argc, argv, options);

	if (c != -1)
		*rc = c == 'h' ? ctl_help(help) : ctl_bad_option(argv);
	else
		*rc = ctl_check_args(argc, argv, false, NULL, NULL);
	return c != -1 || *rc != CTL_EXIT_OK;
}

static const char version_help[] = "Usage: enclavectl version\n"
				   "Print enclavectl's version and the daemon's.\n";

int ctl_cmd_version(int argc, char **argv)
{
	Enclaved__V1__VersionRequest req = ENCLAVED__V1__VERSION_REQUEST__INIT;
	Enclaved__V1__VersionResponse *v;
	ProtobufCMessage *resp = NULL;
	struct json_object *obj;
	int rc;

	if (no_flags(argc, argv, version_help, &rc))
		return rc;
	rc = ctl_call(CTL_SERVICE_SYSTEM, "Version", &req.base,
		      &enclaved__v1__version_response__descriptor, &resp);
	if (rc) {
		fprintf(stderr, "enclavectl: client version %s\n", PACKAGE_VERSION);
		return rc;
	}
	v = (Enclaved__V1__VersionResponse *)resp;
	obj = json_object_new_object();
	json_object_object_add(obj, "ClientVersion", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(obj, "ClientGitDescribe",
			       json_object_new_string(ENCLAVED_GIT_DESCRIBE));
	json_object_object_add(obj, "DaemonVersion", json_object_new_string(v->daemon_version));
	json_object_object_add(obj, "DaemonGitDescribe", json_object_new_string(v->git_describe));
	json_object_object_add(obj, "ApiVersion", json_object_new_string(v->api_version));
	json_object_object_add(obj, "KvmApiVersion", json_object_new_int(v->kvm_api_version));
	protobuf_c_message_free_unpacked(resp, NULL);
	return ctl_print_json(obj);
}

static const char health_help[] = "Usage: enclavectl health\n"
				  "Print the daemon's uptime, connections, KVM state and enclave "
				  "count.\n";

int ctl_cmd_health(int argc, char **argv)
{
	Enclaved__V1__HealthRequest req = ENCLAVED__V1__HEALTH_REQUEST__INIT;
	Enclaved__V1__HealthResponse *h;
	ProtobufCMessage *resp = NULL;
	struct json_object *obj;
	int rc;

	if (no_flags(argc, argv, health_help, &rc))
		return rc;
	rc = ctl_call(CTL_SERVICE_SYSTEM, "Health", &req.base,
		      &enclaved__v1__health_response__descriptor, &resp);
	if (rc)
		return rc;
	h = (Enclaved__V1__HealthResponse *)resp;
	obj = json_object_new_object();
	json_object_object_add(obj, "UptimeNs", json_object_new_uint64(h->uptime_ns));
	json_object_object_add(obj, "Connections", json_object_new_int64(h->connection_count));
	json_object_object_add(obj, "KvmAvailable", json_object_new_boolean(h->kvm_available));
	json_object_object_add(obj, "EnclaveCount", json_object_new_int64(h->enclave_count));
	json_object_object_add(obj, "Status", json_object_new_string(h->status));
	json_object_object_add(obj, "DaemonPID", json_object_new_int(h->pid));
	protobuf_c_message_free_unpacked(resp, NULL);
	return ctl_print_json(obj);
}

static const char pool_help[] =
    "Usage: enclavectl pool\n"
    "       enclavectl pool resize (--cpu-count N | --cpu-ids LIST) [--memory MIB]\n"
    "       enclavectl pool resize --memory MIB\n"
    "Show the CPU and memory pool and what each enclave holds; resize it (root only).\n";

static int pool_resize(int argc, char **argv)
{
	static const struct option options[] = {
	    {"cpu-count", required_argument, NULL, 'c'},
	    {"cpu-ids", required_argument, NULL, 'i'},
	    {"memory", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	Enclaved__V1__ResizePoolRequest req = ENCLAVED__V1__RESIZE_POOL_REQUEST__INIT;
	_cleanup_free_ uint32_t *ids = NULL;
	ProtobufCMessage *resp = NULL;
	uint64_t v;
	int c, rc;

	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		switch (c) {
		case 'c':
			if ((rc = ctl_parse_u64("pool resize", "--cpu-count", optarg, 4096, &v)))
				return rc;
			req.cpu_count = (uint32_t)v;
			break;
		case 'i':
			if ((rc = ctl_parse_cpu_list("pool resize", optarg, &ids, &req.n_cpu_ids)))
				return rc;
			break;
		case 'm':
			if ((rc = ctl_parse_u64("pool resize", "--memory", optarg, 1ull << 40,
						&req.memory_mib)))
				return rc;
			break;
		case 'h':
			return ctl_help(pool_help);
		default:
			return ctl_bad_option(argv);
		}
	}
	if (optind < argc)
		return ctl_usage_error("pool resize", "unexpected argument '%s'", argv[optind]);
	if (req.cpu_count && req.n_cpu_ids)
		return ctl_usage_error("pool resize",
				       "--cpu-count and --cpu-ids exclude each other");
	if (!req.cpu_count && !req.n_cpu_ids && !req.memory_mib)
		return ctl_usage_error("pool resize", "nothing to change");
	req.cpu_ids = ids;
	struct ctl_progress_timer *waiting = ctl_progress_timer_start("resizing the pool");
	rc = ctl_call(CTL_SERVICE_POOL, "Resize", &req.base,
		      &enclaved__v1__resize_pool_response__descriptor, &resp);
	ctl_progress_timer_stop(waiting);
	if (rc)
		return rc;
	rc = ctl_print_json(ctl_json_pool(((Enclaved__V1__ResizePoolResponse *)resp)->pool));
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

int ctl_cmd_pool(int argc, char **argv)
{
	Enclaved__V1__GetPoolRequest req = ENCLAVED__V1__GET_POOL_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int rc;

	if (argc > 1 && strcmp(argv[1], "resize") == 0)
		return pool_resize(argc - 1, argv + 1);
	if (no_flags(argc, argv, pool_help, &rc))
		return rc;
	rc = ctl_call(CTL_SERVICE_POOL, "Get", &req.base,
		      &enclaved__v1__get_pool_response__descriptor, &resp);
	if (rc)
		return rc;
	rc = ctl_print_json(ctl_json_pool(((Enclaved__V1__GetPoolResponse *)resp)->pool));
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

static const char pki_help[] =
    "Usage: enclavectl pki root [--output FILE]\n"
    "Print the root certificate of the daemon's attestation PKI (JSON with the PEM and its\n"
    "SHA-384 fingerprint), or write the PEM to FILE. Verifiers pin this certificate.\n";

int ctl_cmd_pki(int argc, char **argv)
{
	static const struct option options[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	Enclaved__V1__GetRootCertificateRequest req =
	    ENCLAVED__V1__GET_ROOT_CERTIFICATE_REQUEST__INIT;
	Enclaved__V1__GetRootCertificateResponse *cert;
	ProtobufCMessage *resp = NULL;
	const char *output = NULL;
	struct json_object *obj;
	char fp[2 * 48 + 1] = "";
	int c, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (argc < 2)
			return ctl_usage_error("pki", "missing subcommand (root)");
		return ctl_help(pki_help);
	}
	if (strcmp(argv[1], "root") != 0)
		return ctl_usage_error("pki", "unknown subcommand '%s' (known: root)", argv[1]);
	argc--;
	argv++;
	while ((c = ctl_getopt(argc, argv, options)) != -1) {
		if (c == 'o')
			output = optarg;
		else if (c == 'h')
			return ctl_help(pki_help);
		else
			return ctl_bad_option(argv);
	}
	if (optind < argc)
		return ctl_usage_error("pki root", "unexpected argument '%s'", argv[optind]);
	rc = ctl_call(CTL_SERVICE_SYSTEM, "GetRootCertificate", &req.base,
		      &enclaved__v1__get_root_certificate_response__descriptor, &resp);
	if (rc)
		return rc;
	cert = (Enclaved__V1__GetRootCertificateResponse *)resp;
	if (cert->fingerprint_sha384.len <= 48)
		util_hex_encode(cert->fingerprint_sha384.data, cert->fingerprint_sha384.len, fp);
	obj = json_object_new_object();
	json_object_object_add(obj, "FingerprintSHA384", json_object_new_string(fp));
	if (output) {
		int r = util_write_file_atomic(output, cert->certificate_pem,
					       strlen(cert->certificate_pem), 0644);
		if (r < 0) {
			json_object_put(obj);
			protobuf_c_message_free_unpacked(resp, NULL);
			return ctl_fail(CTL_EXIT_LOCAL, "%s: %s", output, strerror(-r));
		}
		json_object_object_add(obj, "OutputFile", json_object_new_string(output));
	} else {
		json_object_object_add(obj, "Certificate",
				       json_object_new_string(cert->certificate_pem));
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return ctl_print_json(obj);
}
