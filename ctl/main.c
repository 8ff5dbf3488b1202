#include "config.h"

#include <stdio.h>

int main(void)
{
	printf("enclavectl %s\n", PACKAGE_VERSION);
	return 0;
}
