/* enclave-vmm: one process per enclave. Daemon mode (--channel FD) takes its config from
 * enclaved; standalone mode (--standalone) takes it from flags, for tests and development. */
#include "config.h"

#include "common/log.h"
#include "common/util.h"
#include "image/eif.h"
#include "vmm/boot.h"
#include "vmm/channel.h"
#include "vmm/event.h"
#include "vmm/kvm.h"
#include "vmm/sandbox.h"
#include "vmm/serial.h"
#include "vmm/vcpu.h"
#include "vmm/virtio_mem.h"
#include "vmm/virtio_mmio.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define MAX_INITRDS	 8
#define MAX_KERNEL_BYTES (512ULL << 20)
#define HALT_POLL_NS	 (50ULL * 1000 * 1000)
#define CMDLINE_BUF	 BOOT_CMDLINE_MAX

struct options {
	bool standalone;
	int channel_fd;
	const char *eif;
	const char *kernel;
	const char *initrds[MAX_INITRDS];
	unsigned nr_initrds;
	const char *cmdline;
	const char *console;
	bool sandbox;
	bool test_forbidden_syscall;
};

struct image {
	uint8_t *kernel;
	size_t kernel_len;
	uint8_t *initrd[EIF_MAX_SECTIONS];
	size_t initrd_len[EIF_MAX_SECTIONS];
	unsigned nr_initrds;
	char *cmdline;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: enclave-vmm --channel FD\n"
		   "       enclave-vmm --standalone (--eif F | --kernel F [--initrd F]... "
		   "[--cmdline S])\n"
		   "                   --memory-mib M --cpus C[,C...] [--cid N] [--debug]\n"
		   "                   [--runtime-dir D] [--console FILE]\n"
		   "                   [--max-memory-mib M [--resize-after-ms T:MiB]...]\n"
		   "                   [--sandbox-uid U --sandbox-gid G] [--verbose]\n");
}

static int parse_cpus(const char *s, struct vmm_config *cfg)
{
	_cleanup_free_ char *copy = strdup(s);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	cfg->nr_vcpus = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (cfg->nr_vcpus >= VMM_MAX_VCPUS || util_parse_u64(t, 4095, &v) < 0)
			return -EINVAL;
		cfg->vcpu_cpus[cfg->nr_vcpus++] = (int)v;
	}
	return cfg->nr_vcpus ? 0 : -EINVAL;
}

