/* The daemon's enclave side: the pool from [pool], the VMM sandbox account from [vmm], SIGCHLD
 * for VMM deaths, re-adoption and liveness at start; at stop, enclaves keep running (their
 * VMMs wait for the next daemon on control.sock) and the pool stays while they hold it. */
#include "config.h"

#include "enclaved/api_enclaves.h"
#include "enclaved/enclave.h"
#include "enclaved/state.h"

#include "common/log.h"
#include "common/util.h"

#include <event2/event.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>

static void on_sigchld(evutil_socket_t sig, short events, void *userdata)
{
	enclave_reap_all(userdata);
}

static void resolve_sandbox_user(struct enclaved *d)
{
	const char *name = d->config.vmm_user ? d->config.vmm_user : CONFIG_DEFAULT_VMM_USER;
	struct passwd *pw = getpwnam(name);

	if (pw && pw->pw_uid != 0) {
		d->sandbox_uid = pw->pw_uid;
		d->sandbox_gid = pw->pw_gid;
		return;
	}
	d->sandbox_uid = 65534;
	d->sandbox_gid = 65534;
	log_warn("[vmm] user '%s' %s: VMMs run as nobody (65534:65534); create the account so "
		 "that no other service shares the VMMs' uid",
		 name, pw ? "is root" : "does not exist");
}

int enclaved_enclaves_start(struct enclaved *d)
{
	struct pool_options po = {
	    .sysfs_root = "/",
	    .cgroup_root = d->opts.cgroup_root,
	    .state_dir = d->opts.state_dir,
	};
	int r;

	resolve_sandbox_user(d);
	r = pool_new(&d->config.pool, &po, &d->pool, &d->pool_error);
	if (r < 0) {
		/* The daemon still serves (Version, Health, Images); Run and Pool say why. */
		log_error("pool: %s; enclaves cannot run until it is fixed",
			  d->pool_error ? d->pool_error : strerror(-r));
		d->pool = NULL;
	}
	d->sig_chld = evsignal_new(d->base, SIGCHLD, on_sigchld, d);
	if (!d->sig_chld || event_add(d->sig_chld, NULL) < 0)
		return -ENOMEM;
	/* Enclaves an earlier daemon left running (SIGTERM, SIGKILL or a crash). */
	r = state_adopt_all(d);
	if (r < 0)
		log_error("re-adoption: cannot read %s/" STATE_RECORD_DIR ": %s",
			  d->opts.runtime_dir, strerror(-r));
	return enclave_liveness_start(d);
}

void enclaved_enclaves_stop(struct enclaved *d)
{
	_cleanup_free_ char *error = NULL;

	enclave_liveness_stop(d);
	api_run_stop(d);
	enclave_shutdown_all(d);
	if (d->sig_chld)
		event_free(d->sig_chld);
	d->sig_chld = NULL;
	if (d->pool) {
		/* Leases of enclaves left running keep the hugepages and cgroups for the next
		 * daemon (pool_teardown refuses with -EBUSY; pool_free forgets them). */
		int r = pool_teardown(d->pool, &error);
		if (r == -EBUSY)
			log_info("pool kept for the enclaves left running: %s", error ? error : "");
		else if (r < 0)
			log_warn("pool teardown: %s", error ? error : strerror(-r));
		pool_free(d->pool);
		d->pool = NULL;
	}
	free(d->pool_error);
	d->pool_error = NULL;
}
