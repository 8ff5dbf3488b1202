# build-enclave, describe-eif, pcr (see ctl/cmd_image.c)
