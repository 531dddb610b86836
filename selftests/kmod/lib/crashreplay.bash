# SPDX-License-Identifier: GPL-2.0
#
# Crash replay points over a dm-log-writes log (sourced by 49-crash-replay
# and 49-crash-append). georep-logreplay lists the log; dm-log-writes logs
# a plain write only once a later flush completed, so the entries before an
# index are one state the disk could hold after a power cut.
#
#   cr_list LWLOG MARK    $T/entries, CR_TOTAL, CR_START (the entry after
#                         the mark MARK, where the workload begins)
#   cr_points             "INDEX SUBSET" lines, POINTS of them (RANDOM
#                         seeded by the caller): the state after entries
#                         0..INDEX-1, plus a random subset of the unflushed
#                         writes after it when SUBSET is not 0
#   cr_run LWLOG IMG SIZE WHAT CHECK
#                         replays to each point in IMG (SIZE, zeroed first)
#                         and runs vt_check "power cut ...: WHAT" CHECK
#                         INDEX SUBSET at each; CHECK finds the state in IMG

cr_list() {
	georep-logreplay list "$1" >"$T/entries" || { echo "cannot list the log"; return 1; }
	CR_TOTAL=$(wc -l <"$T/entries")
	CR_START=$(awk -v m="$2" '$2 == "mark" && $5 == m { print $1 + 1 }' "$T/entries")
	echo "    # $CR_TOTAL log entries, $(grep -c ' fua' "$T/entries") FUA," \
		"$(grep -c ' flush' "$T/entries") flush, workload from entry $CR_START"
}

# cr_rnd N: a random number below N
cr_rnd() { echo $(( (RANDOM * 32768 + RANDOM) % $1 )); }

# Half of the points right after an acknowledgement's mark (the writes it
# acknowledged were just made durable, whatever else is unflushed), a
# quarter right after a flush or FUA entry, a quarter at a random entry with
# a random subset of the unflushed writes after it; and the end of the log.
cr_points() {
	local acks bounds i idx
	mapfile -t acks < <(awk -v s="$CR_START" '$1 >= s && $2 == "mark" { print $1 + 1 }' "$T/entries")
	mapfile -t bounds < <(awk -v s="$CR_START" '$1 >= s && ($2 ~ /^fua|flush/) { print $1 + 1 }' "$T/entries")
	{
	echo "$CR_TOTAL 0"
	for ((i = 1; i < POINTS; i++)); do
		if [ $((i % 2)) = 1 ] && [ ${#acks[@]} -gt 0 ]; then
			echo "${acks[$(cr_rnd ${#acks[@]})]} 0"
		elif [ $((i % 4)) = 2 ] && [ ${#bounds[@]} -gt 0 ]; then
			echo "${bounds[$(cr_rnd ${#bounds[@]})]} 0"
		else
			idx=$((CR_START + $(cr_rnd $((CR_TOTAL - CR_START)))))
			echo "$idx $((RANDOM + 1))"
		fi
	done
	} | sort -n -k1,1 -u
}

# cr_cut IMG LWLOG INDEX SUBSET: $T/cut.img from IMG, plus the subset
cr_cut() {
	cp --sparse=always "$1" "$T/cut.img" || return 1
	[ "$4" = 0 ] && return 0
	georep-logreplay replay "$2" "$T/cut.img" --from "$3" --to "$3" --subset "$4" |
		wc -l | sed 's/^/unflushed writes kept: /'
}

cr_run() {
	local lwlog=$1 img=$2 size=$3 label=$4 check=$5 prev=0 idx sub kind what
	rm -f "$img"
	truncate -s "$size" "$img" || return 1
	while read -r idx sub; do
		georep-logreplay replay "$lwlog" "$img" --from $prev --to "$idx" ||
			{ vt_check "replay to entry $idx" false; break; }
		prev=$idx
		kind=$(awk -v i=$((idx - 1)) '$1 == i { print $2 }' "$T/entries")
		what="after entry $((idx - 1)) ($kind)"
		[ "$sub" != 0 ] && what="$what + unflushed subset $sub"
		vt_check "power cut $what: $label" "$check" "$idx" "$sub"
	done < <(cr_points)
	rm -f "$T/cut.img"
}
