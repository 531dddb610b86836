/* SPDX-License-Identifier: GPL-2.0 */
/*
 * georepctl internals: the command table, argument parsing, helpers shared
 * by the cmd_*.c files.
 *
 * Exit codes: 0 success, 1 failure (kernel error, verification failure,
 * I/O error), 2 usage error (bad argument; the usage is printed).
 */
#ifndef _GEOREPCTL_H
#define _GEOREPCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "georep/nl.h"

#define GRCTL_EXIT_OK		0
#define GRCTL_EXIT_FAIL		1
#define GRCTL_EXIT_USAGE	2

/* one line of the top-level command table (commands.c) */
struct grctl_cmd {
	const char *name;
	int (*main)(int argc, char *argv[]);	/* argv[0] is the command name */
	const char *summary;
};

extern const struct grctl_cmd grctl_commands[];	/* ends with { NULL } */

/* a subcommand of a group ("volume create"); argv[0] is its name */
struct grctl_sub {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *usage;
};

/* dispatch.c: argv without the program name; returns the exit code */
int grctl_run(int argc, char *argv[]);
/* argv[0] is the group name, argv[1] the subcommand */
int grctl_dispatch_sub(const char *group, const struct grctl_sub *subs,
		       int argc, char *argv[]);

/* command groups, one file each */
int volume_main(int argc, char *argv[]);
int status_main(int argc, char *argv[]);
int ledger_main(int argc, char *argv[]);
int key_main(int argc, char *argv[]);

/* ---- args.c: options and strict numbers ---- */

#define GRCTL_OPT_HELP		(-'h')	/* id returned for -h / --help */
#define GRCTL_ARG_END		0	/* no more arguments */
#define GRCTL_ARG_POS		1	/* a positional argument in *val */
#define GRCTL_ARG_ERR		(-1)	/* error message in p->err */

struct grctl_opt {
	const char *name;		/* without the leading "--" */
	int id;				/* > 1 */
	bool has_arg;
};

struct grctl_parser {
	int argc;
	char **argv;
	int i;
	bool no_more_opts;		/* after "--" */
	const struct grctl_opt *opts;	/* ends with { NULL } */
	const char *cur;		/* "--name" of the option just returned */
	char err[256];
};

void grctl_parser_init(struct grctl_parser *p, int argc, char *argv[],
		       const struct grctl_opt *opts);
/* option id, GRCTL_OPT_HELP, GRCTL_ARG_POS, GRCTL_ARG_END or GRCTL_ARG_ERR */
int grctl_next(struct grctl_parser *p, const char **val);

/* strict decimal: no sign, no spaces, no trailing garbage, no overflow */
int grctl_parse_u64(const char *s, uint64_t *out);
/* bytes with an optional K, M, G or T suffix (powers of 1024) */
int grctl_parse_size(const char *s, uint64_t *out);
/*
 * Parse @val for the option p->cur into *out, within [min, max];
 * on failure fills p->err and returns GRCTL_ARG_ERR.
 */
int grctl_opt_u64(struct grctl_parser *p, const char *val, uint64_t min,
		  uint64_t max, uint64_t *out);
int grctl_opt_size(struct grctl_parser *p, const char *val, uint64_t *out);
int grctl_opt_name(struct grctl_parser *p, const char *val, const char **out);
/* a directory option (--key-dir): anything but "" */
int grctl_opt_dir(struct grctl_parser *p, const char *val, const char **out);
int grctl_opt_role(struct grctl_parser *p, const char *val, uint8_t *out);
int grctl_opt_rule(struct grctl_parser *p, const char *val, uint8_t *out);
int grctl_opt_io_state(struct grctl_parser *p, const char *val, uint8_t *out);
int grctl_errf(struct grctl_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* what the *_parse() functions return for -h / --help */
#define GRCTL_PARSE_HELP	1
/* the one positional <name> of a command: a second one is an error */
int grctl_take_name(struct grctl_parser *p, const char *val, const char **name);
/*
 * grctl_next() for a command whose only positional argument is <name>,
 * stored in *name. Returns the next option id (> 1), GRCTL_ARG_END, or what
 * the *_parse() function returns on its own: GRCTL_ARG_ERR or
 * GRCTL_PARSE_HELP.
 */
int grctl_next_named(struct grctl_parser *p, const char **val, const char **name);
/* the whole parse of "<name> [--key-dir DIR]" (ledger verify, key rotate) */
int grctl_parse_name_key_dir(struct grctl_parser *p, const char **name,
			     const char **key_dir);

/* prints "georepctl: <msg>" and the usage to stderr; returns 2 */
int grctl_usage_error(const char *usage, const char *msg);
/* prints the usage (and @help) to stdout; returns 0 */
int grctl_help(const char *usage, const char *help);
/*
 * After a *_parse() returned @ret: prints the help or the usage error.
 * True when the command should go on; otherwise *exit_code is its exit code.
 */
bool grctl_parsed(const struct grctl_parser *p, int ret, const char *usage,
		  const char *help, int *exit_code);
/* grctl_parsed(), then the netlink client opened into *nl */
bool grctl_parsed_open(const struct grctl_parser *p, int ret, const char *usage,
		       const char *help, struct georep_nl **nl, int *exit_code);

/* ---- helpers for the commands ---- */

/* prints "georepctl: <fmt>" to stderr; returns 1 */
int grctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* opens the netlink client, printing the error; returns 0 or 1 */
int grctl_nl_open(struct georep_nl **nl);
/* "georepctl: <what>: <strerror>: <extack>"; returns 1 */
int grctl_nl_fail(struct georep_nl *nl, const char *what, const char *name);
const char *grctl_key_dir(const char *opt);	/* --key-dir, $GEOREP_KEY_DIR, default */
const char *grctl_dev_dir(void);		/* $GEOREP_DEV_DIR or /dev/georep */

/* ---- parsed arguments, exposed for the unit tests ---- */

struct volume_create_args {
	const char *name;
	const char *data;
	const char *log;
	const char *key_dir;
	struct georep_vol_new req;	/* name/paths/keys filled at run time */
};

struct volume_set_args {
	struct georep_vol_set req;
	bool has_term;
	bool has_high;
	bool has_low;
};

struct ledger_dump_args {
	const char *name;
	bool has_from;
	uint64_t from;
	bool has_to;
	uint64_t to;
	bool json;
};

struct ledger_verify_args {
	const char *name;
	const char *key_dir;
};

struct status_args {
	const char *name;
	bool json;
	const char *socket, *site;	/* georepd's control socket (cluster view) */
};

struct name_seq_args {
	const char *name;
	uint64_t seq;
};

struct key_rotate_args {
	const char *name;
	const char *key_dir;
	const char *socket, *site;	/* georepd's: the cluster-wide rotation */
	bool json;
};

/* return 0, 1 when help was asked for, or GRCTL_ARG_ERR with p->err set */
int volume_create_parse(struct grctl_parser *p, struct volume_create_args *a);
int volume_delete_parse(struct grctl_parser *p, const char **name);
int volume_set_parse(struct grctl_parser *p, struct volume_set_args *a);
int ledger_dump_parse(struct grctl_parser *p, struct ledger_dump_args *a);
int ledger_verify_parse(struct grctl_parser *p, struct ledger_verify_args *a);
int ledger_release_parse(struct grctl_parser *p, struct name_seq_args *a);
int status_parse(struct grctl_parser *p, struct status_args *a);
int key_rotate_parse(struct grctl_parser *p, struct key_rotate_args *a);

#endif /* _GEOREPCTL_H */
