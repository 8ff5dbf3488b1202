/* enclavectl's commands: int ctl_cmd_<name>(int argc, char **argv), argv[0] being the command
 * name; each parses its own flags with getopt_long and returns the process exit code.
 * Commands owned elsewhere (cmd_image.c, cmd_attest.c) have weak fallbacks in fallback.c that
 * report CTL_EXIT_NOT_BUILT until their files are linked in. */
#pragma once

/* cmd_enclaves.c */
int ctl_cmd_run_enclave(int argc, char **argv);
int ctl_cmd_describe_enclaves(int argc, char **argv);
int ctl_cmd_terminate_enclave(int argc, char **argv);
int ctl_cmd_resize_enclave(int argc, char **argv);
int ctl_cmd_attest(int argc, char **argv);
/* cmd_console.c */
int ctl_cmd_console(int argc, char **argv);
int ctl_cmd_connect(int argc, char **argv);
/* wait.c */
int ctl_cmd_events(int argc, char **argv);
/* cmd_system.c */
int ctl_cmd_version(int argc, char **argv);
int ctl_cmd_health(int argc, char **argv);
int ctl_cmd_pool(int argc, char **argv);
int ctl_cmd_pki(int argc, char **argv);
/* cmd_image.c (image engineer) */
int ctl_cmd_build_enclave(int argc, char **argv);
int ctl_cmd_describe_eif(int argc, char **argv);
int ctl_cmd_pcr(int argc, char **argv);
/* cmd_attest.c (attestation engineer) */
int ctl_cmd_verify_attestation(int argc, char **argv);
