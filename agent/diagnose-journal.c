/* diagnose-journal.c: the journal of the installed system's last boot, read from the mounted root
 * with the rescue's journalctl (--directory, --list-boots, then that boot as JSON, the last
 * DIAG_JOURNAL_MAX_ENTRIES entries), and what single lines of it are evidence of: networkd's
 * carrier and route messages, mdadm's and stage 1's, sshd's. It only reads the journal files; a
 * journal that cannot be read is recorded, never fatal. */
#include "agent/diagnose.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define JOURNAL_MESSAGES_MAX 5 /* journalctl's own lines kept */

void diag_entry_clear(struct diag_entry *en)
{
	free(en->unit);
	free(en->ident);
	free(en->message);
	*en = (struct diag_entry){0};
}

void diag_journal_free(struct diag_journal *j)
{
	for (size_t i = 0; i < j->n_entries; i++)
		diag_entry_clear(&j->entries[i]);
	free(j->entries);
	free(j->dir);
	free(j->boot_id);
	nm_strv_free(j->messages);
	free(j->error);
	*j = (struct diag_journal){0};
}

static uint64_t field_u64(json_object *o, const char *key)
{
	const char *s = nm_json_str(o, key);
	return s ? strtoull(s, NULL, 10) : 0;
}

/* MESSAGE is a string, or an array of byte values when it is not valid UTF-8. */
static char *message_of(json_object *o)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, "MESSAGE", &v) || !v)
		return strdup("");
	if (json_object_is_type(v, json_type_string))
		return strdup(json_object_get_string(v));
	if (!json_object_is_type(v, json_type_array))
		return strdup("");
	size_t n = json_object_array_length(v);
	char *s = malloc(n + 1);
	for (size_t i = 0; s && i < n; i++) {
		int b = json_object_get_int(json_object_array_get_idx(v, i));
		s[i] = b > 0 && b < 256 ? (char)b : '?';
	}
	if (s)
		s[n] = '\0';
	return s;
}

int diag_entry_parse(const char *line, size_t len, struct diag_entry *en)
{
	*en = (struct diag_entry){0};
	if (len == 0 || line[0] != '{')
		return -EINVAL;
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_object *o = json_tokener_parse_ex(tok, line, (int)len);
	bool complete = json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	_cleanup_json_ json_object *obj = o;
	if (!complete || !obj || !json_object_is_type(obj, json_type_object) || !nm_json_str(obj, "__CURSOR"))
		return -EINVAL;
	const char *transport = nm_json_str(obj, "_TRANSPORT");
	const char *unit = transport && strcmp(transport, "kernel") == 0 ? "kernel" : nm_json_str(obj, "UNIT");
	const char *ident = nm_json_str(obj, "SYSLOG_IDENTIFIER");
	if (!unit)
		unit = nm_json_str(obj, "_SYSTEMD_UNIT");
	if (!unit)
		unit = ident ? ident : "?";
	en->unit = strdup(unit);
	en->ident = ident ? strdup(ident) : NULL;
	en->message = message_of(obj);
	en->monotonic_usec = field_u64(obj, "__MONOTONIC_TIMESTAMP");
	en->realtime_usec = field_u64(obj, "__REALTIME_TIMESTAMP");
	if (!en->unit || !en->message || (ident && !en->ident)) {
		diag_entry_clear(en);
		return -ENOMEM;
	}
	nm_sanitize_text(en->unit);
	nm_sanitize_text(en->message);
	return 0;
}

