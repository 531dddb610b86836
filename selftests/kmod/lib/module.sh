# SPDX-License-Identifier: GPL-2.0
#
# georep_load KO: load georep.ko with its dependencies. insmod does not
# resolve them, and georep.ko is not in the modules tree, so the hard
# (depends) and soft (softdep) ones are modprobed first. Prints insmod's
# error and returns non-zero when the module does not load.
# GEOREP_MODPARAMS: module parameters for insmod, e.g. "apply_cache=Y".

georep_load() {
	local ko=$1 dep
	for dep in $(modinfo -F depends "$ko" 2>/dev/null | tr ',' ' ') \
		   $(modinfo -F softdep "$ko" 2>/dev/null | tr ' ' '\n' | grep -v ':$'); do
		modprobe "$dep" 2>&1 | sed 's/^/# /'
	done
	# shellcheck disable=SC2086 # a list of name=value words
	insmod "$ko" ${GEOREP_MODPARAMS:-}
}
