# verify-attestation (see ctl/cmd_attest.c)
