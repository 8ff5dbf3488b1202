/* EIF build+measure throughput for a 512 MiB image against `sha384sum` of the same bytes,
 * measured in the same run (page cache warm for both). Build = eif_write (copy, CRC, PCR0/1/2);
 * measure = eif_open + eif_measure (CRC, PCR0/1/2). Each PCR byte is hashed twice (PCR0 and
 * PCR1 or PCR2), the two on two threads (pcr_pair), so with two cores one pass costs about one
 * sha384sum: build+measure about 2x is the floor.
 * Usage: eif-throughput [--mib N] [--results bench/RESULTS.md] */
#include "config.h"

#include "bench/results.h"

#include "common/util.h"
#include "image/eif.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define ROW_LABEL "| EIF build+measure"

extern char **environ;

static int make_input(const char *dir, const char *name, uint64_t size, uint64_t seed, int *fd)
{
	char path[4096];
	uint64_t buf[8192], x = seed | 1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (*fd < 0)
		return -errno;
	for (uint64_t done = 0; done < size;) {
		size_t n = (size_t)UTIL_MIN((uint64_t)sizeof(buf), size - done);
		for (size_t i = 0; i < UTIL_ARRAY_SIZE(buf); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x;
		}
		int r = util_write_full(*fd, buf, n);
		if (r < 0)
			return r;
		done += n;
	}
	return 0;
}

static double run_sha384sum(const char *path)
{
	char *argv[] = {"sha384sum", (char *)path, NULL};
	posix_spawn_file_actions_t fa;
	uint64_t t0 = util_now_monotonic_ns();
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "sha384sum", &fa, NULL, argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return (double)(util_now_monotonic_ns() - t0) / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"mib", required_argument, NULL, 'm'}, {"results", required_argument, NULL, 'r'}, {0}};
	const char *results = NULL;
	uint64_t mib = 512, total;
	char dir[] = "/var/tmp/eif-bench.XXXXXX", out_path[4096], row[1024], err[256] = "";
	int kfd = -1, rfds[2] = {-1, -1}, out = -1, c, r;
	double t_build = 1e9, t_measure = 1e9, t_ref = 1e9;
	struct eif_measurements m;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm' && util_parse_u64(optarg, 1 << 16, &mib) == 0 && mib >= 16)
			continue;
		if (c == 'r') {
			results = optarg;
			continue;
		}
		fprintf(stderr, "usage: eif-throughput [--mib N>=16] [--results FILE]\n");
		return 2;
	}
	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	total = mib << 20;
	/* a Linux-sized kernel, a bootstrap ramdisk, the rest in the application ramdisk */
	r = make_input(dir, "kernel", 8 << 20, 1, &kfd);
	if (r == 0)
		r = make_input(dir, "rd1", 4 << 20, 2, &rfds[0]);
	if (r == 0)
		r = make_input(dir, "rd2", total - (12 << 20) - 4096, 3, &rfds[1]);
	snprintf(out_path, sizeof(out_path), "%s/out.eif", dir);
	for (int rep = 0; rep < 2 && r == 0; rep++) {
		struct eif_build in = {.kernel_fd = kfd,
				       .cmdline = "console=ttyS0",
				       .ramdisk_fds = rfds,
				       .n_ramdisks = 2,
				       .metadata = "{}"};
		struct eif_file eif;
		bool crc_ok = false;
		uint64_t t0;
		double ref;

		if (out >= 0)
			close(out);
		out = open(out_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (out < 0) {
			r = -errno;
			break;
		}
		t0 = util_now_monotonic_ns();
		r = eif_write(&in, out, &m, err, sizeof(err));
		if (r < 0)
			break;
		t_build = UTIL_MIN(t_build, (double)(util_now_monotonic_ns() - t0) / 1e9);
		t0 = util_now_monotonic_ns();
		r = eif_open_fd(&eif, out);
		if (r == 0)
			r = eif_measure(&eif, &m, &crc_ok);
		if (r < 0 || !crc_ok) {
			snprintf(err, sizeof(err), "%s", eif.error);
			r = r < 0 ? r : -EBADMSG;
			break;
		}
		t_measure = UTIL_MIN(t_measure, (double)(util_now_monotonic_ns() - t0) / 1e9);
		ref = run_sha384sum(out_path);
		if (ref < 0) {
			r = -EIO;
			snprintf(err, sizeof(err), "sha384sum failed");
			break;
		}
		t_ref = UTIL_MIN(t_ref, ref);
	}
	if (kfd >= 0)
		close(kfd);
	for (int i = 0; i < 2; i++)
		if (rfds[i] >= 0)
			close(rfds[i]);
	if (out >= 0)
		close(out);
	for (const char *n = "kernel\0rd1\0rd2\0out.eif\0"; *n; n += strlen(n) + 1) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, n);
		unlink(p);
	}
	rmdir(dir);
	if (r < 0) {
		fprintf(stderr, "eif-throughput: %s (%s)\n", err, strerror(-r));
		return 1;
	}
	snprintf(row, sizeof(row),
		 ROW_LABEL
		 " | %" PRIu64 " MiB EIF (kernel 8 MiB + 2 ramdisks): build %.0f MiB/s, "
		 "measure %.0f MiB/s, build+measure %.2f s = %.2fx the time of `sha384sum` "
		 "of the same file (%.2f s, %.0f MiB/s), best of 2 | "
		 "`build/<dir>/bench/eif-throughput --results bench/RESULTS.md` |",
		 mib, (double)mib / t_build, (double)mib / t_measure, t_build + t_measure,
		 (t_build + t_measure) / t_ref, t_ref, (double)mib / t_ref);
	puts(row);
	if (results && (r = bench_results_update(results, ROW_LABEL, row)) < 0) {
		fprintf(stderr, "eif-throughput: %s: %s\n", results, strerror(-r));
		return 1;
	}
	return 0;
}