static int parse_args(int argc, char **argv, struct options *o, struct vmm_config *cfg)
{
	enum {
		O_STANDALONE = 256,
		O_CHANNEL,
		O_EIF,
		O_KERNEL,
		O_INITRD,
		O_CMDLINE,
		O_MEMORY,
		O_CPUS,
		O_CID,
		O_DEBUG,
		O_RUNTIME,
		O_CONSOLE,
		O_SUID,
		O_SGID,
		O_VERBOSE,
		O_FORBIDDEN,
		O_MAX_MEMORY,
		O_RESIZE_AFTER,
		O_HELP
	};
	static const struct option opts[] = {
	    {"standalone", no_argument, NULL, O_STANDALONE},
	    {"channel", required_argument, NULL, O_CHANNEL},
	    {"eif", required_argument, NULL, O_EIF},
	    {"kernel", required_argument, NULL, O_KERNEL},
	    {"initrd", required_argument, NULL, O_INITRD},
	    {"cmdline", required_argument, NULL, O_CMDLINE},
	    {"memory-mib", required_argument, NULL, O_MEMORY},
	    {"cpus", required_argument, NULL, O_CPUS},
	    {"cid", required_argument, NULL, O_CID},
	    {"debug", no_argument, NULL, O_DEBUG},
	    {"runtime-dir", required_argument, NULL, O_RUNTIME},
	    {"console", required_argument, NULL, O_CONSOLE},
	    {"sandbox-uid", required_argument, NULL, O_SUID},
	    {"sandbox-gid", required_argument, NULL, O_SGID},
	    {"verbose", no_argument, NULL, O_VERBOSE},
	    {"test-forbidden-syscall", no_argument, NULL, O_FORBIDDEN},
	    {"max-memory-mib", required_argument, NULL, O_MAX_MEMORY},
	    {"resize-after-ms", required_argument, NULL, O_RESIZE_AFTER},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	uint64_t v;
	int c;

	o->channel_fd = -1;
	cfg->cid = 16;
	cfg->nr_vcpus = 1;
	cfg->vcpu_cpus[0] = -1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_STANDALONE:
			o->standalone = true;
			break;
		case O_CHANNEL:
			if (util_parse_u64(optarg, INT32_MAX, &v) < 0)
				goto bad;
			o->channel_fd = (int)v;
			break;
		case O_EIF:
			o->eif = optarg;
			break;
		case O_KERNEL:
			o->kernel = optarg;
			break;
		case O_INITRD:
			if (o->nr_initrds >= MAX_INITRDS)
				goto bad;
			o->initrds[o->nr_initrds++] = optarg;
			break;
		case O_CMDLINE:
			o->cmdline = optarg;
			break;
		case O_MEMORY:
			if (util_parse_u64(optarg, VMM_MEMORY_MAX >> 20, &v) < 0)
				goto bad;
			cfg->memory_bytes = v << 20;
			break;
		case O_CPUS:
			if (parse_cpus(optarg, cfg) < 0)
				goto bad;
			break;
		case O_CID:
			if (util_parse_u64(optarg, UINT32_MAX - 1, &v) < 0 || v < 4)
				goto bad;
			cfg->cid = v;
			break;
		case O_DEBUG:
			cfg->debug = true;
			break;
		case O_RUNTIME:
			if (strlen(optarg) >= sizeof(cfg->runtime_dir))
				goto bad;
			strcpy(cfg->runtime_dir, optarg);
			break;
		case O_CONSOLE:
			o->console = optarg;
			break;
		case O_SUID:
			if (util_parse_u64(optarg, UINT32_MAX - 1, &v) < 0)
				goto bad;
			cfg->sandbox_uid = (uid_t)v;
			o->sandbox = true;
			break;
		case O_SGID:
			if (util_parse_u64(optarg, UINT32_MAX - 1, &v) < 0)
				goto bad;
			cfg->sandbox_gid = (gid_t)v;
			break;
		case O_VERBOSE:
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case O_FORBIDDEN:
			o->test_forbidden_syscall = true;
			break;
		case O_MAX_MEMORY:
			if (util_parse_u64(optarg, VMM_MEMORY_MAX >> 20, &v) < 0)
				goto bad;
			cfg->max_memory_bytes = v << 20;
			break;
		case O_RESIZE_AFTER: /* test hook: T:MiB, repeatable */
			if (virtio_mem_test_resize_add(optarg) < 0)
				goto bad;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			goto bad;
		}
	}
	if (optind != argc || o->standalone == (o->channel_fd >= 0))
		goto bad;
	if (o->standalone && (!o->eif == !o->kernel || cfg->memory_bytes == 0))
		goto bad;
	snprintf(cfg->enclave_id, sizeof(cfg->enclave_id), "standalone-%d", (int)getpid());
	return 0;
bad:
	if (c != -1 && optarg)
		log_error("invalid value '%s' for an option", optarg);
	usage(stderr);
	return -EINVAL;
}

static int read_whole(const char *path, uint64_t max, uint8_t **out, size_t *len)
{
	char *buf = NULL;
	int r = util_read_file(path, max, &buf, len);

	if (r < 0) {
		log_error("reading %s: %s", path, strerror(-r));
		return r;
	}
	*out = (uint8_t *)buf;
	return 0;
}

static int read_section(struct eif_file *eif, unsigned idx, uint64_t max, uint8_t **out,
			size_t *len)
{
	uint64_t size = eif->sections[idx].size;
	uint8_t *buf;
	int r;

	if (size > max) {
		log_error("EIF: %s section %u of %llu bytes is larger than %llu",
			  eif_section_type_name(eif->sections[idx].type), idx,
			  (unsigned long long)size, (unsigned long long)max);
		return -E2BIG;
	}
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	r = eif_section_pread(eif, idx, 0, buf, size);
	if (r < 0) {
		free(buf);
		log_error("EIF: reading section %u: %s", idx, eif->error);
		return r;
	}
	*out = buf;
	*len = size;
	return 0;
}

static int load_eif(int fd, const char *path, uint64_t mem_bytes, struct image *img)
{
	struct eif_file eif = {0};
	uint8_t *cmd = NULL;
	size_t cmd_len = 0;
	int r;

	r = fd >= 0 ? eif_open_fd(&eif, fd) : eif_open(&eif, path);
	if (r < 0) {
		log_error("EIF %s: %s", fd >= 0 ? "(fd)" : path, eif.error);
		goto out;
	}
	r = read_section(&eif, (unsigned)eif.kernel, UTIL_MIN(mem_bytes, MAX_KERNEL_BYTES),
			 &img->kernel, &img->kernel_len);
	if (r < 0)
		goto out;
	if (eif.cmdline >= 0) {
		r = eif_section_read_all(&eif, (unsigned)eif.cmdline, EIF_MAX_CMDLINE, &cmd,
					 &cmd_len);
		if (r < 0) {
			log_error("EIF: cmdline: %s", eif.error);
			goto out;
		}
		img->cmdline = (char *)cmd;
	}
	for (unsigned i = 0; i < eif.n_sections; i++) {
		if (eif.sections[i].type != EIF_SECTION_RAMDISK)
			continue;
		r = read_section(&eif, i, mem_bytes, &img->initrd[img->nr_initrds],
				 &img->initrd_len[img->nr_initrds]);
		if (r < 0)
			goto out;
		img->nr_initrds++;
	}
	r = 0;
out:
	eif_close(&eif);
	return r;
}

