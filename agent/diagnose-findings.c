/* diagnose-findings.c: from what diagnose read — the failed boot's journal, the installed
 * uplink's MAC, the rescue's NICs and arrays now — the findings, the likely cause first, each
 * with a one-line summary, what to do and its evidence; and their JSON and text. The order of
 * the checks follows the boot: the arrays and stage 1, the uplink's MAC, its carrier, its route,
 * sshd. Pure: it reads nothing and runs nothing. */
#include "agent/diagnose.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EVIDENCE_LINES 10 /* journal lines per finding, the last ones */

static const char *const cause_names[] = {
    [DIAG_NONE] = "none",
    [DIAG_ARRAY_NOT_STARTED] = "array-not-started",
    [DIAG_NO_STAGE2] = "no-stage2",
    [DIAG_MAC_MISSING] = "mac-missing",
    [DIAG_NO_CARRIER] = "no-carrier",
    [DIAG_NO_ROUTE] = "no-route",
    [DIAG_SSHD_FAILED] = "sshd-failed",
    [DIAG_UNKNOWN] = "unknown",
};

const char *diag_cause_name(enum diag_cause c)
{
	return (size_t)c < NM_ELEMENTSOF(cause_names) ? cause_names[c] : "?";
}

static void evidence_clear(struct diag_evidence *ev)
{
	free(ev->unit);
	free(ev->path);
	free(ev->text);
}

void diag_report_free(struct diag_report *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		struct diag_finding *f = &rep->v[i];
		for (size_t k = 0; k < f->n_ev; k++)
			evidence_clear(&f->ev[k]);
		free(f->ev);
		free(f->summary);
		free(f->fix);
	}
	free(rep->v);
	*rep = (struct diag_report){0};
}

const struct net_nic *diag_nic_by_mac(const struct net_inventory *net, const char *mac)
{
	for (size_t i = 0; mac && i < net->n_nics; i++)
		if (net->nics[i].mac && strcasecmp(net->nics[i].mac, mac) == 0)
			return &net->nics[i];
	return NULL;
}

/* ---- the journal, read once for all findings ---- */

/* Lines by cause, the last EVIDENCE_LINES of each. */
struct lines {
	const struct diag_entry *v[EVIDENCE_LINES];
	size_t n;
};

static void lines_add(struct lines *l, const struct diag_entry *en)
{
	if (l->n == EVIDENCE_LINES)
		memmove(l->v, l->v + 1, (EVIDENCE_LINES - 1) * sizeof l->v[0]);
	else
		l->n++;
	l->v[l->n - 1] = en;
}

struct scan {
	char uplink_if[64]; /* the uplink's name in the failed boot, "" when unknown */
	bool uplink_configured; /* networkd configured it with the uplink's unit */
	bool networkd_seen;
	int carrier; /* the uplink's last carrier change in the boot: -1 lost, +1 gained, 0 none */
	struct lines by_cause[DIAG_UNKNOWN + 1];
};

static bool about_other_link(const struct scan *s, const struct diag_entry *en, const char *ifname)
{
	if (!s->uplink_if[0])
		return false;
	if (ifname[0])
		return strcmp(ifname, s->uplink_if) != 0;
	/* a driver's line names the interface somewhere in the message */
	return strcmp(en->unit, "kernel") == 0 && !strstr(en->message, s->uplink_if);
}

static void scan_journal(const struct diag_input *in, struct scan *s)
{
	const struct diag_journal *j = in->journal;
	const struct diag_rendered *r = in->rendered;
	for (size_t i = 0; i < j->n_entries && !s->uplink_configured; i++)
		s->uplink_configured = diag_uplink_configured(&j->entries[i], s->uplink_if, sizeof s->uplink_if);
	if (!s->uplink_configured) {
		/* NixOS names the link as the rescue predicted, else it keeps the kernel's name */
		const char *name = r->uplink_predicted ? r->uplink_predicted : r->uplink_name;
		snprintf(s->uplink_if, sizeof s->uplink_if, "%s", name ? name : "");
	}
	for (size_t i = 0; i < j->n_entries; i++) {
		const struct diag_entry *en = &j->entries[i];
		char ifname[64];
		s->networkd_seen |= strncmp(en->unit, "systemd-networkd.service", 24) == 0;
		enum diag_cause c = diag_classify(en);
		int ev = diag_carrier_event(en, ifname, sizeof ifname);
		if (ev != 0 && !about_other_link(s, en, ifname)) {
			s->carrier = ev;
			lines_add(&s->by_cause[DIAG_NO_CARRIER], en);
			continue;
		}
		if (c == DIAG_NONE || c == DIAG_NO_CARRIER)
			continue;
		diag_entry_link(en, ifname, sizeof ifname);
		if (c == DIAG_NO_ROUTE && about_other_link(s, en, ifname))
			continue;
		lines_add(&s->by_cause[c], en);
	}
}

