/* enclavectl: global options, then one command (nitro-cli's names) that makes one RPC. */
#include "config.h"

#include "ctl/commands.h"
#include "ctl/ctl.h"
#include "ctl/progress.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

struct ctl_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct ctl_command commands[] = {
    {"run-enclave", ctl_cmd_run_enclave, "start an enclave from an EIF"},
    {"describe-enclaves", ctl_cmd_describe_enclaves, "list enclaves (JSON array)"},
    {"terminate-enclave", ctl_cmd_terminate_enclave, "stop an enclave, or --all"},
    {"resize-enclave", ctl_cmd_resize_enclave, "change a running enclave's memory"},
    {"console", ctl_cmd_console, "stream a debug-mode enclave's console"},
    {"events", ctl_cmd_events, "follow enclave state changes (one JSON object per line)"},
    {"connect", ctl_cmd_connect, "connect stdin/stdout to an enclave's vsock port"},
    {"attest", ctl_cmd_attest, "get an attestation document for an enclave"},
    {"verify-attestation", ctl_cmd_verify_attestation, "verify an attestation document"},
    {"build-enclave", ctl_cmd_build_enclave, "build an EIF"},
    {"describe-eif", ctl_cmd_describe_eif, "describe an EIF file"},
    {"pcr", ctl_cmd_pcr, "compute a PCR of a file or a signing certificate"},
    {"pool", ctl_cmd_pool, "show the CPU/memory pool; 'pool resize' changes it"},
    {"pki", ctl_cmd_pki, "'pki root': the attestation root certificate"},
    {"version", ctl_cmd_version, "client and daemon versions"},
    {"health", ctl_cmd_health, "daemon health"},
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: enclavectl [--socket PATH] [--quiet] COMMAND [FLAGS...]\n"
		"Client of enclaved. Prints JSON on stdout; errors are one line on stderr.\n\n"
		"Global options:\n"
		"  -s, --socket PATH  daemon socket (default $ENCLAVED_SOCKET, else %s)\n"
		"  -q, --quiet        no progress lines on a terminal (also $ENCLAVECTL_QUIET=1)\n"
		"  -h, --help         this help; COMMAND --help for a command's flags\n"
		"  -V, --version      print enclavectl's version only\n\n"
		"Commands:\n",
		CTL_DEFAULT_SOCKET);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-20s %s\n", commands[i].name, commands[i].summary);
	fputs("\nExit codes:\n"
	      "  0        success\n"
	      "  1        usage error\n"
	      "  3        undecodable answer from the daemon\n"
	      "  4        command not built into this enclavectl yet\n"
	      "  5        local file or I/O error\n"
	      "  6        run-enclave --wait: the enclave failed\n"
	      "  10+N     the call ended with google.rpc.Code N:\n"
	      "           11 CANCELLED, 12 UNKNOWN, 13 INVALID_ARGUMENT, 14 DEADLINE_EXCEEDED,\n"
	      "           15 NOT_FOUND, 16 ALREADY_EXISTS, 17 PERMISSION_DENIED,\n"
	      "           18 RESOURCE_EXHAUSTED, 19 FAILED_PRECONDITION, 20 ABORTED,\n"
	      "           21 OUT_OF_RANGE, 22 UNIMPLEMENTED, 23 INTERNAL,\n"
	      "           24 UNAVAILABLE (also: daemon not reachable), 25 DATA_LOSS,\n"
	      "           26 UNAUTHENTICATED\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {},
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+s:qhV", options, NULL)) != -1) {
		switch (c) {
		case 's':
			ctl_set_socket(optarg);
			break;
		case 'q':
			ctl_progress_set_quiet(true);
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("enclavectl %s\n", PACKAGE_VERSION);
			return CTL_EXIT_OK;
		default:
			fprintf(stderr,
				"enclavectl: bad global option '%s' (see enclavectl --help)\n",
				argv[optind - 1]);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].run(argc - optind, argv + optind);
	}
	fprintf(stderr, "enclavectl: unknown command '%s' (see enclavectl --help)\n", argv[optind]);
	return CTL_EXIT_USAGE;
}
