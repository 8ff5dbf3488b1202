/* EIF reading: header and section table validation, bounded section access, and the single
 * streamed pass that computes the CRC and the PCRs. */
#include "config.h"

#include "image/eif.h"
#include "image/eif_internal.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define MEASURE_CHUNK (1024 * 1024)

void eif_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int eif_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

void eif_header_encode(const struct eif_header *hdr, uint8_t buf[EIF_HEADER_SIZE])
{
	memcpy(buf, EIF_MAGIC, 4);
	put16(buf + 4, hdr->version);
	put16(buf + 6, hdr->flags);
	put64(buf + 8, hdr->default_mem);
	put64(buf + 16, hdr->default_cpus);
	put16(buf + 24, hdr->reserved);
	put16(buf + 26, hdr->num_sections);
	for (unsigned i = 0; i < EIF_MAX_SECTIONS; i++) {
		put64(buf + 28 + 8 * i, hdr->section_offsets[i]);
		put64(buf + 284 + 8 * i, hdr->section_sizes[i]);
	}
	put32(buf + 540, hdr->unused);
	put32(buf + EIF_CRC_OFFSET, hdr->crc32);
}

int eif_header_decode(const uint8_t buf[EIF_HEADER_SIZE], struct eif_header *hdr)
{
	if (memcmp(buf, EIF_MAGIC, 4) != 0)
		return -EBADMSG;
	hdr->version = get16(buf + 4);
	hdr->flags = get16(buf + 6);
	hdr->default_mem = get64(buf + 8);
	hdr->default_cpus = get64(buf + 16);
	hdr->reserved = get16(buf + 24);
	hdr->num_sections = get16(buf + 26);
	for (unsigned i = 0; i < EIF_MAX_SECTIONS; i++) {
		hdr->section_offsets[i] = get64(buf + 28 + 8 * i);
		hdr->section_sizes[i] = get64(buf + 284 + 8 * i);
	}
	hdr->unused = get32(buf + 540);
	hdr->crc32 = get32(buf + EIF_CRC_OFFSET);
	return 0;
}

void eif_section_header_encode(enum eif_section_type type, uint64_t size,
			       uint8_t buf[EIF_SECTION_HEADER_SIZE])
{
	put16(buf, (uint16_t)type);
	put16(buf + 2, 0);
	put64(buf + 4, size);
}

const char *eif_section_type_name(enum eif_section_type type)
{
	switch (type) {
	case EIF_SECTION_KERNEL:
		return "kernel";
	case EIF_SECTION_CMDLINE:
		return "cmdline";
	case EIF_SECTION_RAMDISK:
		return "ramdisk";
	case EIF_SECTION_SIGNATURE:
		return "signature";
	case EIF_SECTION_METADATA:
		return "metadata";
	default:
		return "invalid";
	}
}

#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		eif_errf(eif->error, sizeof(eif->error), __VA_ARGS__);                             \
		return (code);                                                                     \
	} while (0)

/* The version gates which section types may appear: v3 added the signature, v4 metadata. */
static int check_section(struct eif_file *eif, unsigned i, const uint8_t sh[12])
{
	struct eif_section *s = &eif->sections[i];
	uint16_t type = get16(sh), flags = get16(sh + 2);
	uint64_t size = get64(sh + 4);
	uint64_t max = UINT64_MAX;
	int *slot = NULL;

	if (flags != 0)
		FAIL(-EBADMSG, "section %u header at offset %" PRIu64 ": flags is 0x%x, expected 0",
		     i, s->offset, flags);
	if (size != s->size)
		FAIL(-EBADMSG,
		     "section %u header at offset %" PRIu64 ": section_size %" PRIu64
		     " differs from section_sizes[%u] = %" PRIu64,
		     i, s->offset, size, i, s->size);
	switch (type) {
	case EIF_SECTION_KERNEL:
		slot = &eif->kernel;
		break;
	case EIF_SECTION_CMDLINE:
		slot = &eif->cmdline;
		max = EIF_MAX_CMDLINE;
		break;
	case EIF_SECTION_RAMDISK:
		eif->n_ramdisks++;
		break;
	case EIF_SECTION_SIGNATURE:
		slot = &eif->signature;
		max = EIF_MAX_SIGNATURE;
		if (eif->hdr.version < 3)
			FAIL(-EBADMSG,
			     "section %u at offset %" PRIu64 ": signature in a version %u image", i,
			     s->offset, eif->hdr.version);
		break;
	case EIF_SECTION_METADATA:
		slot = &eif->metadata;
		max = EIF_MAX_METADATA;
		if (eif->hdr.version < 4)
			FAIL(-EBADMSG,
			     "section %u at offset %" PRIu64 ": metadata in a version %u image", i,
			     s->offset, eif->hdr.version);
		break;
	default:
		FAIL(-EBADMSG,
		     "section %u header at offset %" PRIu64 ": section_type %u is not valid", i,
		     s->offset, type);
	}
	s->type = (enum eif_section_type)type;
	if (slot && *slot >= 0)
		FAIL(-EBADMSG, "section %u at offset %" PRIu64 ": second %s section (first is %d)",
		     i, s->offset, eif_section_type_name(s->type), *slot);
	if (slot)
		*slot = (int)i;
	if (size > max)
		FAIL(-EFBIG,
		     "section %u (%s) at offset %" PRIu64 ": size %" PRIu64 " exceeds %" PRIu64, i,
		     eif_section_type_name(s->type), s->offset, size, max);
	return 0;
}