/* ---- building findings ---- */

struct make {
	const struct diag_input *in;
	struct diag_report *rep;
	struct scan scan;
	bool oom;
};

static struct diag_finding *finding_add(struct make *m, enum diag_cause cause)
{
	struct diag_finding *nv = realloc(m->rep->v, (m->rep->n + 1) * sizeof *nv);
	if (!nv) {
		m->oom = true;
		return NULL;
	}
	m->rep->v = nv;
	nv[m->rep->n] = (struct diag_finding){.cause = cause};
	return &nv[m->rep->n++];
}

static struct diag_evidence *evidence_add(struct make *m, struct diag_finding *f, enum diag_source src)
{
	if (!f)
		return NULL;
	struct diag_evidence *nv = realloc(f->ev, (f->n_ev + 1) * sizeof *nv);
	if (!nv) {
		m->oom = true;
		return NULL;
	}
	f->ev = nv;
	nv[f->n_ev] = (struct diag_evidence){.source = src};
	return &nv[f->n_ev++];
}

static void ev_journal(struct make *m, struct diag_finding *f, const struct diag_entry *en)
{
	struct diag_evidence *ev = evidence_add(m, f, DIAG_SRC_JOURNAL);
	if (!ev)
		return;
	ev->unit = strdup(en->unit);
	ev->text = strdup(en->message);
	ev->monotonic_usec = en->monotonic_usec;
	ev->realtime_usec = en->realtime_usec;
	m->oom |= !ev->unit || !ev->text;
}

static void ev_lines(struct make *m, struct diag_finding *f, const struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		ev_journal(m, f, l->v[i]);
}

static void ev_text(struct make *m, struct diag_finding *f, enum diag_source src, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void ev_text(struct make *m, struct diag_finding *f, enum diag_source src, const char *fmt, ...)
{
	struct diag_evidence *ev = evidence_add(m, f, src);
	if (!ev)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&ev->text, fmt, ap) < 0)
		ev->text = NULL;
	va_end(ap);
	m->oom |= !ev->text;
}

static void ev_file(struct make *m, struct diag_finding *f, const char *path, const struct diag_line *line)
{
	struct diag_evidence *ev = path && line->text ? evidence_add(m, f, DIAG_SRC_FILE) : NULL;
	if (!ev)
		return;
	ev->path = strdup(path);
	ev->line = line->line;
	ev->text = strdup(line->text);
	m->oom |= !ev->path || !ev->text;
}

static void set_text(struct make *m, char **field, char *s)
{
	*field = s;
	m->oom |= !s;
}

static const char *carrier_word(int carrier)
{
	return carrier == 1 ? "on" : carrier == 0 ? "off" : "unknown";
}

static void ev_nic(struct make *m, struct diag_finding *f, const struct net_nic *n)
{
	ev_text(m, f, DIAG_SRC_RESCUE, "%s %s: carrier %s, operstate %s%s", n->name, n->mac ? n->mac : "(no MAC)",
		carrier_word(n->carrier), n->operstate ? n->operstate : "unknown", n->physical ? "" : " (virtual)");
}

/* The NIC the uplink is plugged into now, as far as the rescue can tell: the one carrying its
 * default route, else one with carrier (not a BMC's). */
static const struct net_nic *nic_with_carrier(const struct net_inventory *net, const struct net_nic * not )
{
	const char *dev = net->ipv4_gateway.dev ? net->ipv4_gateway.dev : net->ipv6_gateway.dev;
	for (size_t i = 0; dev && i < net->n_nics; i++)
		if (&net->nics[i] != not &&strcmp(net->nics[i].name, dev) == 0 && net->nics[i].mac)
			return &net->nics[i];
	for (size_t i = 0; i < net->n_nics; i++)
		if (&net->nics[i] != not &&net->nics[i].carrier == 1 && !net->nics[i].bmc && net->nics[i].mac)
			return &net->nics[i];
	return NULL;
}

