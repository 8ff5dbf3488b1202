/* Enclave Image Format (AWS Nitro EIF, reference/nitro-enclaves.md section 1): validated
 * reading, streamed measurement (CRC and PCR0/1/2/8), writing exactly as the AWS builder lays
 * an image out, and the signature section. Images are accessed through a file descriptor and
 * offsets; section data is never read into memory whole, except the small sections (cmdline,
 * metadata, signature), which have hard size limits. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "attest/pcr.h"

#define EIF_MAGIC		".eif"
#define EIF_HEADER_SIZE		548
#define EIF_CRC_OFFSET		544
#define EIF_SECTION_HEADER_SIZE 12
#define EIF_MAX_SECTIONS	32
#define EIF_VERSION		4
#define EIF_FLAG_ARCH_ARM64	0x1
#define EIF_DEFAULT_MEM		(1ULL << 30)
#define EIF_DEFAULT_CPUS	2

/* Limits on the sections read into memory. */
#define EIF_MAX_CMDLINE	  (64 * 1024)
#define EIF_MAX_METADATA  (1024 * 1024)
#define EIF_MAX_SIGNATURE (256 * 1024)

enum eif_section_type {
	EIF_SECTION_INVALID = 0,
	EIF_SECTION_KERNEL = 1,
	EIF_SECTION_CMDLINE = 2,
	EIF_SECTION_RAMDISK = 3,
	EIF_SECTION_SIGNATURE = 4,
	EIF_SECTION_METADATA = 5,
};

struct eif_header {
	uint16_t version;
	uint16_t flags;
	uint64_t default_mem;
	uint64_t default_cpus;
	uint16_t reserved;
	uint16_t num_sections;
	uint64_t section_offsets[EIF_MAX_SECTIONS];
	uint64_t section_sizes[EIF_MAX_SECTIONS];
	uint32_t unused;
	uint32_t crc32;
};

struct eif_section {
	enum eif_section_type type;
	uint64_t offset;      /* of the 12-byte section header */
	uint64_t data_offset; /* offset + 12 */
	uint64_t size;	      /* of the data */
};

struct eif_measurements {
	uint8_t pcr0[PCR_DIGEST_LEN];
	uint8_t pcr1[PCR_DIGEST_LEN];
	uint8_t pcr2[PCR_DIGEST_LEN];
	uint8_t pcr8[PCR_DIGEST_LEN];
	bool has_pcr8;
};

struct eif_file {
	int fd;
	bool owns_fd;
	uint64_t file_size;
	struct eif_header hdr;
	struct eif_section sections[EIF_MAX_SECTIONS];
	unsigned n_sections;
	int kernel, cmdline, metadata, signature; /* section index or -1 */
	unsigned n_ramdisks;
	char error[256]; /* why the last call failed: field, offset, value */
};

/* Encode/decode the 548-byte big-endian header. Decoding checks nothing but the magic. */
void eif_header_encode(const struct eif_header *hdr, uint8_t buf[EIF_HEADER_SIZE]);
int eif_header_decode(const uint8_t buf[EIF_HEADER_SIZE], struct eif_header *hdr);

const char *eif_section_type_name(enum eif_section_type type);

/* Open and validate the structure (header, section table, section headers, sizes, order,
 * overlaps, required sections). Does not read section data; eif_measure() checks the CRC.
 * eif_open_fd borrows fd (the caller keeps it open until eif_close). On error eif->error
 * names the problem; eif_close is still safe to call. */
int eif_open(struct eif_file *eif, const char *path);
int eif_open_fd(struct eif_file *eif, int fd);
void eif_close(struct eif_file *eif);

/* Read len bytes at off within section idx (bounded by the section). */
int eif_section_pread(struct eif_file *eif, unsigned idx, uint64_t off, void *buf, size_t len);
/* Read a whole small section, NUL-terminated, refusing sections larger than max. */
int eif_section_read_all(struct eif_file *eif, unsigned idx, size_t max, uint8_t **out,
			 size_t *out_len);

