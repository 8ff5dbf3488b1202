/* The lifecycle's pure parts: memory rule, heartbeat deadline, CID picking over a registry,
 * names of VMM exit statuses, and the console ring (wrap-around, tail). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "enclaved/enclave.h"
#include "enclaved/vmm_process.h"

static void test_required_memory(void **state)
{
	assert_int_equal(enclave_required_mib(0), 8);
	assert_int_equal(enclave_required_mib(1), 10); /* 1 MiB + 8, even */
	assert_int_equal(enclave_required_mib(60008), 10);
	assert_int_equal(enclave_required_mib(2u << 20), 10);
	assert_int_equal(enclave_required_mib((2u << 20) + 1), 12);
	assert_int_equal(enclave_required_mib(100ull << 20), 108);
}

static void test_heartbeat_deadline(void **state)
{
	assert_int_equal(enclave_default_heartbeat_ms(0, 0), ENCLAVE_HEARTBEAT_MIN_MS);
	assert_int_equal(enclave_default_heartbeat_ms(1ull << 30, 0), 75000);
	assert_int_equal(enclave_default_heartbeat_ms(0, 1024), 61000);
	assert_int_equal(enclave_default_heartbeat_ms(0, UINT64_MAX), UINT32_MAX);
	/* Huge inputs saturate instead of wrapping. */
	assert_int_equal(enclave_default_heartbeat_ms(1ull << 62, 0), UINT32_MAX);
}

static struct enclave *fake(struct enclaved *d, uint64_t cid, Enclaved__V1__EnclaveState st)
{
	struct enclave *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->daemon = d;
	e->channel_fd = -1;
	e->cid = cid;
	e->state = st;
	snprintf(e->name, sizeof(e->name), "e%llu", (unsigned long long)cid);
	snprintf(e->id, sizeof(e->id), "i-0000000000000000-enc%016llx", (unsigned long long)cid);
	enclave_add(d, e);
	return e;
}

static void test_cid(void **state)
{
	struct enclaved d;
	uint64_t cid = 0;

	memset(&d, 0, sizeof(d));
	assert_int_equal(enclave_pick_cid(&d, 0, &cid), 0);
	assert_int_equal(cid, 16);
	fake(&d, 16, ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING);
	fake(&d, 17, ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATED); /* free again */
	fake(&d, 100, ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_STARTING);
	assert_int_equal(enclave_pick_cid(&d, 0, &cid), 0);
	assert_int_equal(cid, 17);
	assert_int_equal(enclave_pick_cid(&d, 100, &cid), -EEXIST);
	assert_int_equal(enclave_pick_cid(&d, 17, &cid), 0);
	for (uint64_t bad = 1; bad < 4; bad++)
		assert_int_equal(enclave_pick_cid(&d, bad, &cid), -EINVAL);
	assert_int_equal(enclave_pick_cid(&d, UINT32_MAX, &cid), -EINVAL);
	assert_int_equal(enclave_pick_cid(&d, 1ull << 40, &cid), -EINVAL);
	assert_int_equal(enclave_pick_cid(&d, 4, &cid), 0);
	assert_int_equal(cid, 4);

	/* Lookup: by id, else by name; members see only their own. */
	assert_ptr_equal(enclave_find(&d, "i-0000000000000000-enc0000000000000064", NULL)->cid,
			 100);
	assert_int_equal(enclave_find(&d, NULL, "e16")->cid, 16);
	assert_null(enclave_find(&d, NULL, "nosuch"));
	assert_true(enclave_visible_to(d.registry.head, 0, true));
	assert_false(enclave_visible_to(d.registry.head, 1000, false));
	while (d.registry.head) {
		struct enclave *e = d.registry.head;
		d.registry.head = e->next;
		enclave_free(e);
	}
}

/* Finished entries are kept for Describe, but only the newest ENCLAVE_KEEP_FINISHED. */
static void test_prune(void **state)
{
	struct enclaved d;
	size_t n = 0, finished = 0;

	memset(&d, 0, sizeof(d));
	fake(&d, 5, ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_RUNNING);
	for (uint64_t i = 0; i < ENCLAVE_KEEP_FINISHED + 10; i++)
		fake(&d, 1000 + i,
		     i % 2 ? ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_FAILED
			   : ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_TERMINATED);
	fake(&d, 6, ENCLAVED__V1__ENCLAVE_STATE__ENCLAVE_STATE_STARTING);
	enclave_prune(&d);
	for (struct enclave *e = d.registry.head; e; e = e->next, n++)
		finished += !enclave_is_alive(e);
	assert_int_equal(finished, ENCLAVE_KEEP_FINISHED);
	assert_int_equal(n, ENCLAVE_KEEP_FINISHED + 2);
	assert_int_equal(d.registry.n_enclaves, n);
	assert_non_null(enclave_find(&d, NULL, "e5"));	  /* alive: kept */
	assert_null(enclave_find(&d, NULL, "e1000"));	  /* oldest: gone */
	assert_non_null(enclave_find(&d, NULL, "e1073")); /* newest: kept */
	while (d.registry.head) {
		struct enclave *e = d.registry.head;
		d.registry.head = e->next;
		enclave_free(e);
	}
}

static void test_status_text(void **state)
{
	char buf[160];

	vmm_process_describe_status(SIGSYS, buf, sizeof(buf)); /* WIFSIGNALED encoding */
	assert_string_equal(buf, "VMM killed by SIGSYS (seccomp)");
	vmm_process_describe_status(SIGKILL, buf, sizeof(buf));
	assert_string_equal(buf, "VMM killed by SIGKILL");
	vmm_process_describe_status(3 << 8, buf, sizeof(buf));
	assert_string_equal(buf, "VMM exited with status 3 (triple fault)");
	vmm_process_describe_status(99 << 8, buf, sizeof(buf));
	assert_string_equal(buf, "VMM exited with status 99 (unknown)");
}

static void test_console_ring(void **state)
{
	struct enclave *e = calloc(1, sizeof(*e));
	uint8_t *chunk = malloc(300000), *tail = NULL;
	size_t len = 0, total = 0;

	assert_non_null(e);
	assert_non_null(chunk);
	e->channel_fd = -1;
	assert_int_equal(enclave_console_tail(e, 100, &tail, &len), 0);
	assert_int_equal(len, 0);
	free(tail);
	/* 4 x 300000 bytes of a running counter: the ring keeps the last 1 MiB exactly. */
	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < 300000; i++)
			chunk[i] = (uint8_t)((total + i) % 251);
		enclave_console_append(e, chunk, 300000);
		total += 300000;
	}
	assert_int_equal(e->console_len, ENCLAVE_CONSOLE_KEEP);
	assert_int_equal(enclave_console_tail(e, 2 * ENCLAVE_CONSOLE_KEEP, &tail, &len), 0);
	assert_int_equal(len, ENCLAVE_CONSOLE_KEEP);
	for (size_t i = 0; i < len; i++)
		if (tail[i] != (uint8_t)((total - len + i) % 251))
			fail_msg("console byte %zu is %u", i, tail[i]);
	free(tail);
	assert_int_equal(enclave_console_tail(e, 10, &tail, &len), 0);
	assert_int_equal(len, 10);
	assert_int_equal(tail[9], (uint8_t)((total - 1) % 251));
	free(tail);
	free(chunk);
	enclave_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_required_memory),
	    cmocka_unit_test(test_heartbeat_deadline),
	    cmocka_unit_test(test_cid),
	    cmocka_unit_test(test_status_text),
	    cmocka_unit_test(test_prune),
	    cmocka_unit_test(test_console_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