/* ---- the checks, in the order of the boot ---- */

static bool md_uuid_assembled(const struct disk_md_status *md, const char *uuid)
{
	for (size_t i = 0; i < md->n_arrays; i++)
		if (md->arrays[i].uuid && strcasecmp(md->arrays[i].uuid, uuid) == 0)
			return true;
	return false;
}

static bool md_uuids_known(const struct disk_md_status *md)
{
	for (size_t i = 0; i < md->n_arrays; i++)
		if (md->arrays[i].uuid)
			return true;
	return false;
}

/* What the arrays look like now, and whether that alone says an array cannot start. */
static bool md_evidence(struct make *m, struct diag_finding *f, bool degraded_counts)
{
	const struct disk_md_status *md = m->in->md;
	const struct diag_rendered *r = m->in->rendered;
	bool bad = false;
	for (size_t i = 0; md && i < md->n_arrays; i++) {
		const struct disk_md_array *a = &md->arrays[i];
		bool degraded = a->raid_disks && a->working < a->raid_disks;
		bool failed = nm_strv_len(a->failed) > 0;
		if (f)
			ev_text(m, f, DIAG_SRC_RESCUE, "%s%s%s: %s%s %s [%u/%u]%s%s", a->name, a->md_name ? " " : "",
				a->md_name ? a->md_name : "", a->active ? "active" : "inactive",
				a->readonly ? " read-only" : "", a->level ? a->level : "-", a->raid_disks, a->working,
				degraded ? " degraded" : "", failed ? ", a member failed" : "");
		bad |= !a->active || failed || (degraded && degraded_counts);
	}
	if (md && md_uuids_known(md))
		for (size_t i = 0; r->array_uuids && r->array_uuids[i]; i++)
			if (!md_uuid_assembled(md, r->array_uuids[i])) {
				bad = true;
				if (f)
					ev_text(m, f, DIAG_SRC_RESCUE,
						"the planned array %s is not among the arrays now", r->array_uuids[i]);
			}
	return bad;
}

static void check_array(struct make *m, bool no_stage2)
{
	const struct lines *l = &m->scan.by_cause[DIAG_ARRAY_NOT_STARTED];
	if (l->n == 0 && !md_evidence(m, NULL, no_stage2))
		return;
	struct diag_finding *f = finding_add(m, DIAG_ARRAY_NOT_STARTED);
	if (!f)
		return;
	set_text(m, &f->summary,
		 strdup(l->n ? "stage 1 did not start the root array (or find the root device)"
			     : "an array of the installed system is not running whole in the rescue either"));
	set_text(m, &f->fix,
		 strdup("check the arrays: 'cat /proc/mdstat', 'mdadm --detail /dev/mdX', 'mdadm --examine' on "
			"each member; a failed or missing member: replace the disk ('nmmm-agent replace-disk'); an "
			"array that assembles here but not at boot: compare the UUIDs in boot.swraid.mdadmConf of "
			"hardware-configuration.nix with 'mdadm --detail --scan'"));
	ev_lines(m, f, l);
	md_evidence(m, f, true);
}

static void check_stage2(struct make *m, bool no_stage2)
{
	const struct diag_journal *j = m->in->journal;
	if (!no_stage2)
		return;
	struct diag_finding *f = finding_add(m, DIAG_NO_STAGE2);
	if (!f)
		return;
	set_text(m, &f->summary,
		 strdup("no journal: the system did not reach stage 2 (journald never wrote); the boot failed in "
			"stage 1 or earlier (boot loader)"));
	set_text(m, &f->fix,
		 strdup("watch the boot on the server's console (Robot: order a KVM console, or reset with one "
			"attached): does GRUB show its menu (else the boot loader or the firmware's boot order), does "
			"stage 1 wait for the root device (its UUID, the arrays)? In the rescue, check that the root "
			"device and its arrays are there ('blkid', 'cat /proc/mdstat')"));
	ev_text(m, f, DIAG_SRC_NOTE, "%s: %s", DIAG_JOURNAL_DIR,
		j->present ? "no journal files in it" : "no such directory");
	if (m->in->rendered->install_result)
		ev_text(m, f, DIAG_SRC_NOTE, "the install finished with result \"%s\" (/var/lib/nmmm/state.json)",
			m->in->rendered->install_result);
	md_evidence(m, f, true);
}

