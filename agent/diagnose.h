/* diagnose.h (private to agent/): what `diagnose` reads of a first boot that did not come back
 * — its journal (diagnose-journal.c), the uplink the installed files name (diagnose-files.c) —
 * and the findings it draws from them and from the machine as the rescue sees it now
 * (diagnose-findings.c). cmd_diagnose.c mounts, reads, decides and prints. */
#pragma once

#include "agent/agent.h"
#include "disk/disk.h"
#include "netcfg/netcfg.h"

/* What a diagnosis can name. The JSON and the docs use the names of diag_cause_name. */
enum diag_cause {
	DIAG_NONE = 0,
	DIAG_ARRAY_NOT_STARTED, /* "array-not-started" */
	DIAG_NO_STAGE2, /* "no-stage2": no journal, the boot ended in stage 1 or earlier */
	DIAG_MAC_MISSING, /* "mac-missing" */
	DIAG_NO_CARRIER, /* "no-carrier" */
	DIAG_NO_ROUTE, /* "no-route" */
	DIAG_SSHD_FAILED, /* "sshd-failed" */
	DIAG_UNKNOWN, /* "unknown" */
};
const char *diag_cause_name(enum diag_cause c);

/* ---- the journal of the failed boot (diagnose-journal.c) ---- */

#define DIAG_JOURNAL_DIR "/var/log/journal" /* in the installed system */

/* The last entries of the boot that are read at most (journalctl -n): the end of a failed boot is
 * what matters, and the output stays within what the runner keeps in memory. */
#define DIAG_JOURNAL_MAX_ENTRIES 10000

struct diag_entry {
	/* The unit the line is about: UNIT= (the service manager speaking of a unit), else
	 * _SYSTEMD_UNIT=, else SYSLOG_IDENTIFIER=; "kernel" for the kernel's ring buffer. */
	char *unit;
	char *ident; /* SYSLOG_IDENTIFIER=, or NULL */
	char *message; /* control characters and invalid UTF-8 replaced by '?' */
	uint64_t monotonic_usec, realtime_usec;
};

struct diag_journal {
	char *dir; /* DIAG_JOURNAL_DIR under the mount (the path journalctl reads), NULL when absent */
	bool present; /* the directory exists */
	bool has_files; /* it holds *.journal files (in it or a machine-id directory) */
	size_t n_boots; /* boots journalctl lists */
	char *boot_id; /* the last of them: the failed boot (NULL when none) */
	struct diag_entry *entries;
	size_t n_entries;
	bool limit_reached; /* DIAG_JOURNAL_MAX_ENTRIES read: earlier entries of the boot left out */
	char **messages; /* journalctl's own lines ("... corrupted, ignoring file"), at most a few */
	char *error; /* why the journal could not be read (journalctl failed, not found), or NULL */
};

/* Reads the last boot of the journal in DIAG_JOURNAL_DIR under mount_dir (the mounted root; a
 * symlink out of it is not followed) with journalctl --directory: --list-boots, then that boot
 * as JSON. What cannot be read is recorded in j (present, has_files, error, messages), never an
 * error: the findings say what it means. Fails only when out of memory. */
int diag_journal_read(const char *mount_dir, struct diag_journal *j, struct nm_error *e);
void diag_journal_free(struct diag_journal *j);
#define _cleanup_diag_journal_ _cleanup_(diag_journal_free)

/* One line of `journalctl -o json`: 0 and *en filled, or -EINVAL when the line is not a journal
 * entry (journalctl's own messages share the output), -ENOMEM. */
int diag_entry_parse(const char *line, size_t len, struct diag_entry *en);
void diag_entry_clear(struct diag_entry *en);
/* The last boot ID `journalctl --list-boots` prints (with or without its header line, as
 * systemd 252 and older print it), malloc'd, or NULL; *n gets how many boots it lists. */
char *diag_last_boot_parse(const char *output, size_t *n);

/* The link a line of systemd-networkd is about ("eno1: Lost carrier" gives "eno1"); false (and
 * ifname empty) for other lines. */
bool diag_entry_link(const struct diag_entry *en, char *ifname, size_t size);

/* What one journal line is evidence of, or DIAG_NONE. Carrier changes are told apart by
 * diag_carrier_event: a lost carrier that came back is no cause. */
enum diag_cause diag_classify(const struct diag_entry *en);
/* A carrier change: +1 gained, -1 lost, 0 none. networkd names the link ("eno1: Lost carrier"):
 * its name goes to ifname; the kernel's driver lines ("eno1: NIC Link is Down") leave ifname
 * empty (the caller looks for the name in the message). */