static int load_image(const struct options *o, int eif_fd, const char *eif_path,
		      const struct vmm_config *cfg, struct image *img)
{
	int r;

	if (eif_fd >= 0 || o->eif || !o->standalone)
		return load_eif(eif_fd, o->eif ? o->eif : eif_path, cfg->memory_bytes, img);
	r = read_whole(o->kernel, UTIL_MIN(cfg->memory_bytes, MAX_KERNEL_BYTES), &img->kernel,
		       &img->kernel_len);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < o->nr_initrds; i++) {
		r = read_whole(o->initrds[i], cfg->memory_bytes, &img->initrd[i],
			       &img->initrd_len[i]);
		if (r < 0)
			return r;
		img->nr_initrds++;
	}
	img->cmdline = strdup(o->cmdline ? o->cmdline : "");
	return img->cmdline ? 0 : -ENOMEM;
}

static void image_free(struct image *img)
{
	free(img->kernel);
	for (unsigned i = 0; i < img->nr_initrds; i++)
		free(img->initrd[i]);
	free(img->cmdline);
	*img = (struct image){0};
}

static int boot_image(struct vmm *vmm, const struct image *img, struct boot_info *info)
{
	_cleanup_free_ char *cmdline = calloc(1, CMDLINE_BUF);
	const uint8_t *initrds[EIF_MAX_SECTIONS];
	int r;

	if (!cmdline)
		return -ENOMEM;
	if (img->cmdline && strlen(img->cmdline) >= CMDLINE_BUF)
		return log_error("command line too long"), -E2BIG;
	strcpy(cmdline, img->cmdline ? img->cmdline : "");
	/* Measured cmdline first; the device list is appended after measurement (as QEMU's
	 * nitro-enclave machine does). */
	r = virtio_mmio_cmdline(vmm, cmdline, CMDLINE_BUF);
	if (r < 0)
		return log_error("command line too long with the virtio devices"), r;
	for (unsigned i = 0; i < img->nr_initrds; i++)
		initrds[i] = img->initrd[i];
	return boot_load(&vmm->mem, img->kernel, img->kernel_len, initrds, img->initrd_len,
			 img->nr_initrds, cmdline, info);
}

struct console_sink {
	struct vmm *vmm;
	int fd; /* standalone: stdout or the console file */
};

static void console_out(void *opaque, const uint8_t *data, size_t len)
{
	struct console_sink *s = opaque;

	if (s->vmm->channel)
		vmm_channel_send_console(s->vmm, data, len);
	else if (s->fd >= 0 && util_write_full(s->fd, data, len) < 0)
		s->fd = -1; /* a closed console must not stop the enclave */
}

static void on_signal(int fd, uint32_t events, void *opaque)
{
	struct vmm *vmm = opaque;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		vmm_end(vmm, VMM_EXIT_TERMINATED, "terminated by signal %u", si.ssi_signo);
}

static void poll_halt(void *opaque)
{
	vmm_vcpus_poll_halt(opaque);
}

static int vcpu_thread_init(void *opaque, unsigned index)
{
	const struct options *o = opaque;
	return o->sandbox ? sandbox_seccomp_vcpu() : 0;
}

