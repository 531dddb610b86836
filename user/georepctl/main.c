// SPDX-License-Identifier: GPL-2.0
/*
 * georepctl: control the georep kernel module.
 */
#include "georepctl.h"

int main(int argc, char *argv[])
{
	return grctl_run(argc - 1, argv + 1);
}
