#include "config.h"

#include <stdio.h>

int main(void)
{
	printf("enclave-vmm %s\n", PACKAGE_VERSION);
	return 0;
}