static int check_table(struct eif_file *eif)
{
	const struct eif_header *h = &eif->hdr;
	uint64_t expect = EIF_HEADER_SIZE;
	int r;

	if (h->version == 0 || h->version > EIF_VERSION)
		FAIL(-EBADMSG, "version at offset 4 is %u, supported are 1 to %u", h->version,
		     EIF_VERSION);
	if (h->flags & ~EIF_FLAG_ARCH_ARM64)
		FAIL(-EBADMSG, "flags at offset 6 is 0x%x, only bit 0 (arm64) is defined",
		     h->flags);
	if (h->num_sections == 0 || h->num_sections > EIF_MAX_SECTIONS)
		FAIL(-EBADMSG, "num_sections at offset 26 is %u, expected 1 to %u", h->num_sections,
		     EIF_MAX_SECTIONS);
	for (unsigned i = h->num_sections; i < EIF_MAX_SECTIONS; i++)
		if (h->section_offsets[i] || h->section_sizes[i])
			FAIL(-EBADMSG,
			     "section_offsets/sizes[%u] at offset %u/%u is nonzero beyond "
			     "num_sections %u",
			     i, 28 + 8 * i, 284 + 8 * i, h->num_sections);

	for (unsigned i = 0; i < h->num_sections; i++) {
		struct eif_section *s = &eif->sections[i];
		uint8_t sh[EIF_SECTION_HEADER_SIZE];

		s->offset = h->section_offsets[i];
		s->size = h->section_sizes[i];
		/* Sections must follow each other back to back in index order, as the AWS builder
		 * writes them: any gap, overlap or reordering would let the Rust reader (file
		 * order) and QEMU (index order) measure different streams. */
		if (s->offset != expect)
			FAIL(-EBADMSG,
			     "section_offsets[%u] at offset %u is %" PRIu64 ", expected %" PRIu64
			     " (%s)",
			     i, 28 + 8 * i, s->offset, expect,
			     s->offset < expect ? "overlaps the previous section" : "leaves a gap");
		if (s->offset > eif->file_size ||
		    eif->file_size - s->offset < EIF_SECTION_HEADER_SIZE)
			FAIL(-EBADMSG,
			     "section %u header at offset %" PRIu64 " is past end of file (%" PRIu64
			     " bytes)",
			     i, s->offset, eif->file_size);
		s->data_offset = s->offset + EIF_SECTION_HEADER_SIZE;
		if (s->size > eif->file_size - s->data_offset)
			FAIL(-EBADMSG,
			     "section %u data at offset %" PRIu64
			     " with section_sizes[%u] = %" PRIu64 " runs past end of file (%" PRIu64
			     " bytes)",
			     i, s->data_offset, i, s->size, eif->file_size);
		r = eif_pread_full(eif->fd, sh, sizeof(sh), s->offset);
		if (r < 0)
			FAIL(r, "reading section %u header at offset %" PRIu64 ": %s", i, s->offset,
			     strerror(-r));
		r = check_section(eif, i, sh);
		if (r < 0)
			return r;
		expect = s->data_offset + s->size;
	}
	eif->n_sections = h->num_sections;
	if (expect != eif->file_size)
		FAIL(-EBADMSG,
		     "%" PRIu64 " trailing bytes after the last section at offset %" PRIu64,
		     eif->file_size - expect, expect);
	if (eif->kernel < 0)
		FAIL(-EBADMSG, "no kernel section");
	if (eif->cmdline < 0)
		FAIL(-EBADMSG, "no cmdline section");
	if (eif->n_ramdisks == 0)
		FAIL(-EBADMSG, "no ramdisk section");
	return 0;
}