int diag_carrier_event(const struct diag_entry *en, char *ifname, size_t size);
/* The link networkd configured with the uplink's unit (10-uplink.network, or the PCI-path unit
 * 20-uplink-pci-path.network): "eno1: Configuring with /etc/systemd/network/10-uplink.network."
 * gives "eno1". Returns whether the line says so. */
bool diag_uplink_configured(const struct diag_entry *en, char *ifname, size_t size);

/* ---- the installed files (diagnose-files.c) ---- */

struct diag_line {
	unsigned line; /* 1-based line number in the file */
	char *text; /* the line, trimmed */
};

struct diag_rendered {
	/* hardware-configuration.nix as installed: the uplink's MAC and PCI path and the routes. */
	char *hw_file; /* its path in the installed system, or NULL when it could not be read */
	char *mac; /* matchConfig.MACAddress of the "10-uplink" unit, lower case */
	struct diag_line mac_line;
	char *pci_path; /* matchConfig.Path of "20-uplink-pci-path" ("pci-0000:01:00.0"), or NULL */
	struct diag_line routes[4]; /* the Gateway lines */
	size_t n_routes;
	/* plan.json (the installed one, else --plan FILE). */
	char *plan_file;
	char *root_uuid; /* the plan's "/" filesystem */
	char *uplink_name; /* the rescue's name of the uplink at install time */
	char *uplink_predicted; /* the name NixOS gives it (NULL when none applies) */
	char **array_uuids; /* the planned md arrays */
	char *install_result; /* /var/lib/nmmm/state.json "result" ("done"), or NULL */
	char **warnings; /* what could not be read */
};

/* The uplink lines of hardware-configuration.nix text (the shape netcfg/render-net.c writes). */
int diag_rendered_parse_hw(const char *text, struct diag_rendered *r);
/* The fields of a parsed plan.json (render.c's record). */
void diag_rendered_from_plan(json_object *plan, struct diag_rendered *r);
/* Reads hardware-configuration.nix, plan.json and state.json under mount_dir (the mounted root;
 * symlinks resolved inside it) and, when the installed plan.json is missing, the parsed --plan
 * file (may be NULL). Missing files are warnings. Fails only when out of memory. */
int diag_rendered_read(const char *mount_dir, json_object *plan_arg, const char *plan_arg_path, struct diag_rendered *r,
		       struct nm_error *e);
void diag_rendered_free(struct diag_rendered *r);
#define _cleanup_diag_rendered_ _cleanup_(diag_rendered_free)

/* ---- findings (diagnose-findings.c) ---- */

/* journal: a line of the failed boot; rescue: the machine now; file: a line of an installed file;
 * note: what diagnose concluded from them (a line missing from the journal, the install's
 * result). */
enum diag_source { DIAG_SRC_JOURNAL, DIAG_SRC_RESCUE, DIAG_SRC_FILE, DIAG_SRC_NOTE };

struct diag_evidence {
	enum diag_source source;
	char *unit; /* journal: the entry's unit */
	uint64_t monotonic_usec, realtime_usec; /* journal */
	char *path; /* file: its path in the installed system */
	unsigned line; /* file */
	char *text;
};

struct diag_finding {
	enum diag_cause cause;
	char *summary; /* one line */
	char *fix; /* what to do */
	struct diag_evidence *ev;
	size_t n_ev;
};

/* The findings, the likely cause first; never empty once made (DIAG_UNKNOWN when nothing
 * matched, with the last journal lines of networkd, mdadm, sshd and systemd as evidence). */
struct diag_report {
	struct diag_finding *v;
	size_t n;
};

/* Everything the findings are drawn from; all borrowed. */
struct diag_input {
	const struct diag_journal *journal;
	const struct diag_rendered *rendered;
	const struct net_inventory *net; /* the rescue's NICs now (carrier, operstate) */
	const struct disk_md_status *md; /* the arrays now */
};

#define DIAG_UNKNOWN_LINES 40 /* journal lines shown when nothing matched */

int diag_report_make(const struct diag_input *in, struct diag_report *rep, struct nm_error *e);
void diag_report_free(struct diag_report *rep);
#define _cleanup_diag_report_ _cleanup_(diag_report_free)
/* findings[] of the JSON: {cause, summary, fix, evidence[] {source, unit, monotonic_usec,
 * realtime_usec, path, line, text}} (docs/provision.md). */
json_object *diag_report_to_json(const struct diag_report *rep);
void diag_report_print(const struct diag_report *rep, FILE *out);
/* The NIC in the inventory with this MAC (case does not matter), or NULL. */
const struct net_nic *diag_nic_by_mac(const struct net_inventory *net, const char *mac);
