/* EIF writer: exactly the AWS EifBuilder layout (header, kernel, cmdline, metadata, ramdisks,
 * optional signature, back to back, index order = file order). Streams every input once,
 * computing the CRC and the PCRs on the way; the header is written last because its CRC
 * covers everything (zlib's crc32_combine puts the header's bytes first). */
#include "config.h"

#include "image/eif.h"
#include "image/eif_internal.h"
#include "common/util.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define COPY_CHUNK (1024 * 1024)

struct writer {
	int fd;
	uint64_t pos;
	uLong crc; /* over everything after the header */
	struct eif_header hdr;
	struct pcr_hash image, bootstrap, app;
	struct pcr_pair *pair; /* hashes into PCR1/PCR2 while this thread writes, CRCs, does PCR0 */
	uint8_t *buf;
	eif_progress_fn progress;
	void *opaque;
	uint64_t done, total; /* input bytes streamed so far, of all the files' sizes */
	char *err;
	size_t errlen;
};

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int begin_section(struct writer *w, enum eif_section_type type, uint64_t size)
{
	unsigned i = w->hdr.num_sections;
	uint8_t sh[EIF_SECTION_HEADER_SIZE];
	int r;

	if (i >= EIF_MAX_SECTIONS) {
		eif_errf(w->err, w->errlen, "more than %d sections", EIF_MAX_SECTIONS);
		return -E2BIG;
	}
	w->hdr.section_offsets[i] = w->pos;
	w->hdr.section_sizes[i] = size;
	w->hdr.num_sections++;
	eif_section_header_encode(type, size, sh);
	r = pwrite_full(w->fd, sh, sizeof(sh), w->pos);
	if (r < 0) {
		eif_errf(w->err, w->errlen, "writing section %u header: %s", i, strerror(-r));
		return r;
	}
	w->crc = crc32(w->crc, sh, sizeof(sh));
	w->pos += sizeof(sh);
	return 0;
}

/* Append data to the current section and feed the hashers (NULL ones skipped). */
static int put_data(struct writer *w, const void *data, size_t len, struct pcr_hash *a,
		    struct pcr_hash *b)
{
	int r = b ? pcr_pair_begin(w->pair, b, data, len) : 0, rb;

	if (r == 0) {
		r = pwrite_full(w->fd, data, len, w->pos);
		if (r < 0)
			eif_errf(w->err, w->errlen, "writing at offset %" PRIu64 ": %s", w->pos,
				 strerror(-r));
	}
	if (r == 0) {
		w->crc = crc32(w->crc, data, (uInt)len);
		w->pos += len;
		if (a)
			r = pcr_hash_update(a, data, len);
	}
	rb = b ? pcr_pair_finish(w->pair) : 0; /* before the caller reuses data */
	return r < 0 ? r : rb;
}

static int put_small(struct writer *w, enum eif_section_type type, const void *data, size_t len,
		     struct pcr_hash *a, struct pcr_hash *b)
{
	int r = begin_section(w, type, len);

	if (r < 0)
		return r;
	/* put_data takes uInt-sized pieces; small sections are bounded well below that */
	return put_data(w, data, len, a, b);
}

static int put_file(struct writer *w, enum eif_section_type type, int fd, const char *what,
		    struct pcr_hash *a, struct pcr_hash *b)
{
	struct stat st;
	uint64_t size;
	int r;

