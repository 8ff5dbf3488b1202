/* Drives one pool through a sequence of verbs in a single process, for the integration test:
 *   pool-tool [--sysfs-root R] [--cgroup-root C] [--state-dir D] [--reset] [--set key=value]...
 *             VERB [ARGS]... [VERB [ARGS]...]...
 * Verbs: alloc OWNER CPUS MIB | release OWNER | resize MIB | resize-cpus LIST |
 *        resize-count N | describe | teardown | sh COMMAND.
 * A verb prefixed with '!' must fail (its message is printed); otherwise any failure stops
 * the run with exit status 1. */
#include "config.h"

#include "enclaved/pool.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEASES 64

struct tool {
	struct pool *pool;
	struct pool_lease *leases[MAX_LEASES];
};

static int parse_u64(const char *s, uint64_t *out)
{
	if (util_parse_u64(s, UINT64_C(1) << 30, out) < 0) {
		fprintf(stderr, "pool-tool: '%s' is not a number\n", s);
		return -EINVAL;
	}
	return 0;
}

/* Runs one verb from argv; returns how many arguments it used, or a negative errno. */
static int run_verb(struct tool *t, char **argv, int argc, char **error)
{
	const char *verb = argv[0];
	uint64_t a, b;
	int r;

#define NEED(n)                                                                                    \
	do {                                                                                       \
		if (argc < (n) + 1) {                                                              \
			fprintf(stderr, "pool-tool: %s needs %d arguments\n", verb, (n));          \
			return -EINVAL;                                                            \
		}                                                                                  \
	} while (0)

	if (strcmp(verb, "alloc") == 0) {
		int slot = -1;
		NEED(3);
		if (parse_u64(argv[2], &a) < 0 || parse_u64(argv[3], &b) < 0)
			return -EINVAL;
		for (int i = 0; i < MAX_LEASES && slot < 0; i++)
			if (!t->leases[i])
				slot = i;
		if (slot < 0)
			return -ENOSPC;
		r = pool_alloc(t->pool, argv[1], (unsigned)a, NULL, b, &t->leases[slot], error);
		return r < 0 ? r : 4;
	}
	if (strcmp(verb, "release") == 0) {
		NEED(1);
		for (int i = 0; i < MAX_LEASES; i++) {
			if (t->leases[i] && strcmp(pool_lease_owner(t->leases[i]), argv[1]) == 0) {
				r = pool_release(t->leases[i]);
				t->leases[i] = NULL;
				return r < 0 ? r : 2;
			}
		}
		fprintf(stderr, "pool-tool: no lease '%s'\n", argv[1]);
		return -ENOENT;
	}
	if (strcmp(verb, "resize") == 0 || strcmp(verb, "resize-count") == 0) {
		NEED(1);
		if (parse_u64(argv[1], &a) < 0)
			return -EINVAL;
		r = verb[6] ? pool_resize(t->pool, NULL, (unsigned)a, 0, error)
			    : pool_resize(t->pool, NULL, 0, a, error);
		return r < 0 ? r : 2;
	}
	if (strcmp(verb, "resize-cpus") == 0) {
		struct pool_cpuset cpus;
		NEED(1);
		r = pool_cpuset_parse(argv[1], &cpus, error);
		if (r == 0)
			r = pool_resize(t->pool, &cpus, 0, 0, error);
		return r < 0 ? r : 2;
	}
	if (strcmp(verb, "describe") == 0) {
		struct pool_description d;
		_cleanup_free_ char *json = NULL;
		r = pool_describe(t->pool, &d);
		if (r < 0)
			return r;
		r = pool_description_to_json(&d, &json);
		pool_description_free(&d);
		if (r < 0)
			return r;
		printf("%s\n", json);
		fflush(stdout);
		return 1;
	}
	if (strcmp(verb, "teardown") == 0) {
		r = pool_teardown(t->pool, error);
		return r < 0 ? r : 1;
	}
	if (strcmp(verb, "sh") == 0) {
		NEED(1);
		fflush(stdout);
		r = system(argv[1]);
		if (r != 0) {
			fprintf(stderr, "pool-tool: sh '%s' failed (status %d)\n", argv[1], r);
			return -ECHILD;
		}
		return 2;
	}
	fprintf(stderr, "pool-tool: unknown verb '%s'\n", verb);
	return -EINVAL;
#undef NEED
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"sysfs-root", required_argument, NULL, 'S'},
	    {"cgroup-root", required_argument, NULL, 'C'},
	    {"state-dir", required_argument, NULL, 'D'},
	    {"reset", no_argument, NULL, 'R'},
	    {"set", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	struct pool_options opts = {0};
	struct pool_config cfg;
	struct tool t = {0};
	_cleanup_free_ char *error = NULL;
	int c, rc = 1;

	log_setup("pool-tool", LOG_LEVEL_INFO);
	pool_config_init(&cfg);
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		char *eq;
		switch (c) {
		case 'S':
			opts.sysfs_root = optarg;
			break;
		case 'C':
			opts.cgroup_root = optarg;
			break;
		case 'D':
			opts.state_dir = optarg;
			break;
		case 'R':
			opts.reset = true;
			break;
		case 's':
			eq = strchr(optarg, '=');
			if (!eq) {
				fprintf(stderr, "pool-tool: --set wants key=value, not '%s'\n",
					optarg);
				return 2;
			}
			*eq = '\0';
			if (pool_config_set(&cfg, optarg, eq + 1, &error) < 0) {
				fprintf(stderr, "pool-tool: %s\n", error);
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (pool_new(&cfg, &opts, &t.pool, &error) < 0) {
		fprintf(stderr, "pool-tool: pool: %s\n", error ? error : "failed");
		return 1;
	}
	for (int i = optind; i < argc;) {
		bool must_fail = argv[i][0] == '!';
		char *saved = argv[i];
		int used;

		if (must_fail)
			argv[i]++;
		free(error);
		error = NULL;
		used = run_verb(&t, argv + i, argc - i, &error);
		argv[i] = saved;
		if (must_fail) {
			if (used >= 0) {
				fprintf(stderr, "pool-tool: %s succeeded but must fail\n", saved);
				goto out;
			}
			printf("refused as expected: %s: %s\n", saved + 1,
			       error ? error : strerror(-used));
			fflush(stdout);
			/* A refused verb consumed the same arguments a successful one would. */
			used = strcmp(saved + 1, "alloc") == 0 ? 4
			       : strcmp(saved + 1, "describe") == 0 ||
				       strcmp(saved + 1, "teardown") == 0
				   ? 1
				   : 2;
		} else if (used < 0) {
			fprintf(stderr, "pool-tool: %s: %s\n", argv[i],
				error ? error : strerror(-used));
			goto out;
		}
		i += used;
	}
	rc = 0;
out:
	for (int i = 0; i < MAX_LEASES; i++)
		if (t.leases[i] && pool_release(t.leases[i]) < 0)
			rc = 1;
	pool_free(t.pool);
	return rc;
}