int eif_open_fd(struct eif_file *eif, int fd)
{
	uint8_t buf[EIF_HEADER_SIZE];
	struct stat st;
	int r;

	memset(eif, 0, sizeof(*eif));
	eif->fd = fd;
	eif->kernel = eif->cmdline = eif->metadata = eif->signature = -1;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		FAIL(r, "fstat: %s", strerror(-r));
	}
	if (!S_ISREG(st.st_mode))
		FAIL(-EINVAL, "not a regular file");
	eif->file_size = (uint64_t)st.st_size;
	if (eif->file_size < EIF_HEADER_SIZE)
		FAIL(-EBADMSG, "truncated: file is %" PRIu64 " bytes, the header alone is %u",
		     eif->file_size, EIF_HEADER_SIZE);
	r = eif_pread_full(fd, buf, sizeof(buf), 0);
	if (r < 0)
		FAIL(r, "reading header: %s", strerror(-r));
	if (eif_header_decode(buf, &eif->hdr) < 0)
		FAIL(-EBADMSG,
		     "magic at offset 0 is %02x%02x%02x%02x, expected 2e656966 (\".eif\")", buf[0],
		     buf[1], buf[2], buf[3]);
	return check_table(eif);
}

int eif_open(struct eif_file *eif, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0) {
		memset(eif, 0, sizeof(*eif));
		eif->fd = -1;
		r = -errno;
		eif_errf(eif->error, sizeof(eif->error), "%s: %s", path, strerror(errno));
		return r;
	}
	r = eif_open_fd(eif, fd);
	eif->owns_fd = true;
	return r;
}

void eif_close(struct eif_file *eif)
{
	if (eif->owns_fd && eif->fd >= 0)
		close(eif->fd);
	eif->fd = -1;
	eif->owns_fd = false;
}

int eif_section_pread(struct eif_file *eif, unsigned idx, uint64_t off, void *buf, size_t len)
{
	const struct eif_section *s;

	if (idx >= eif->n_sections)
		return -EINVAL;
	s = &eif->sections[idx];
	if (off > s->size || len > s->size - off)
		return -ERANGE;
	return eif_pread_full(eif->fd, buf, len, s->data_offset + off);
}

int eif_section_read_all(struct eif_file *eif, unsigned idx, size_t max, uint8_t **out,
			 size_t *out_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t n;
	int r;

	if (idx >= eif->n_sections)
		return -EINVAL;
	if (eif->sections[idx].size > max)
		return -EFBIG;
	n = (size_t)eif->sections[idx].size;
	buf = malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	r = eif_section_pread(eif, idx, 0, buf, n);
	if (r < 0)
		return r;
	buf[n] = 0;
	*out = util_steal_ptr(&buf);
	*out_len = n;
	return 0;
}

struct measure_state {
	struct pcr_hash image, bootstrap, app;
	struct pcr_pair *pair; /* PCR1/PCR2 on a second thread while this one does CRC and PCR0 */
	uLong crc;
	eif_progress_fn progress;
	void *opaque;
	uint64_t done, total;
};

static int measure_section(struct eif_file *eif, unsigned i, unsigned ramdisk_no,
			   struct measure_state *st, uint8_t *buf)
{
	const struct eif_section *s = &eif->sections[i];
	bool measured = s->type == EIF_SECTION_KERNEL || s->type == EIF_SECTION_CMDLINE ||
			s->type == EIF_SECTION_RAMDISK;
	struct pcr_hash *second = NULL;
	uint8_t sh[EIF_SECTION_HEADER_SIZE];
	int r;

