// clang-format off
// fuzz-sources: image/eif_read.c image/eif_sign.c attest/cose.c attest/pcr.c common/util.c
// fuzz-pkgs: libcbor libcrypto zlib
// clang-format on
/* The EIF reader over hostile files: header/table validation, the streamed CRC/PCR pass, the
 * small-section reads, and the signature section (CBOR, COSE, certificate). The same bytes are
 * also fed to the signature and COSE decoders directly. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attest/cose.h"
#include "image/eif.h"

static void check_signature(const uint8_t *buf, size_t len, const uint8_t *pcr0)
{
	struct eif_signature sig;
	struct eif_sig_info info;
	uint8_t pcr8[PCR_DIGEST_LEN];
	char err[256];

	if (eif_signature_decode(buf, len, &sig, err, sizeof(err)) == 0) {
		(void)eif_signature_check(&sig, pcr0, &info, pcr8, err, sizeof(err));
		eif_signature_clear(&sig);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[PCR_DIGEST_LEN];
	struct eif_measurements m;
	struct eif_file eif;
	struct cose_sign1 msg;
	uint8_t *buf = NULL;
	size_t len = 0;
	bool crc_ok;
	int fd;

	check_signature(data, size, zero);
	if (cose_sign1_parse(data, size, &msg) == 0)
		cose_sign1_clear(&msg);

	fd = memfd_create("fuzz-eif", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	if (eif_open_fd(&eif, fd) == 0) {
		(void)eif_measure(&eif, &m, &crc_ok);
		if (eif_section_read_all(&eif, (unsigned)eif.cmdline, EIF_MAX_CMDLINE, &buf,
					 &len) == 0)
			free(buf);
		if (eif.signature >= 0 &&
		    eif_section_read_all(&eif, (unsigned)eif.signature, EIF_MAX_SIGNATURE, &buf,
					 &len) == 0) {
			check_signature(buf, len, m.pcr0);
			free(buf);
		}
	}
	eif_close(&eif);
	close(fd);
	return 0;
}