static void check_mac(struct make *m)
{
	const struct diag_rendered *r = m->in->rendered;
	const struct net_inventory *net = m->in->net;
	if (!r->mac || diag_nic_by_mac(net, r->mac))
		return;
	struct diag_finding *f = finding_add(m, DIAG_MAC_MISSING);
	if (!f)
		return;
	const struct net_nic *now = nic_with_carrier(net, NULL);
	set_text(m, &f->summary,
		 nm_strdup_printf("no NIC of this machine has the uplink's MAC %s (a mainboard or NIC swap?)", r->mac));
	if (now)
		set_text(m, &f->fix,
			 nm_strdup_printf("run provision again (it renders the NIC this machine has), or set "
					  "matchConfig.MACAddress in /etc/nixos/hardware-configuration.nix to \"%s\" "
					  "(%s, which has carrier now) and install again",
					  now->mac, now->name));
	else
		set_text(m, &f->fix,
			 strdup("run provision again (it renders the NIC this machine has); no NIC has carrier now, "
				"so check the cabling first"));
	ev_file(m, f, r->hw_file, &r->mac_line);
	for (size_t i = 0; i < net->n_nics; i++) {
		ev_nic(m, f, &net->nics[i]);
		if (r->pci_path && strncmp(r->pci_path, "pci-", 4) == 0 && net->nics[i].pci_slot &&
		    strcmp(r->pci_path + 4, net->nics[i].pci_slot) == 0)
			ev_text(m, f, DIAG_SRC_RESCUE, "%s sits at %s: the unit 20-uplink-pci-path matches it by path",
				net->nics[i].name, r->pci_path);
	}
	if (m->scan.uplink_configured) /* by the PCI-path unit, as the MAC matched nothing */
		ev_text(m, f, DIAG_SRC_NOTE, "the failed boot's systemd-networkd configured %s with an uplink unit",
			m->scan.uplink_if);
	else if (m->scan.networkd_seen)
		ev_text(m, f, DIAG_SRC_NOTE,
			"the failed boot's systemd-networkd configured no link with 10-uplink.network");
}

static void check_carrier(struct make *m)
{
	const struct diag_rendered *r = m->in->rendered;
	const struct net_nic *nic = diag_nic_by_mac(m->in->net, r->mac);
	bool off_now = nic && nic->carrier == 0;
	bool lost_then = m->scan.carrier < 0;
	if (!off_now && !lost_then)
		return;
	struct diag_finding *f = finding_add(m, DIAG_NO_CARRIER);
	if (!f)
		return;
	const char *link = m->scan.uplink_if[0] ? m->scan.uplink_if : "the uplink";
	if (off_now)
		set_text(m, &f->summary,
			 nm_strdup_printf("the uplink NIC %s (%s) has no carrier%s", nic->name, nic->mac,
					  lost_then ? ", and the failed boot lost it too" : " in the rescue now"));
	else
		set_text(m, &f->summary,
			 nm_strdup_printf("%s lost its carrier in the failed boot and did not get it back", link));
	const struct net_nic *other = nic_with_carrier(m->in->net, nic);
	if (other && other->carrier == 1)
		set_text(m, &f->fix,
			 nm_strdup_printf("check the cable and the switch port of %s (Hetzner support can check the "
					  "port); %s (%s) has carrier now: if the uplink is plugged in there, run "
					  "provision again or set matchConfig.MACAddress to \"%s\"",
					  nic ? nic->name : link, other->name, other->mac, other->mac));
	else if (!off_now)
		set_text(
		    m, &f->fix,
		    nm_strdup_printf("the rescue has the link but the installed system lost it: look at the "
				     "kernel's lines for %s (driver, firmware, link negotiation) and the switch port",
				     link));
	else
		set_text(m, &f->fix,
			 nm_strdup_printf("check the cable and the switch port of %s (Hetzner support can check the "
					  "port)",
					  nic->name));
	if (nic)
		ev_nic(m, f, nic);
	ev_lines(m, f, &m->scan.by_cause[DIAG_NO_CARRIER]);
	ev_file(m, f, r->hw_file, &r->mac_line);
}

