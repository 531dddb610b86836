/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georep trace points, for latency histograms drawn by eBPF tools.
 *
 *   georep:georep_submit    a record got its seq on the write path
 *   georep:georep_durable   a log flush made the records up to seq durable
 *   georep:georep_shipped   a log stream reader took the records up to seq
 *   georep:georep_commit    the commit rule is met for records up to seq
 *   georep:georep_complete  the bio behind record seq completed
 *   georep:georep_admit     a write is being admitted: a writable raw
 *                           tracepoint for BPF programs, no trace event
 *                           (include/uapi/linux/georep_bpf.h, admit.c)
 *
 * Every event carries the volume's minor and name, so a tool can key its
 * maps on the minor and print the name. The volume half fires them with
 *
 *   #include "trace.h"
 *
 *   trace_georep_submit(vol, seq, op, lba, len);
 *   trace_georep_commit(vol, seq);
 *   trace_georep_complete(vol, seq, error, start_ns);
 *
 * where start_ns is the record's timestamp_ns (CLOCK_REALTIME when the bio
 * was admitted, see the uapi header). The latency is computed here, so it
 * costs nothing while the event is off; a clock step while a write is in
 * flight skews that one sample (clamped at 0).
 * CREATE_TRACE_POINTS is defined in main.c only.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM georep

#if !defined(_GEOREP_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _GEOREP_TRACE_H

#include <linux/tracepoint.h>
#include <linux/timekeeping.h>
#include <uapi/linux/georep_bpf.h>
#include "georep.h"

/*
 * A record has its seq, chain hash and seal and goes to the log device.
 * @arrived_ns, @admitted_ns (ktime_get_ns(); 0 for a no-op): when its bio
 * reached the volume and when admission let it in; what lies between
 * admitted and now is hashing and ordering (log space, conflicts). The
 * per-write latency breakdown (georep-lat) starts from them.
 */
TRACE_EVENT(georep_submit,
	    TP_PROTO(struct georep_volume *vol, u64 seq, u16 op, u64 lba,
		     u32 len, u64 arrived_ns, u64 admitted_ns),
	    TP_ARGS(vol, seq, op, lba, len, arrived_ns, admitted_ns),
	    TP_STRUCT__entry(__field(u32, minor)
			     __string(volume, georep_volume_name(vol))
			     __field(u64, seq)
			     __field(u16, op)
			     __field(u64, lba)
			     __field(u32, len)
			     __field(u64, arrived_ns)
			     __field(u64, admitted_ns)),
	    TP_fast_assign(__entry->minor = georep_volume_minor(vol);
			   __assign_str(volume, georep_volume_name(vol));
			   __entry->seq = seq;
			   __entry->op = op;
			   __entry->lba = lba;
			   __entry->len = len;
			   __entry->arrived_ns = arrived_ns;
			   __entry->admitted_ns = admitted_ns;),
	    TP_printk("georep%u %s seq=%llu op=%s lba=%llu len=%u arrived_ns=%llu admitted_ns=%llu",
		      __entry->minor, __get_str(volume), __entry->seq,
		      __print_symbolic(__entry->op,
				       { GEOREP_OP_NOOP, "noop" },
				       { GEOREP_OP_WRITE, "write" },
				       { GEOREP_OP_DISCARD, "discard" },
				       { GEOREP_OP_WRITE_ZEROES, "write-zeroes" }),
		      __entry->lba, __entry->len, __entry->arrived_ns,
		      __entry->admitted_ns));

/* an event of one volume and one seq: commit, shipped */
DECLARE_EVENT_CLASS(georep_seq_class,
		    TP_PROTO(struct georep_volume *vol, u64 seq),
		    TP_ARGS(vol, seq),
		    TP_STRUCT__entry(__field(u32, minor)
				     __string(volume, georep_volume_name(vol))
				     __field(u64, seq)),
		    TP_fast_assign(__entry->minor = georep_volume_minor(vol);
				   __assign_str(volume, georep_volume_name(vol));
				   __entry->seq = seq;),
		    TP_printk("georep%u %s seq=%llu", __entry->minor,
			      __get_str(volume), __entry->seq));

/* the commit rule is met for the records up to @seq */
DEFINE_EVENT(georep_seq_class, georep_commit,
	     TP_PROTO(struct georep_volume *vol, u64 seq),
	     TP_ARGS(vol, seq));

/*
 * A reader of the log stream (georepd, which ships what it reads) took
 * every record up to @seq; georep-lat's "shipped" stage ends here.
 */
DEFINE_EVENT(georep_seq_class, georep_shipped,
	     TP_PROTO(struct georep_volume *vol, u64 seq),
	     TP_ARGS(vol, seq));

/* a log flush made every record up to @seq durable (error: it failed) */
TRACE_EVENT(georep_durable,
	    TP_PROTO(struct georep_volume *vol, u64 seq, int error),
	    TP_ARGS(vol, seq, error),
	    TP_STRUCT__entry(__field(u32, minor)
			     __string(volume, georep_volume_name(vol))
			     __field(u64, seq)
			     __field(int, error)),
	    TP_fast_assign(__entry->minor = georep_volume_minor(vol);
			   __assign_str(volume, georep_volume_name(vol));
			   __entry->seq = seq;
			   __entry->error = error;),
	    TP_printk("georep%u %s seq=%llu error=%d", __entry->minor,
		      __get_str(volume), __entry->seq, __entry->error));

TRACE_EVENT(georep_complete,
	    TP_PROTO(struct georep_volume *vol, u64 seq, int error,
		     u64 start_ns),
	    TP_ARGS(vol, seq, error, start_ns),
	    TP_STRUCT__entry(__field(u32, minor)
			     __string(volume, georep_volume_name(vol))
			     __field(u64, seq)
			     __field(int, error)
			     __field(u64, latency_ns)),
	    TP_fast_assign(__entry->minor = georep_volume_minor(vol);
			   __assign_str(volume, georep_volume_name(vol));
			   __entry->seq = seq;
			   __entry->error = error;
			   __entry->latency_ns = max_t(s64, 0,
						       ktime_get_real_ns() - start_ns);),
	    TP_printk("georep%u %s seq=%llu error=%d latency_ns=%llu",
		      __entry->minor, __get_str(volume), __entry->seq,
		      __entry->error, __entry->latency_ns));

/*
 * DECLARE_TRACE_WRITABLE only exists while bpf_probe.h is included (the
 * CREATE_TRACE_POINTS pass with CONFIG_BPF_EVENTS); elsewhere a plain
 * tracepoint declares trace_georep_admit(), as nbd and bpf_testmod do.
 */
#undef GEOREP_DECLARE_TRACE_WRITABLE
#ifdef DECLARE_TRACE_WRITABLE
#define GEOREP_DECLARE_TRACE_WRITABLE(call, proto, args, size) \
	DECLARE_TRACE_WRITABLE(call, PARAMS(proto), PARAMS(args), size)
#else
#define GEOREP_DECLARE_TRACE_WRITABLE(call, proto, args, size) \
	DECLARE_TRACE(call, PARAMS(proto), PARAMS(args))
#endif

GEOREP_DECLARE_TRACE_WRITABLE(georep_admit,
			      TP_PROTO(struct georep_admit_ctx *ctx),
			      TP_ARGS(ctx),
			      sizeof(struct georep_admit_ctx));

#endif /* _GEOREP_TRACE_H */

/* this part must be outside the include guard */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
