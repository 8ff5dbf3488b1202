#include "guest/cmdline.h"
#include "guest/lib.h"

#define KEY	    "virtio_mmio.device="
#define MMIO_LIMIT  0x100000000ull /* boot.S maps the first 4 GiB only */
#define IOAPIC_PINS 24
#define MAX_DIGITS  16

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse a number (decimal, or hex with 0x) from [*p, end). Returns 0 or -1. */
static int parse_num(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	unsigned base = 10;
	uint64_t v = 0;
	int digits = 0;

	if (end - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	while (s < end) {
		int d = hexval(*s);
		if (d < 0 || (unsigned)d >= base)
			break;
		if (++digits > MAX_DIGITS)
			return -1;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return -1;
		v = v * base + (uint64_t)d;
		s++;
	}
	if (!digits)
		return -1;
	*p = s;
	*out = v;
	return 0;
}

/* <size>[KMG]@<addr>:<gsi> over exactly [s, end). */
static int parse_entry(const char *s, const char *end, struct cmdline_device *dev)
{
	uint64_t size, addr, gsi;

	if (parse_num(&s, end, &size) < 0)
		return -1;
	if (s < end &&
	    (*s == 'K' || *s == 'k' || *s == 'M' || *s == 'm' || *s == 'G' || *s == 'g')) {
		unsigned shift = (*s == 'K' || *s == 'k') ? 10 : (*s == 'M' || *s == 'm') ? 20 : 30;
		if (size > (UINT64_MAX >> shift))
			return -1;
		size <<= shift;
		s++;
	}
	if (s >= end || *s++ != '@')
		return -1;
	if (parse_num(&s, end, &addr) < 0)
		return -1;
	if (s >= end || *s++ != ':')
		return -1;
	if (parse_num(&s, end, &gsi) < 0 || s != end)
		return -1;
	if (size < 0x100 || size > MMIO_LIMIT || addr >= MMIO_LIMIT || size > MMIO_LIMIT - addr ||
	    gsi >= IOAPIC_PINS)
		return -1;
	dev->addr = addr;
	dev->size = size;
	dev->gsi = (uint32_t)gsi;
	return 0;
}

size_t cmdline_parse_devices(const char *cmdline, size_t len, struct cmdline_device *out,
			     size_t max, size_t *rejected)
{
	size_t n = 0, bad = 0, keylen = sizeof(KEY) - 1;
	size_t i = 0;

	if (len > CMDLINE_MAX_LEN)
		len = CMDLINE_MAX_LEN;
	while (i < len && cmdline[i]) {
		while (i < len && cmdline[i] == ' ')
			i++;
		size_t start = i;
		while (i < len && cmdline[i] && cmdline[i] != ' ')
			i++;
		size_t wlen = i - start;
		if (wlen < keylen || memcmp(cmdline + start, KEY, keylen) != 0)
			continue;
		struct cmdline_device dev;
		if (n >= max || parse_entry(cmdline + start + keylen, cmdline + i, &dev) < 0) {
			bad++;
			continue;
		}
		out[n++] = dev;
	}
	if (rejected)
		*rejected = bad;
	return n;
}