	if (s->type == EIF_SECTION_RAMDISK)
		second = ramdisk_no == 0 ? &st->bootstrap : &st->app;
	else if (measured)
		second = &st->bootstrap;
	eif_section_header_encode(s->type, s->size, sh);
	st->crc = crc32(st->crc, sh, sizeof(sh));
	for (uint64_t off = 0; off < s->size;) {
		size_t n = (size_t)UTIL_MIN((uint64_t)MEASURE_CHUNK, s->size - off);
		r = eif_pread_full(eif->fd, buf, n, s->data_offset + off);
		if (r < 0)
			FAIL(r, "reading section %u at offset %" PRIu64 ": %s", i,
			     s->data_offset + off, strerror(-r));
		r = measured ? pcr_pair_begin(st->pair, second, buf, n) : 0;
		st->crc = crc32(st->crc, buf, (uInt)n);
		if (measured) {
			int r2;
			if (r == 0)
				r = pcr_hash_update(&st->image, buf, n);
			r2 = pcr_pair_finish(st->pair); /* before buf is read into again */
			if (r == 0)
				r = r2;
			if (r < 0)
				FAIL(r, "hashing section %u: %s", i, strerror(-r));
		}
		off += n;
		st->done += n;
		if (st->progress)
			st->progress(st->opaque, st->done, st->total);
	}
	return 0;
}

static int measure_signature(struct eif_file *eif, struct eif_measurements *m)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct eif_signature sig = {0};
	size_t len = 0;
	char why[200] = "";
	int r;

	r = eif_section_read_all(eif, (unsigned)eif->signature, EIF_MAX_SIGNATURE, &buf, &len);
	if (r < 0)
		FAIL(r, "reading signature section %d: %s", eif->signature, strerror(-r));
	r = eif_signature_decode(buf, len, &sig, why, sizeof(why));
	if (r == 0) {
		r = eif_cert_pcr(sig.cert_pem, sig.cert_len, m->pcr8);
		if (r < 0)
			snprintf(why, sizeof(why), "signing_certificate is not a PEM certificate");
	}
	eif_signature_clear(&sig);
	if (r < 0)
		FAIL(r, "signature section %d at offset %" PRIu64 ": %s", eif->signature,
		     eif->sections[eif->signature].data_offset, why);
	m->has_pcr8 = true;
	return 0;
}

int eif_measure(struct eif_file *eif, struct eif_measurements *m, bool *crc_ok)
{
	return eif_measure_progress(eif, m, crc_ok, NULL, NULL);
}

int eif_measure_progress(struct eif_file *eif, struct eif_measurements *m, bool *crc_ok,
			 eif_progress_fn progress, void *opaque)
{
	struct measure_state st = {.progress = progress, .opaque = opaque};
	_cleanup_free_ uint8_t *buf = malloc(MEASURE_CHUNK);
	uint8_t hdr[EIF_HEADER_SIZE];
	unsigned ramdisk_no = 0;
	int r;

	memset(m, 0, sizeof(*m));
	if (!buf)
		return -ENOMEM;
	r = pcr_pair_new(&st.pair);
	if (r == 0)
		r = pcr_hash_init(&st.image);
	if (r == 0)
		r = pcr_hash_init(&st.bootstrap);
	if (r == 0)
		r = pcr_hash_init(&st.app);
	if (r < 0)
		goto out;
	eif_header_encode(&eif->hdr, hdr);
	st.crc = crc32(0L, hdr, EIF_CRC_OFFSET);
	/* eif_open checked that the sections lie within the file, so this cannot overflow */
	for (unsigned i = 0; i < eif->n_sections; i++)
		st.total += eif->sections[i].size;
	for (unsigned i = 0; i < eif->n_sections && r == 0; i++) {
		r = measure_section(eif, i, ramdisk_no, &st, buf);
		if (eif->sections[i].type == EIF_SECTION_RAMDISK)
			ramdisk_no++;
	}
	if (r == 0)
		r = pcr_hash_final_measure(&st.image, m->pcr0);
	if (r == 0)
		r = pcr_hash_final_measure(&st.bootstrap, m->pcr1);
	if (r == 0)
		r = pcr_hash_final_measure(&st.app, m->pcr2);
	if (r == 0 && eif->signature >= 0)
		r = measure_signature(eif, m);
	/* CRC arrived in version 2 */
	*crc_ok = eif->hdr.version < 2 || (uint32_t)st.crc == eif->hdr.crc32;
out:
	pcr_pair_free(st.pair);
	pcr_hash_free(&st.image);
	pcr_hash_free(&st.bootstrap);
	pcr_hash_free(&st.app);
	return r;
}