/* Copy the first size bytes of fd into a new memfd sealed against writing, growing and
 * shrinking (offset 0, close-on-exec): what is measured and loaded from it cannot change.
 * -ENODATA when fd holds fewer bytes. */
int eif_snapshot(int fd, uint64_t size, int *out);

/* Progress of a long pass: done of total bytes so far (total is fixed for one pass; the last
 * call has done == total). For a terminal's progress line; must not fail or block. */
typedef void (*eif_progress_fn)(void *opaque, uint64_t done, uint64_t total);

/* One streamed pass over the file: computes the CRC (and compares it with the header's when
 * the version has one) and PCR0/1/2, plus PCR8 when signed. crc_ok is set either way. */
int eif_measure(struct eif_file *eif, struct eif_measurements *m, bool *crc_ok);
/* The same, calling progress (may be NULL) after every chunk with the section bytes read. */
int eif_measure_progress(struct eif_file *eif, struct eif_measurements *m, bool *crc_ok,
			 eif_progress_fn progress, void *opaque);

/* The signature section (type 4). */
struct eif_signature {
	uint8_t *cert_pem; /* NUL-terminated */
	size_t cert_len;
	uint8_t *cose; /* untagged COSE_Sign1 */
	size_t cose_len;
};

struct eif_sig_info {
	bool signature_ok;  /* COSE verifies with the cert's key over {0: PCR0} */
	bool pcr0_matches;  /* the signed register_value equals the image's PCR0 */
	bool cert_dates_ok; /* now is within [notBefore, notAfter] */
	char issuer[512];   /* one-line RFC 2253 form */
	char algorithm[64];
	char not_before[64];
	char not_after[64];
	char signature_hex[2 * 512 + 1];
};

/* Decode the section as nitro-cli writes it: a CBOR array of one map whose keys are
 * "signing_certificate" then "signature", each an array of uints <= 255. err names the
 * problem. */
int eif_signature_decode(const uint8_t *buf, size_t len, struct eif_signature *sig, char *err,
			 size_t errlen);
void eif_signature_clear(struct eif_signature *sig);
/* Build the section: COSE_Sign1 by key over {"register_index": 0, "register_value": PCR0}. */
int eif_signature_create(EVP_PKEY *key, const uint8_t *cert_pem, size_t cert_len,
			 const uint8_t pcr0[PCR_DIGEST_LEN], uint8_t **out, size_t *out_len);
/* Check a decoded signature against PCR0 and the certificate, and compute PCR8 (the
 * measurement of the certificate's DER). -EBADMSG when the cert or payload is malformed;
 * a bad signature or dates are reported in info, not as an error. */
int eif_signature_check(const struct eif_signature *sig, const uint8_t pcr0[PCR_DIGEST_LEN],
			struct eif_sig_info *info, uint8_t pcr8[PCR_DIGEST_LEN], char *err,
			size_t errlen);
/* PCR8 of a PEM certificate (SHA384 extend over its DER), as `pcr --signing-certificate`. */
int eif_cert_pcr(const uint8_t *cert_pem, size_t cert_len, uint8_t pcr8[PCR_DIGEST_LEN]);

/* Writing. Inputs are file descriptors of regular files (or memfds), read whole from offset 0
 * with pread, so their size is known before the header is laid out. */
struct eif_build {
	int kernel_fd;
	const char *cmdline; /* written without its NUL */
	const int *ramdisk_fds;
	unsigned n_ramdisks;
	const char *metadata; /* JSON text, may be NULL for none (then version 4 still) */
	uint16_t flags;
	EVP_PKEY *sign_key; /* with cert_pem: add a signature section */
	const uint8_t *cert_pem;
	size_t cert_len;
	eif_progress_fn progress; /* NULL: none; total = the input bytes (kernel + ramdisks) */
	void *progress_opaque;
};

/* Write the image to out_fd (from offset 0; the file should be empty) and give its
 * measurements. err names the problem on failure. */
int eif_write(const struct eif_build *in, int out_fd, struct eif_measurements *m, char *err,
	      size_t errlen);
