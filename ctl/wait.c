/* run-enclave --wait: stay with the enclave until it ends (systemd's enclave@.service runs
 * enclavectl as its main process). READY=1 goes to $NOTIFY_SOCKET once the enclave runs;
 * SIGTERM/SIGINT terminate the enclave. The state is polled with Describe: cheap, and it works
 * for enclaves without a console. */
#include "config.h"

#include "ctl/ctl.h"
#include "ctl/wait.h"

#include "common/util.h"

#include <signal.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#define WAIT_POLL_MS 250

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static int terminate(const char *id)
{
	Enclaved__V1__TerminateEnclaveRequest req = ENCLAVED__V1__TERMINATE_ENCLAVE_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int rc;

	req.enclave_id = (char *)id;
	rc = ctl_call(CTL_SERVICE_ENCLAVES, "Terminate", &req.base,
		      &enclaved__v1__terminate_enclave_response__descriptor, &resp);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

int ctl_wait_enclave(const char *id)
{
	struct sigaction sa = {.sa_handler = on_stop};
	bool notified = false;

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	for (;;) {
		Enclaved__V1__DescribeEnclaveRequest req =
		    ENCLAVED__V1__DESCRIBE_ENCLAVE_REQUEST__INIT;
		Enclaved__V1__DescribeEnclaveResponse *d;
		ProtobufCMessage *resp = NULL;
		Enclaved__V1__EnclaveState state;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = WAIT_POLL_MS * 1000000L};
		int rc;

		if (stop_signal) {
			(void)sd_notify(0, "STOPPING=1");
			fprintf(stderr, "enclavectl: %s: terminating enclave %s\n",
				strsignal(stop_signal), id);
			return terminate(id);
		}
		req.enclave_id = (char *)id;
		rc = ctl_call(CTL_SERVICE_ENCLAVES, "Describe", &req.base,
			      &enclaved__v1__describe_enclave_response__descriptor, &resp);
		if (rc)
			return rc;
		d = (Enclaved__V1__DescribeEnclaveResponse *)resp;
		if (!d->enclave) {
			protobuf_c_message_free_unpacked(resp, NULL);
			return ctl_fail(CTL_EXIT_BAD_RESPONSE,
					"Describe answered without an enclave");
		}
		state = d->enclave->state;
		if (state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING && !notified) {
			(void)sd_notifyf(0, "READY=1\nSTATUS=enclave %s running, CID %llu", id,
					 (unsigned long long)d->enclave->enclave_cid);
			notified = true;
		}
		if (state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATED ||
		    state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_FAILED) {
			bool failed = state == ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_FAILED;
			fprintf(stderr, "enclavectl: enclave %s %s: %s\n", id,
				failed ? "failed" : "terminated", d->enclave->state_reason);
			protobuf_c_message_free_unpacked(resp, NULL);
			return failed ? CTL_EXIT_ENCLAVE_FAILED : CTL_EXIT_OK;
		}
		protobuf_c_message_free_unpacked(resp, NULL);
		(void)nanosleep(&ts, NULL); /* a signal cuts it short */
	}
}
