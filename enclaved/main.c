#include "config.h"

#include <stdio.h>

int main(void)
{
	printf("enclaved %s\n", PACKAGE_VERSION);
	return 0;
}
