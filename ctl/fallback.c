/* Weak stand-ins for commands whose files are owned by other components; the real definitions
 * in ctl/cmd_image.c and ctl/cmd_attest.c replace these at link time. */
#include "config.h"

#include "ctl/commands.h"
#include "ctl/ctl.h"

static int not_built(const char *cmd)
{
	return ctl_fail(CTL_EXIT_NOT_BUILT, "%s: not built yet in this enclavectl", cmd);
}

__attribute__((weak)) int ctl_cmd_build_enclave(int argc, char **argv)
{
	return not_built("build-enclave");
}

__attribute__((weak)) int ctl_cmd_describe_eif(int argc, char **argv)
{
	return not_built("describe-eif");
}

__attribute__((weak)) int ctl_cmd_pcr(int argc, char **argv)
{
	return not_built("pcr");
}

__attribute__((weak)) int ctl_cmd_verify_attestation(int argc, char **argv)
{
	return not_built("verify-attestation");
}