	if (fstat(fd, &st) < 0) {
		eif_errf(w->err, w->errlen, "%s: fstat: %s", what, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		eif_errf(w->err, w->errlen, "%s: not a regular file", what);
		return -EINVAL;
	}
	size = (uint64_t)st.st_size;
	r = begin_section(w, type, size);
	if (r < 0)
		return r;
	for (uint64_t off = 0; off < size;) {
		size_t n = (size_t)UTIL_MIN((uint64_t)COPY_CHUNK, size - off);
		r = eif_pread_full(fd, w->buf, n, off);
		if (r < 0) {
			eif_errf(w->err, w->errlen, "%s: read at offset %" PRIu64 ": %s", what, off,
				 r == -EPIPE ? "file shrank while being read" : strerror(-r));
			return r;
		}
		r = put_data(w, w->buf, n, a, b);
		if (r < 0)
			return r;
		off += n;
		w->done += n;
		if (w->progress)
			w->progress(w->opaque, UTIL_MIN(w->done, w->total), w->total);
	}
	return 0;
}

/* The total the progress callback reports: sizes as fstat sees them now (a file that grows
 * meanwhile is clamped; put_file reads the size again and is what counts). */
static void progress_total(const struct eif_build *in, struct writer *w)
{
	struct stat st;

	if (fstat(in->kernel_fd, &st) == 0 && st.st_size > 0)
		w->total += (uint64_t)st.st_size;
	for (unsigned i = 0; i < in->n_ramdisks; i++)
		if (fstat(in->ramdisk_fds[i], &st) == 0 && st.st_size > 0)
			w->total += (uint64_t)st.st_size;
}

static int write_sections(const struct eif_build *in, struct writer *w, struct eif_measurements *m)
{
	_cleanup_free_ uint8_t *sig = NULL;
	size_t sig_len = 0;
	char what[32];
	int r;

	r = put_file(w, EIF_SECTION_KERNEL, in->kernel_fd, "kernel", &w->image, &w->bootstrap);
	if (r < 0)
		return r;
	r = put_small(w, EIF_SECTION_CMDLINE, in->cmdline, strlen(in->cmdline), &w->image,
		      &w->bootstrap);
	if (r < 0)
		return r;
	if (in->metadata) {
		r = put_small(w, EIF_SECTION_METADATA, in->metadata, strlen(in->metadata), NULL,
			      NULL);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < in->n_ramdisks; i++) {
		snprintf(what, sizeof(what), "ramdisk %u", i + 1);
		r = put_file(w, EIF_SECTION_RAMDISK, in->ramdisk_fds[i], what, &w->image,
			     i == 0 ? &w->bootstrap : &w->app);
		if (r < 0)
			return r;
	}
	r = pcr_hash_final_measure(&w->image, m->pcr0);
	if (r == 0)
		r = pcr_hash_final_measure(&w->bootstrap, m->pcr1);
	if (r == 0)
		r = pcr_hash_final_measure(&w->app, m->pcr2);
	if (r < 0 || !in->sign_key)
		return r;
	r = eif_signature_create(in->sign_key, in->cert_pem, in->cert_len, m->pcr0, &sig, &sig_len);
	if (r < 0) {
		eif_errf(w->err, w->errlen, "signing PCR0: %s (the key must be EC P-256/384/521)",
			 strerror(-r));
		return r;
	}
	r = eif_cert_pcr(in->cert_pem, in->cert_len, m->pcr8);
	if (r < 0) {
		eif_errf(w->err, w->errlen, "signing certificate is not a PEM X.509 certificate");
		return r;
	}
	m->has_pcr8 = true;
	return put_small(w, EIF_SECTION_SIGNATURE, sig, sig_len, NULL, NULL);
}

int eif_write(const struct eif_build *in, int out_fd, struct eif_measurements *m, char *err,
	      size_t errlen)
{
	struct writer w = {.fd = out_fd, .pos = EIF_HEADER_SIZE, .err = err, .errlen = errlen};
	uint8_t hdr[EIF_HEADER_SIZE];
	uLong crc;
	int r;

	memset(m, 0, sizeof(*m));
	if (!in->cmdline || in->n_ramdisks == 0 || in->kernel_fd < 0 ||
	    (in->sign_key && !in->cert_pem) || (in->flags & ~EIF_FLAG_ARCH_ARM64)) {
		eif_errf(err, errlen, "a kernel, a cmdline and at least one ramdisk are required");
		return -EINVAL;
	}
	if (strlen(in->cmdline) > EIF_MAX_CMDLINE ||
	    (in->metadata && strlen(in->metadata) > EIF_MAX_METADATA)) {
		eif_errf(err, errlen, "cmdline above %d or metadata above %d bytes",
			 EIF_MAX_CMDLINE, EIF_MAX_METADATA);
		return -EFBIG;
	}
	w.hdr.version = EIF_VERSION;
	w.hdr.flags = in->flags;
	w.hdr.default_mem = EIF_DEFAULT_MEM;
	w.hdr.default_cpus = EIF_DEFAULT_CPUS;
	w.crc = crc32(0L, Z_NULL, 0);
	w.progress = in->progress;
	w.opaque = in->progress_opaque;
	if (w.progress)
		progress_total(in, &w);
	w.buf = malloc(COPY_CHUNK);
	if (!w.buf)
		return -ENOMEM;
	r = pcr_pair_new(&w.pair);
	if (r == 0)
		r = pcr_hash_init(&w.image);
	if (r == 0)
		r = pcr_hash_init(&w.bootstrap);
	if (r == 0)
		r = pcr_hash_init(&w.app);
	if (r == 0)
		r = write_sections(in, &w, m);
	if (r < 0)
		goto out;
	eif_header_encode(&w.hdr, hdr);
	crc = crc32(crc32(0L, Z_NULL, 0), hdr, EIF_CRC_OFFSET);
	w.hdr.crc32 = (uint32_t)crc32_combine(crc, w.crc, (z_off_t)(w.pos - EIF_HEADER_SIZE));
	eif_header_encode(&w.hdr, hdr);
	r = pwrite_full(out_fd, hdr, sizeof(hdr), 0);
	if (r == 0 && ftruncate(out_fd, (off_t)w.pos) < 0)
		r = -errno;
	if (r < 0)
		eif_errf(err, errlen, "writing header: %s", strerror(-r));
out:
	pcr_pair_free(w.pair);
	pcr_hash_free(&w.image);
	pcr_hash_free(&w.bootstrap);
	pcr_hash_free(&w.app);
	free(w.buf);
	return r;
}
