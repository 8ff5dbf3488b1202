/* Ring-0 exception report. Runs emulated (slow) but only once, just before the enclave ends. */
#include "guest/arch.h"
#include "guest/console.h"

void arch_exception_report(const uint64_t *frame)
{
	con_puts("sample-enclave: exception vec=");
	con_put_hex(frame[0]);
	con_puts(" err=");
	con_put_hex(frame[1]);
	con_puts(" rip=");
	con_put_hex(frame[2]);
	con_puts(" cs=");
	con_put_hex(frame[3]);
	con_puts("\n");
}