char *diag_last_boot_parse(const char *output, size_t *n)
{
	*n = 0;
	char last[33] = "";
	for (const char *p = output; p && *p;) {
		int idx = 0;
		char id[33];
		/* "  0 6f2b4ad1c0e94f4c8a1f3b2e5d6c7a89 Mon 2025-12-29 ...": index, 32 hex digits */
		if (sscanf(p, " %d %32[0-9a-f]", &idx, id) == 2 && strlen(id) == 32) {
			memcpy(last, id, sizeof last);
			(*n)++;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return last[0] ? strdup(last) : NULL;
}

/* ---- running journalctl ---- */

static void keep_message(struct diag_journal *j, const char *line, size_t len)
{
	if (nm_strv_len(j->messages) >= JOURNAL_MESSAGES_MAX || len == 0)
		return;
	_cleanup_free_ char *s = strndup(line, len > 300 ? 300 : len);
	if (s) {
		nm_sanitize_text(s);
		nm_warning_add(&j->messages, "journalctl: %s", s);
	}
}

/* journalctl's answer: its output (stdout and stderr together) and status into j. */
static int run_journalctl(struct diag_journal *j, const char *const argv[], struct nm_run_result *res,
			  struct nm_error *e)
{
	struct nm_error err = {0};
	int r = nm_run(argv, &(struct nm_run_opts){.timeout_sec = 120, .allow_failure = true}, res, &err);
	if (r == -ENOMEM)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (r < 0 || res->exit_status != 0) {
		free(j->error);
		j->error =
		    r < 0 ? strdup(err.msg) : nm_strdup_printf("%s exited with status %d", argv[0], res->exit_status);
	}
	return 0;
}

static int add_entry(struct diag_journal *j, struct diag_entry *en)
{
	if (j->n_entries % 256 == 0) {
		struct diag_entry *nv = realloc(j->entries, (j->n_entries + 256) * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		j->entries = nv;
	}
	j->entries[j->n_entries++] = *en;
	*en = (struct diag_entry){0};
	return 0;
}

static int parse_entries(struct diag_journal *j, const char *out, size_t len)
{
	for (const char *p = out; p < out + len;) {
		const char *nl = memchr(p, '\n', (size_t)(out + len - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(out + len - p);
		struct diag_entry en;
		int r = diag_entry_parse(p, n, &en);
		if (r == -ENOMEM || (r == 0 && add_entry(j, &en) < 0))
			return diag_entry_clear(&en), -ENOMEM;
		if (r < 0)
			keep_message(j, p, n);
		p = nl ? nl + 1 : out + len;
	}
	j->limit_reached = j->n_entries >= DIAG_JOURNAL_MAX_ENTRIES;
	return 0;
}

/* The lines of --list-boots that are not boots are journalctl's messages ("No journal files were
 * found."), except its header. */
static void keep_list_messages(struct diag_journal *j, const char *out)
{
	for (const char *p = out; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		int idx;
		char id[33];
		if (sscanf(p, " %d %32[0-9a-f]", &idx, id) != 2 && strncmp(p, "IDX BOOT ID", 11) != 0)
			keep_message(j, p, n);
		p = nl ? nl + 1 : NULL;
	}
}

static bool is_journal_file(const char *name)
{
	size_t n = strlen(name);
	return (n > 8 && strcmp(name + n - 8, ".journal") == 0) || (n > 9 && strcmp(name + n - 9, ".journal~") == 0);
}

/* *.journal files in dir or in a directory below it (journald writes <machine-id>/system.journal). */
static bool holds_journal_files(const char *dir)
{
	_cleanup_strv_free_ char **names = NULL;
	if (nm_list_dir(dir, "/", &names) < 0)
		return false;
	for (size_t i = 0; names[i]; i++) {
		_cleanup_strv_free_ char **inner = NULL;
		if (is_journal_file(names[i]))
			return true;
		if (nm_list_dir(dir, names[i], &inner) < 0)
			continue;
		for (size_t k = 0; inner[k]; k++)
			if (is_journal_file(inner[k]))
				return true;
	}
	return false;
}

int diag_journal_read(const char *mount_dir, struct diag_journal *j, struct nm_error *e)
{
	*j = (struct diag_journal){.messages = nm_strv_new()};
	_cleanup_free_ char *real = NULL;
	int r = nm_realpath(mount_dir, DIAG_JOURNAL_DIR, &real);
	if (r == -ENOMEM || !j->messages)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	j->present = r != -ENOENT;
	if (r == -EXDEV) /* a symlink out of the installed system: never followed */
		j->error = strdup(DIAG_JOURNAL_DIR ": a symlink out of the installed system; not followed");
	else if (r < 0 && r != -ENOENT)
		j->error = nm_strdup_printf(DIAG_JOURNAL_DIR ": %s", strerror(-r));
	if (r < 0)
		return 0;
	const char *dir = j->dir = nm_strdup_printf("%s%s", mount_dir, real);
	if (!dir)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	j->has_files = holds_journal_files(dir);
	if (!j->has_files)
		return 0;
	const char *list[] = {"journalctl", "--directory", dir, "--list-boots", "--no-pager", NULL};
	_cleanup_run_result_ struct nm_run_result res = {0};
	r = run_journalctl(j, list, &res, e);
	if (r < 0 || j->error)
		return r;
	j->boot_id = diag_last_boot_parse(res.output, &j->n_boots);
	keep_list_messages(j, res.output);
	if (!j->boot_id)
		return 0;
	char limit[24];
	snprintf(limit, sizeof limit, "%d", DIAG_JOURNAL_MAX_ENTRIES);
	const char *show[] = {"journalctl",
			      "--directory",
			      dir,
			      "--boot",
			      j->boot_id,
			      "--output",
			      "json",
			      "--output-fields",
			      "MESSAGE,_SYSTEMD_UNIT,UNIT,SYSLOG_IDENTIFIER,_TRANSPORT",
			      "--all", /* fields over 4 KiB in full, not null */
			      "--lines",
			      limit,
			      "--no-pager",
			      NULL};
	nm_run_result_free(&res);
	r = run_journalctl(j, show, &res, e);
	if (r == 0 && parse_entries(j, res.output, res.output_len) < 0)
		r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory reading the journal");
	return r;
}

/* ---- what a line means ---- */

static bool unit_is(const struct diag_entry *en, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(en->unit, prefix, n) == 0 || (en->ident && strncmp(en->ident, prefix, n) == 0);
}

static bool says(const struct diag_entry *en, const char *text)
{
	return strcasestr(en->message, text) != NULL;
}

/* Evidence patterns: a unit (prefix of the unit or identifier; NULL: any) and words of the
 * message (case does not matter). The messages are systemd-networkd's, mdadm's, the kernel's md
 * and NIC drivers', systemd's in the initrd and NixOS's scripted stage 1, and sshd's. */
static const struct {
	enum diag_cause cause;
	const char *unit;
	const char *text;
} patterns[] = {
    {DIAG_NO_ROUTE, "systemd-networkd", "Could not set route"},
    {DIAG_NO_ROUTE, "systemd-networkd", "Could not set default route"},
    {DIAG_NO_ROUTE, "systemd-networkd", "Could not configure route"},
    {DIAG_NO_ROUTE, "systemd-networkd", "Failed to configure"},
    {DIAG_NO_ROUTE, "systemd-networkd", "Network is unreachable"},
    {DIAG_ARRAY_NOT_STARTED, NULL, "not enough operational"},
    {DIAG_ARRAY_NOT_STARTED, NULL, "Timed out waiting for device"},
    {DIAG_ARRAY_NOT_STARTED, NULL, "Dependency failed for /sysroot"},
    {DIAG_ARRAY_NOT_STARTED, NULL, "An error occurred in stage 1"},
    {DIAG_ARRAY_NOT_STARTED, "mdadm", "fail"},
    {DIAG_ARRAY_NOT_STARTED, "mdadm", "cannot"},
    {DIAG_ARRAY_NOT_STARTED, "dev-md", "timed out"},
    {DIAG_ARRAY_NOT_STARTED, "dev-disk-by", "timed out"},
    {DIAG_SSHD_FAILED, "sshd", "Failed to start"},
    {DIAG_SSHD_FAILED, "sshd", "Failed with result"},
    {DIAG_SSHD_FAILED, "sshd", "Main process exited"},
    {DIAG_SSHD_FAILED, "sshd", "Start request repeated too quickly"},
    {DIAG_SSHD_FAILED, "sshd", "Could not load host key"},
    {DIAG_SSHD_FAILED, "sshd", "Unable to load host key"},
    {DIAG_SSHD_FAILED, "sshd", "no hostkeys available"},
    {DIAG_SSHD_FAILED, "sshd", "Missing privilege separation directory"},
    {DIAG_SSHD_FAILED, "sshd", "Bind to port"},
};

enum diag_cause diag_classify(const struct diag_entry *en)
{
	for (size_t i = 0; i < NM_ELEMENTSOF(patterns); i++)
		if ((!patterns[i].unit || unit_is(en, patterns[i].unit)) && says(en, patterns[i].text))
			return patterns[i].cause;
	/* PID 1 names the unit in its own words: "Failed to start SSH Daemon." (NixOS's sshd). */
	if (says(en, "Failed to start SSH Daemon"))
		return DIAG_SSHD_FAILED;
	char ifname[64];
	if (diag_carrier_event(en, ifname, sizeof ifname) < 0)
		return DIAG_NO_CARRIER;
	return DIAG_NONE;
}

static bool from_networkd(const struct diag_entry *en)
{
	return unit_is(en, "systemd-networkd.service") || (en->ident && strcmp(en->ident, "systemd-networkd") == 0);
}

bool diag_entry_link(const struct diag_entry *en, char *ifname, size_t size)
{
	/* "eno1: Lost carrier": the link's name before ": " (no spaces in it) */
	size_t n = strcspn(en->message, ": ");
	ifname[0] = '\0';
	if (!from_networkd(en) || n == 0 || n >= size || strncmp(en->message + n, ": ", 2) != 0)
		return false;
	memcpy(ifname, en->message, n);
	ifname[n] = '\0';
	return true;
}

int diag_carrier_event(const struct diag_entry *en, char *ifname, size_t size)
{
	ifname[0] = '\0';
	if (from_networkd(en)) {
		int ev = says(en, ": Lost carrier") ? -1 : says(en, ": Gained carrier") ? 1 : 0;
		if (ev)
			diag_entry_link(en, ifname, size);
		return ev;
	}
	if (strcmp(en->unit, "kernel") == 0) /* drivers: "NIC Link is Down", "Link is Down", "link down" */
		return says(en, "Link is Down") || says(en, "link down") ? -1
		    : says(en, "Link is Up") || says(en, "link up")	 ? 1
									 : 0;
	return 0;
}

bool diag_uplink_configured(const struct diag_entry *en, char *ifname, size_t size)
{
	if (!says(en, "Configuring with") ||
	    !(says(en, "/10-uplink.network") || says(en, "/20-uplink-pci-path.network")))
		return false;
	return diag_entry_link(en, ifname, size);
}