static void check_route(struct make *m)
{
	const struct lines *l = &m->scan.by_cause[DIAG_NO_ROUTE];
	const struct diag_rendered *r = m->in->rendered;
	const struct net_inventory *net = m->in->net;
	if (l->n == 0)
		return;
	struct diag_finding *f = finding_add(m, DIAG_NO_ROUTE);
	if (!f)
		return;
	set_text(m, &f->summary, strdup("systemd-networkd configured the link but could not set the gateway route"));
	set_text(m, &f->fix,
		 strdup("compare the routes of hardware-configuration.nix with the rescue's ('ip route', 'ip -6 "
			"route'): Hetzner's IPv4 gateway is on-link (GatewayOnLink = true with the /32 address), "
			"IPv6's is fe80::1; correct them or run provision again"));
	ev_lines(m, f, l);
	for (size_t i = 0; i < r->n_routes; i++)
		ev_file(m, f, r->hw_file, &r->routes[i]);
	if (net->ipv4_gateway.address)
		ev_text(m, f, DIAG_SRC_RESCUE, "default via %s dev %s", net->ipv4_gateway.address,
			net->ipv4_gateway.dev ? net->ipv4_gateway.dev : "?");
	if (net->ipv6_gateway.address)
		ev_text(m, f, DIAG_SRC_RESCUE, "default via %s dev %s (IPv6)", net->ipv6_gateway.address,
			net->ipv6_gateway.dev ? net->ipv6_gateway.dev : "?");
}

static void check_sshd(struct make *m)
{
	const struct lines *l = &m->scan.by_cause[DIAG_SSHD_FAILED];
	if (l->n == 0)
		return;
	struct diag_finding *f = finding_add(m, DIAG_SSHD_FAILED);
	if (!f)
		return;
	set_text(m, &f->summary, strdup("sshd did not start (or stopped) in the failed boot"));
	set_text(m, &f->fix,
		 strdup("its lines say why: host keys (/etc/ssh/ssh_host_*_key on the installed root), the port, "
			"services.openssh in configuration.nix; correct it and install again"));
	ev_lines(m, f, l);
}

/* The last lines of the units that matter, for the operator to read. */
static bool shown_when_unknown(const struct diag_entry *en)
{
	static const char *const units[] = {"systemd-networkd", "mdadm", "mdmon", "sshd"};
	for (size_t i = 0; i < NM_ELEMENTSOF(units); i++)
		if (strncmp(en->unit, units[i], strlen(units[i])) == 0)
			return true;
	return en->ident && strcmp(en->ident, "systemd") == 0;
}

static void check_unknown(struct make *m)
{
	const struct diag_journal *j = m->in->journal;
	struct diag_finding *f = finding_add(m, DIAG_UNKNOWN);
	if (!f)
		return;
	bool read = j->boot_id && !j->error;
	set_text(m, &f->summary,
		 read ? nm_strdup_printf("nothing known matched; the last lines of networkd, mdadm, sshd and "
					 "systemd of boot %s follow",
					 j->boot_id)
		      : strdup("the journal of the failed boot could not be read, and nothing else matched"));
	set_text(m, &f->fix,
		 strdup("read the lines below and the whole journal ('journalctl -D MOUNT/var/log/journal -b'); "
			"watch the next boot on the server's console"));
	if (j->error)
		ev_text(m, f, DIAG_SRC_NOTE, "%s", j->error);
	for (size_t i = 0; j->messages && j->messages[i]; i++)
		ev_text(m, f, DIAG_SRC_NOTE, "%s", j->messages[i]);
	if (!read && !j->error)
		ev_text(m, f, DIAG_SRC_NOTE, "%s: journal files, but no boot journalctl can read", DIAG_JOURNAL_DIR);
	/* The last DIAG_UNKNOWN_LINES lines of those units; none of them wrote: the last of any. */
	size_t want = 0, start = j->n_entries;
	while (start > 0 && want < DIAG_UNKNOWN_LINES)
		want += shown_when_unknown(&j->entries[--start]);
	if (want == 0)
		start = j->n_entries > DIAG_UNKNOWN_LINES ? j->n_entries - DIAG_UNKNOWN_LINES : 0;
	for (size_t i = start; i < j->n_entries; i++)
		if (want == 0 || shown_when_unknown(&j->entries[i]))
			ev_journal(m, f, &j->entries[i]);
}

