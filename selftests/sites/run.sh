#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The three-site scenarios (selftests/sites/NN-*.sh, lab in lib.sh), one
# top-level KTAP line each, run by the kernel selftests' runner (module
# load, per-script timeout, kernel log and rmmod checks):
#
#   selftests/vm/run -- /georep/selftests/sites/run.sh [NAME...]
#
# NAME: 10-failover or a path; default every scenario.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# = 0 ]; then
	set -- "$HERE"/[0-9]*.sh
else
	for a in "$@"; do
		case $a in
		*/*) shift; set -- "$@" "$a" ;;
		*) shift; set -- "$@" "$HERE/${a%.sh}.sh" ;;
		esac
	done
fi
exec "$HERE/../kmod/run_tests.sh" "$@"