int main(int argc, char **argv)
{
	static struct vmm vmm;
	struct options o = {0};
	struct image img = {0};
	struct boot_info boot;
	struct console_sink sink = {.vmm = &vmm, .fd = STDOUT_FILENO};
	char eif_path[4096] = "";
	int mem_fd = -1, eif_fd = -1, sig_fd = -1, r;
	sigset_t sigs;

	log_setup("enclave-vmm", LOG_LEVEL_INFO);
	if (parse_args(argc, argv, &o, &vmm.config) < 0)
		return VMM_EXIT_ERROR;
	/* Nothing enclaved (or a shell) left open reaches the guest's process. */
	sandbox_close_inherited_fds(o.channel_fd);
	if (o.channel_fd >= 0) {
		r = vmm_channel_recv_config(o.channel_fd, &vmm.config, &mem_fd, &eif_fd, eif_path,
					    sizeof(eif_path));
		if (r < 0)
			return VMM_EXIT_ERROR;
		o.sandbox = vmm.config.sandbox_uid != 0;
	}
	if (o.console && o.standalone) {
		sink.fd =
		    open(o.console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
		if (sink.fd < 0) {
			log_error("console file %s: %m", o.console);
			return VMM_EXIT_ERROR;
		}
	}
	if (o.sandbox && sandbox_fork_pid_ns() < 0)
		return VMM_EXIT_ERROR;

	/* Signals are taken on the event loop; blocked before any thread exists. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((r = vmm_memory_init(&vmm.mem, mem_fd, vmm.config.memory_bytes)) < 0 ||
	    (r = vmm_kvm_open(&vmm.kvm)) < 0 || (r = vmm_kvm_set_memory(vmm.kvm, &vmm.mem)) < 0 ||
	    (r = vmm_event_loop_new(&vmm.loop)) < 0)
		goto out;
	if (mem_fd >= 0)
		close(util_steal_fd(&mem_fd));
	sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0 || vmm_event_add_fd(vmm.loop, sig_fd, EPOLLIN, on_signal, &vmm) < 0) {
		r = -errno;
		goto out;
	}
	if (o.channel_fd >= 0 &&
	    ((r = vmm_channel_new(&vmm, o.channel_fd)) < 0 || (r = vmm_channel_listen(&vmm)) < 0))
		goto out;
	if ((r = vmm_serial_new(&vmm, console_out, &sink, &vmm.serial)) < 0 ||
	    (r = vmm_device_init_all(&vmm)) < 0)
		goto out;
	if ((r = load_image(&o, eif_fd, eif_path, &vmm.config, &img)) < 0 ||
	    (r = boot_image(&vmm, &img, &boot)) < 0)
		goto out;
	image_free(&img);
	if (eif_fd >= 0)
		close(util_steal_fd(&eif_fd));
	if ((r = vmm_vcpus_create(&vmm, &boot)) < 0)
		goto out;
	if (o.sandbox) {
		if ((r = sandbox_enter(&vmm)) < 0)
			goto out;
	}
	if ((r = vmm_vcpus_start(&vmm, vcpu_thread_init, &o)) < 0)
		goto out;
	if (o.sandbox && (r = sandbox_seccomp_event()) < 0)
		goto out;
	if (o.test_forbidden_syscall) {
		/* Hidden test hook: a syscall outside the allow-list must kill the VMM. */
		log_info("test: calling a forbidden syscall");
		(void)syscall(SYS_ptrace, 0, 0, 0, 0);
	}
	r = vmm_event_add_timer(vmm.loop, HALT_POLL_NS, HALT_POLL_NS, poll_halt, &vmm);
	if (r < 0)
		goto out;
	(void)vmm_channel_send_event(&vmm, VMM_EVENT_STARTED, "started", 0);
	log_debug("booting %s kernel, entry 0x%llx, %u vCPU(s), %llu MiB",
		  boot.kind == BOOT_KIND_ELF ? "ELF" : "bzImage", (unsigned long long)boot.entry,
		  vmm.config.nr_vcpus, (unsigned long long)(vmm.config.memory_bytes >> 20));
	vmm_vcpus_go(&vmm);
	r = vmm_event_run(vmm.loop);
	if (r < 0)
		vmm_end(&vmm, VMM_EXIT_ERROR, "event loop failed: %s", strerror(-r));
	r = 0;
out:
	if (r < 0)
		vmm_end(&vmm, VMM_EXIT_ERROR, "setup failed: %s", strerror(-r));
	vmm_vcpus_free(&vmm);
	if (vmm.serial) {
		vmm_serial_flush(vmm.serial);
		vmm_serial_free(vmm.serial);
	}
	(void)vmm_channel_send_event(&vmm, VMM_EVENT_EXITED, vmm.exit_reason, vmm.exit_code);
	fprintf(stderr, "enclave-vmm: enclave ended: %s\n", vmm.exit_reason);
	vmm_channel_free(&vmm);
	virtio_mmio_free_all(&vmm);
	if (vmm.loop) {
		if (sig_fd >= 0)
			(void)vmm_event_del_fd(vmm.loop, sig_fd);
		vmm_event_loop_free(vmm.loop);
	}
	if (sig_fd >= 0)
		close(sig_fd);
	vmm_kvm_close(vmm.kvm);
	vmm_memory_free(&vmm.mem);
	image_free(&img);
	if (mem_fd >= 0)
		close(mem_fd);
	if (eif_fd >= 0)
		close(eif_fd);
	if (sink.fd > STDERR_FILENO)
		close(sink.fd);
	return (int)vmm.exit_code;
}