int diag_report_make(const struct diag_input *in, struct diag_report *rep, struct nm_error *e)
{
	*rep = (struct diag_report){0};
	struct make m = {.in = in, .rep = rep};
	scan_journal(in, &m.scan);
	/* no journal files at all (an unreadable directory is no proof of that) */
	bool no_stage2 = !in->journal->has_files && !in->journal->error;
	check_array(&m, no_stage2);
	check_stage2(&m, no_stage2);
	check_mac(&m);
	check_carrier(&m);
	check_route(&m);
	check_sshd(&m);
	if (rep->n == 0)
		check_unknown(&m);
	if (m.oom) {
		diag_report_free(rep);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory making the diagnosis");
	}
	return 0;
}

/* ---- output ---- */

static json_object *evidence_to_json(const struct diag_evidence *ev)
{
	static const char *const sources[] = {"journal", "rescue", "file", "note"};
	json_object *o = json_object_new_object();
	json_object_object_add(o, "source", json_object_new_string(sources[ev->source]));
	json_object_object_add(o, "unit", ev->unit ? json_object_new_string(ev->unit) : NULL);
	bool journal = ev->source == DIAG_SRC_JOURNAL;
	json_object_object_add(o, "monotonic_usec",
			       journal ? json_object_new_int64((int64_t)ev->monotonic_usec) : NULL);
	json_object_object_add(o, "realtime_usec", journal ? json_object_new_int64((int64_t)ev->realtime_usec) : NULL);
	json_object_object_add(o, "path", ev->path ? json_object_new_string(ev->path) : NULL);
	json_object_object_add(o, "line", ev->path ? json_object_new_int((int)ev->line) : NULL);
	json_object_object_add(o, "text", json_object_new_string(ev->text ? ev->text : ""));
	return o;
}

json_object *diag_report_to_json(const struct diag_report *rep)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < rep->n; i++) {
		const struct diag_finding *f = &rep->v[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "cause", json_object_new_string(diag_cause_name(f->cause)));
		json_object_object_add(o, "summary", json_object_new_string(f->summary));
		json_object_object_add(o, "fix", json_object_new_string(f->fix));
		json_object *ev = json_object_new_array();
		for (size_t k = 0; k < f->n_ev; k++)
			json_object_array_add(ev, evidence_to_json(&f->ev[k]));
		json_object_object_add(o, "evidence", ev);
		json_object_array_add(arr, o);
	}
	return arr;
}

static void print_evidence(const struct diag_evidence *ev, FILE *out)
{
	if (ev->source == DIAG_SRC_FILE) {
		fprintf(out, "    %s:%u: %s\n", ev->path, ev->line, ev->text);
		return;
	}
	if (ev->source == DIAG_SRC_RESCUE || ev->source == DIAG_SRC_NOTE) {
		fprintf(out, "    %s: %s\n", ev->source == DIAG_SRC_RESCUE ? "rescue" : "note", ev->text);
		return;
	}
	char when[32] = "";
	time_t t = (time_t)(ev->realtime_usec / 1000000);
	struct tm tm;
	if (ev->realtime_usec && gmtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S ", &tm);
	fprintf(out, "    journal %s[%5llu.%06llu] %s: %s\n", when, (unsigned long long)(ev->monotonic_usec / 1000000),
		(unsigned long long)(ev->monotonic_usec % 1000000), ev->unit, ev->text);
}

void diag_report_print(const struct diag_report *rep, FILE *out)
{
	for (size_t i = 0; i < rep->n; i++) {
		const struct diag_finding *f = &rep->v[i];
		fprintf(out, "%s %s: %s\n  what to do: %s\n  evidence:\n",
			i == 0 ? "diagnosis:" : "also found:", diag_cause_name(f->cause), f->summary, f->fix);
		for (size_t k = 0; k < f->n_ev; k++)
			print_evidence(&f->ev[k], out);
	}
}
