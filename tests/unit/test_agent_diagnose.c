/* test_agent_diagnose.c: what diagnose reads in the journal of a failed boot and what it
 * concludes. The journal lines are journalctl's own `-o json` output (systemd 252) of a journal
 * file made by systemd-journal-remote from tests/fixtures/diagnose/journal-export.py all, which
 * stands in for NixOS's first boot (it cannot run here); each line carries the cause the test
 * expects in NMMM_TEST_EXPECT. The findings are checked for each cause against the rescue's NICs
 * and arrays as the inventory structures hold them, and against the rendered golden
 * hardware-configuration.nix of a fixture machine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "agent/diagnose.h"

#define JOURNAL_FIXTURE NMMM_FIXTURES "/diagnose/failed-boot.jsonl"

/* ---- building inputs ---- */

static void journal_add(struct diag_journal *j, const char *line)
{
	struct diag_entry en;
	assert_int_equal(diag_entry_parse(line, strlen(line), &en), 0);
	j->entries = realloc(j->entries, (j->n_entries + 1) * sizeof *j->entries);
	assert_non_null(j->entries);
	j->entries[j->n_entries++] = en;
}

/* A journal entry as journalctl prints it, for the scenarios below. */
static void journal_line(struct diag_journal *j, const char *unit_field, const char *unit, const char *msg)
{
	static unsigned seq;
	char line[2048];
	seq++;
	snprintf(line, sizeof line,
		 "{\"__CURSOR\":\"s=1;i=%x\",\"__REALTIME_TIMESTAMP\":\"%llu\",\"__MONOTONIC_TIMESTAMP\":\"%u\","
		 "\"_BOOT_ID\":\"6f2b4ad1c0e94f4c8a1f3b2e5d6c7a89\",\"%s\":\"%s\",\"MESSAGE\":\"%s\"}",
		 seq, 1767000000000000ull + seq * 1000u, seq * 1000u, unit_field, unit, msg);
	journal_add(j, line);
}

static void networkd(struct diag_journal *j, const char *msg)
{
	journal_line(j, "_SYSTEMD_UNIT", "systemd-networkd.service", msg);
}

static struct diag_journal journal_present(void)
{
	return (struct diag_journal){.dir = strdup("/tmp/x/var/log/journal"),
				     .present = true,
				     .has_files = true,
				     .n_boots = 1,
				     .boot_id = strdup("6f2b4ad1c0e94f4c8a1f3b2e5d6c7a89")};
}

static struct net_nic nic_make(const char *name, const char *mac, int carrier, const char *operstate)
{
	return (struct net_nic){.name = strdup(name),
				.mac = strdup(mac),
				.carrier = carrier,
				.operstate = strdup(operstate),
				.physical = true,
				.up = carrier == 1};
}

/* The rescue with eth0 carrying the default route and eth1 idle. */
static void rescue_nics(struct net_inventory *net, const char *mac0, int carrier0, const char *mac1, int carrier1)
{
	*net = (struct net_inventory){0};
	net->nics = calloc(2, sizeof *net->nics);
	net->nics[0] = nic_make("eth0", mac0, carrier0, carrier0 == 1 ? "up" : "lowerlayerdown");
	net->nics[1] = nic_make("eth1", mac1, carrier1, carrier1 == 1 ? "up" : "down");
	net->n_nics = 2;
	net->ipv4_gateway = (struct net_gateway){strdup("203.0.113.1"), strdup("eth0")};
}

static void rendered_uplink(struct diag_rendered *r, const char *mac, const char *predicted)
{
	*r = (struct diag_rendered){.hw_file = strdup("/etc/nixos/hardware-configuration.nix"), .mac = strdup(mac)};
	r->mac_line = (struct diag_line){55, nm_strdup_printf("matchConfig.MACAddress = \"%s\";", mac)};
	r->uplink_name = strdup("eth0");
	r->uplink_predicted = predicted ? strdup(predicted) : NULL;
	r->array_uuids = nm_strv_new();
}

#define UPLINK_MAC "90:1b:0e:aa:bb:cc"
#define OTHER_MAC "90:1b:0e:aa:bb:cd"

struct world {
	struct diag_journal j;
	struct diag_rendered r;
	struct net_inventory net;
	struct disk_md_status md;
	struct diag_report rep;
};

static void world_free(struct world *w)
{
	diag_journal_free(&w->j);
	diag_rendered_free(&w->r);
	net_inventory_free(&w->net);
	disk_md_status_free(&w->md);
	diag_report_free(&w->rep);
}

/* The machine of most cases: the rendered uplink eth0 (eno1 in NixOS) there with carrier, and an
 * idle second NIC. */
static void usual_machine(struct world *w)
{
	rendered_uplink(&w->r, UPLINK_MAC, "eno1");
	rescue_nics(&w->net, UPLINK_MAC, 1, OTHER_MAC, 0);
}

static void decide(struct world *w)
{
	struct nm_error e = {0};
	struct diag_input in = {&w->j, &w->r, &w->net, &w->md};
	assert_int_equal(diag_report_make(&in, &w->rep, &e), 0);
	assert_true(w->rep.n > 0);
}

static const struct diag_finding *finding(const struct world *w, enum diag_cause c)
{
	for (size_t i = 0; i < w->rep.n; i++)
		if (w->rep.v[i].cause == c)
			return &w->rep.v[i];
	return NULL;
}

static bool has_evidence(const struct diag_finding *f, enum diag_source src, const char *part)
{
	for (size_t i = 0; f && i < f->n_ev; i++)
		if (f->ev[i].source == src && strstr(f->ev[i].text, part))
			return true;
	return false;
}

/* ---- single lines ---- */

static void fixture_lines_classify_as_expected(void **state)
{
	FILE *f = fopen(JOURNAL_FIXTURE, "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		struct diag_entry en;
		assert_int_equal(diag_entry_parse(line, (size_t)len - 1, &en), 0);
		json_object *o = json_tokener_parse(line), *want = NULL;
		assert_true(json_object_object_get_ex(o, "NMMM_TEST_EXPECT", &want));
		enum diag_cause got = diag_classify(&en);
		if (strcmp(diag_cause_name(got), json_object_get_string(want)) != 0)
			fail_msg("%s: %s classified %s, expected %s", en.unit, en.message, diag_cause_name(got),
				 json_object_get_string(want));
		json_object_put(o);
		diag_entry_clear(&en);
		n++;
	}
	free(line);
	fclose(f);
	assert_int_equal(n, 48);
}

static void entry_fields_from_journalctl_json(void **state)
{
	/* PID 1 speaking of sshd: the unit is UNIT=, not init.scope */
	const char *pid1 =
	    "{\"_TRANSPORT\":\"journal\",\"MESSAGE\":\"Failed to start SSH Daemon.\",\"_SYSTEMD_UNIT\":\"init.scope\","
	    "\"UNIT\":\"sshd.service\",\"SYSLOG_IDENTIFIER\":\"systemd\",\"__MONOTONIC_TIMESTAMP\":\"6000000\","
	    "\"__REALTIME_TIMESTAMP\":\"1767000006000000\",\"__CURSOR\":\"s=820a;i=2\",\"_PID\":\"1\"}";
	struct diag_entry en;
	assert_int_equal(diag_entry_parse(pid1, strlen(pid1), &en), 0);
	assert_string_equal(en.unit, "sshd.service");
	assert_string_equal(en.ident, "systemd");
	assert_int_equal(en.monotonic_usec, 6000000);
	assert_int_equal(en.realtime_usec, 1767000006000000ull);
	assert_int_equal(diag_classify(&en), DIAG_SSHD_FAILED);
	diag_entry_clear(&en);
	/* The kernel's ring buffer: "kernel", whatever else the entry says */
	const char *k =
	    "{\"_TRANSPORT\":\"kernel\",\"SYSLOG_IDENTIFIER\":\"kernel\",\"MESSAGE\":\"igb 0000:01:00.0 eno1: "
	    "igb: eno1 NIC Link is Down\",\"__CURSOR\":\"s=1;i=3\",\"__MONOTONIC_TIMESTAMP\":\"1\"}";
	assert_int_equal(diag_entry_parse(k, strlen(k), &en), 0);
	assert_string_equal(en.unit, "kernel");
	char ifname[64];
	assert_int_equal(diag_carrier_event(&en, ifname, sizeof ifname), -1);
	assert_string_equal(ifname, "");
	diag_entry_clear(&en);
	/* A message that is not UTF-8 is an array of bytes; control characters become '?' */
	const char *bin = "{\"__CURSOR\":\"s=1;i=4\",\"_SYSTEMD_UNIT\":\"foo.service\",\"MESSAGE\":[99,97,102,233,32,1,"
			  "32,108]}";
	assert_int_equal(diag_entry_parse(bin, strlen(bin), &en), 0);
	assert_string_equal(en.message, "caf? ? l");
	diag_entry_clear(&en);
	/* journalctl's own lines share the output: not entries */
	const char *msgs[] = {"Journal file /x/system.journal corrupted, ignoring file.", "{\"MESSAGE\":\"no cursor\"}",
			      "{\"__CURSOR\":\"s=1\",", ""};
	for (size_t i = 0; i < NM_ELEMENTSOF(msgs); i++)
		assert_int_equal(diag_entry_parse(msgs[i], strlen(msgs[i]), &en), -EINVAL);
}

static void list_boots_in_both_formats(void **state)
{
	size_t n = 0;
	/* systemd 252 prints a header */
	const char *v252 =
	    "IDX BOOT ID                          FIRST ENTRY                 LAST ENTRY\n"
	    " -1 0b2c4ad1c0e94f4c8a1f3b2e5d6c7a00 Mon 2025-12-29 09:00:05 UTC Mon 2025-12-29 09:10:06 UTC\n"
	    "  0 6f2b4ad1c0e94f4c8a1f3b2e5d6c7a89 Mon 2025-12-29 09:20:05 UTC Mon 2025-12-29 09:20:06 UTC\n";
	char *id = diag_last_boot_parse(v252, &n);
	assert_string_equal(id, "6f2b4ad1c0e94f4c8a1f3b2e5d6c7a89");
	assert_int_equal(n, 2);
	free(id);
	/* older ones do not */
	const char *old =
	    " 0 6f2b4ad1c0e94f4c8a1f3b2e5d6c7a89 Mon 2025-12-29 09:20:05 UTC—Mon 2025-12-29 09:20:06 UTC\n";
	id = diag_last_boot_parse(old, &n);
	assert_string_equal(id, "6f2b4ad1c0e94f4c8a1f3b2e5d6c7a89");
	assert_int_equal(n, 1);
	free(id);
	assert_null(diag_last_boot_parse("No journal files were found.\n", &n));
	assert_int_equal(n, 0);
	assert_null(diag_last_boot_parse("", &n));
}

static void networkd_names_the_uplink_link(void **state)
{
	struct diag_journal j = journal_present();
	networkd(&j, "eno1: Configuring with /etc/systemd/network/10-uplink.network.");
	networkd(&j, "eno2: Configuring with /etc/systemd/network/99-default.network.");
	networkd(&j, "enp1s0: Configuring with /etc/systemd/network/20-uplink-pci-path.network.");
	networkd(&j, "eno1: Lost carrier");
	char ifname[64];
	assert_true(diag_uplink_configured(&j.entries[0], ifname, sizeof ifname));
	assert_string_equal(ifname, "eno1");
	assert_false(diag_uplink_configured(&j.entries[1], ifname, sizeof ifname));
	assert_true(diag_uplink_configured(&j.entries[2], ifname, sizeof ifname));
	assert_string_equal(ifname, "enp1s0");
	assert_int_equal(diag_carrier_event(&j.entries[3], ifname, sizeof ifname), -1);
	assert_string_equal(ifname, "eno1");
	diag_journal_free(&j);
}

static void rendered_golden_gives_mac_path_and_gateways(void **state)
{
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(
	    nm_read_file(NMMM_FIXTURES, "/nvme-onboard/expected/render/hardware-configuration.nix", 0, &text, &len), 0);
	struct diag_rendered r = {0};
	assert_int_equal(diag_rendered_parse_hw(text, &r), 0);
	assert_string_equal(r.mac, "90:1b:0e:aa:bb:cc");
	assert_int_equal(r.mac_line.line, 57);
	assert_string_equal(r.mac_line.text, "matchConfig.MACAddress = \"90:1b:0e:aa:bb:cc\";");
	assert_string_equal(r.pci_path, "pci-0000:00:1f.6");
	assert_int_equal(r.n_routes, 4);
	assert_string_equal(r.routes[0].text, "{ Gateway = \"203.0.113.1\"; GatewayOnLink = true; }");
	assert_int_equal(r.routes[0].line, 63);
	free(text);
	/* the plan.json rendered beside it: the root's UUID and the uplink's names */
	json_object *plan = json_object_from_file(NMMM_FIXTURES "/nvme-onboard/expected/render/plan.json");
	assert_non_null(plan);
	diag_rendered_from_plan(plan, &r);
	assert_non_null(r.root_uuid);
	assert_string_equal(r.uplink_name, "eth0");
	assert_string_equal(r.uplink_predicted, "eno1");
	json_object_put(plan);
	diag_rendered_free(&r);
}

/* ---- findings ---- */

static void carrier_lost_and_off_now_is_no_carrier(void **state)
{
	struct world w = {.j = journal_present()};
	networkd(&w.j, "eno1: Configuring with /etc/systemd/network/10-uplink.network.");
	networkd(&w.j, "eno1: Gained carrier");
	networkd(&w.j, "eno1: Lost carrier");
	networkd(&w.j, "eno2: Gained carrier"); /* another link's carrier is no answer */
	rendered_uplink(&w.r, "90:1b:0e:aa:bb:cc", "eno1");
	rescue_nics(&w.net, "90:1b:0e:aa:bb:cc", 0, "90:1b:0e:aa:bb:cd", 1);
	decide(&w);
	assert_int_equal(w.rep.v[0].cause, DIAG_NO_CARRIER);
	const struct diag_finding *f = &w.rep.v[0];
	assert_non_null(strstr(f->summary, "eth0 (90:1b:0e:aa:bb:cc) has no carrier"));
	assert_non_null(strstr(f->fix, "eth1 (90:1b:0e:aa:bb:cd) has carrier now"));
	assert_true(has_evidence(f, DIAG_SRC_JOURNAL, "eno1: Lost carrier"));
	assert_false(has_evidence(f, DIAG_SRC_JOURNAL, "eno2"));
	assert_true(has_evidence(f, DIAG_SRC_RESCUE, "eth0 90:1b:0e:aa:bb:cc: carrier off, operstate lowerlayerdown"));
	assert_true(has_evidence(f, DIAG_SRC_FILE, "matchConfig.MACAddress"));
	assert_int_equal(w.rep.n, 1);
	world_free(&w);
}

static void carrier_that_came_back_is_no_cause(void **state)
{
	struct world w = {.j = journal_present()};
	networkd(&w.j, "eno1: Lost carrier");
	networkd(&w.j, "eno1: Gained carrier");
	journal_line(&w.j, "UNIT", "sshd.service", "Started SSH Daemon.");
	usual_machine(&w);
	decide(&w);
	assert_int_equal(w.rep.n, 1);
	assert_int_equal(w.rep.v[0].cause, DIAG_UNKNOWN);
	/* unknown shows the lines of networkd, sshd and systemd for the operator */
	assert_true(has_evidence(&w.rep.v[0], DIAG_SRC_JOURNAL, "eno1: Gained carrier"));
	assert_true(has_evidence(&w.rep.v[0], DIAG_SRC_JOURNAL, "Started SSH Daemon."));
	world_free(&w);
}

static void mac_nowhere_is_mac_missing_naming_the_nic_with_carrier(void **state)
{
	struct world w = {.j = journal_present()};
	networkd(&w.j, "lo: Link UP");
	rendered_uplink(&w.r, "90:1b:0e:aa:bb:cc", "eno1");
	w.r.pci_path = strdup("pci-0000:00:1f.6");
	rescue_nics(&w.net, "a8:a1:59:00:00:01", 1, "a8:a1:59:00:00:02", 0);
	w.net.nics[0].pci_slot = strdup("0000:00:1f.6");
	decide(&w);
	const struct diag_finding *f = &w.rep.v[0];
	assert_int_equal(f->cause, DIAG_MAC_MISSING);
	assert_non_null(strstr(f->summary, "90:1b:0e:aa:bb:cc"));
	assert_non_null(strstr(f->fix, "\"a8:a1:59:00:00:01\" (eth0, which has carrier now)"));
	assert_true(has_evidence(f, DIAG_SRC_FILE, "90:1b:0e:aa:bb:cc"));
	assert_true(has_evidence(f, DIAG_SRC_RESCUE, "eth1 a8:a1:59:00:00:02: carrier off"));
	assert_true(has_evidence(f, DIAG_SRC_RESCUE, "eth0 sits at pci-0000:00:1f.6"));
	assert_true(has_evidence(f, DIAG_SRC_NOTE, "configured no link with 10-uplink.network"));
	world_free(&w);
}

static void route_failure_of_the_uplink_is_no_route(void **state)
{
	struct world w = {.j = journal_present()};
	networkd(&w.j, "eno1: Configuring with /etc/systemd/network/10-uplink.network.");
	networkd(&w.j, "eno2: Could not set route: Network is unreachable"); /* not the uplink */
	usual_machine(&w);
	w.r.routes[0] = (struct diag_line){61, strdup("{ Gateway = \"203.0.113.1\"; GatewayOnLink = true; }")};
	w.r.n_routes = 1;
	decide(&w);
	assert_null(finding(&w, DIAG_NO_ROUTE));
	diag_report_free(&w.rep);
	networkd(&w.j, "eno1: Could not set route: Network is unreachable");
	decide(&w);
	const struct diag_finding *f = &w.rep.v[0];
	assert_int_equal(f->cause, DIAG_NO_ROUTE);
	assert_true(has_evidence(f, DIAG_SRC_JOURNAL, "eno1: Could not set route"));
	assert_false(has_evidence(f, DIAG_SRC_JOURNAL, "eno2"));
	assert_true(has_evidence(f, DIAG_SRC_FILE, "Gateway = \"203.0.113.1\""));
	assert_true(has_evidence(f, DIAG_SRC_RESCUE, "default via 203.0.113.1 dev eth0"));
	world_free(&w);
}

static void sshd_failure_is_sshd_failed_and_bots_are_not(void **state)
{
	struct world w = {.j = journal_present()};
	journal_line(&w.j, "_SYSTEMD_UNIT", "sshd.service",
		     "Failed password for root from 198.51.100.7 port 4242 ssh2");
	usual_machine(&w);
	decide(&w);
	assert_int_equal(w.rep.v[0].cause, DIAG_UNKNOWN);
	diag_report_free(&w.rep);
	journal_line(&w.j, "UNIT", "sshd.service", "sshd.service: Failed with result 'exit-code'.");
	decide(&w);
	assert_int_equal(w.rep.n, 1);
	assert_int_equal(w.rep.v[0].cause, DIAG_SSHD_FAILED);
	assert_true(has_evidence(&w.rep.v[0], DIAG_SRC_JOURNAL, "Failed with result"));
	world_free(&w);
}

static void no_journal_is_no_stage2_and_a_stopped_array_comes_first(void **state)
{
	struct world w = {.j = {.dir = strdup("/tmp/x/var/log/journal")}};
	usual_machine(&w);
	decide(&w);
	assert_int_equal(w.rep.n, 1);
	assert_int_equal(w.rep.v[0].cause, DIAG_NO_STAGE2);
	assert_non_null(strstr(w.rep.v[0].summary, "did not reach stage 2"));
	assert_true(has_evidence(&w.rep.v[0], DIAG_SRC_NOTE, "/var/log/journal: no such directory"));
	diag_report_free(&w.rep);
	/* an array the rescue shows inactive (mdstat: "md127 : inactive sdb4[1](S)") */
	w.md = (struct disk_md_status){.driver = true, .arrays = calloc(1, sizeof *w.md.arrays), .n_arrays = 1};
	w.md.arrays[0] =
	    (struct disk_md_array){.name = strdup("md127"), .members = nm_strv_new(), .failed = nm_strv_new()};
	nm_strv_push(&w.md.arrays[0].members, "sdb4");
	decide(&w);
	assert_int_equal(w.rep.v[0].cause, DIAG_ARRAY_NOT_STARTED);
	assert_true(has_evidence(&w.rep.v[0], DIAG_SRC_RESCUE, "md127: inactive"));
	assert_int_equal(w.rep.v[1].cause, DIAG_NO_STAGE2);
	world_free(&w);
}

static void md_lines_are_array_not_started(void **state)
{
	struct world w = {.j = journal_present()};
	journal_line(&w.j, "_TRANSPORT", "kernel", "md/raid1:md127: not enough operational mirrors.");
	journal_line(&w.j, "UNIT", "dev-md-root.device", "Job dev-md-root.device/start timed out.");
	usual_machine(&w);
	decide(&w);
	assert_int_equal(w.rep.v[0].cause, DIAG_ARRAY_NOT_STARTED);
	assert_true(has_evidence(&w.rep.v[0], DIAG_SRC_JOURNAL, "not enough operational mirrors"));
	assert_true(has_evidence(&w.rep.v[0], DIAG_SRC_JOURNAL, "dev-md-root.device/start timed out"));
	world_free(&w);
}

static void unreadable_journal_is_unknown_with_journalctls_words(void **state)
{
	struct world w = {.j = {.dir = strdup("/x"), .present = true, .has_files = true, .messages = nm_strv_new()}};
	nm_strv_push(&w.j.messages, "journalctl: Journal file /x/system.journal corrupted, ignoring file.");
	usual_machine(&w);
	decide(&w);
	assert_int_equal(w.rep.n, 1);
	assert_int_equal(w.rep.v[0].cause, DIAG_UNKNOWN);
	assert_non_null(strstr(w.rep.v[0].summary, "could not be read"));
	assert_true(has_evidence(&w.rep.v[0], DIAG_SRC_NOTE, "corrupted, ignoring file"));
	world_free(&w);
}

static void unknown_shows_the_last_forty_lines_of_those_units(void **state)
{
	struct world w = {.j = journal_present()};
	for (int i = 0; i < 60; i++) {
		char msg[64];
		snprintf(msg, sizeof msg, "eno1: line %d", i);
		networkd(&w.j, msg);
		journal_line(&w.j, "_SYSTEMD_UNIT", "foo.service", "chatter");
	}
	usual_machine(&w);
	decide(&w);
	const struct diag_finding *f = &w.rep.v[0];
	assert_int_equal(f->cause, DIAG_UNKNOWN);
	assert_int_equal(f->n_ev, DIAG_UNKNOWN_LINES);
	assert_string_equal(f->ev[0].text, "eno1: line 20");
	assert_string_equal(f->ev[DIAG_UNKNOWN_LINES - 1].text, "eno1: line 59");
	assert_false(has_evidence(f, DIAG_SRC_JOURNAL, "chatter"));
	world_free(&w);
}

static void findings_json_shape(void **state)
{
	struct world w = {.j = journal_present()};
	networkd(&w.j, "eno1: Lost carrier");
	rendered_uplink(&w.r, "90:1b:0e:aa:bb:cc", "eno1");
	rescue_nics(&w.net, "90:1b:0e:aa:bb:cc", 0, "90:1b:0e:aa:bb:cd", 0);
	decide(&w);
	json_object *arr = diag_report_to_json(&w.rep);
	const char *s = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	json_object *f0 = json_object_array_get_idx(arr, 0), *v = NULL;
	assert_true(json_object_object_get_ex(f0, "cause", &v));
	assert_string_equal(json_object_get_string(v), "no-carrier");
	assert_true(json_object_object_get_ex(f0, "evidence", &v));
	json_object *ev = json_object_array_get_idx(v, 0), *x = NULL;
	/* the first piece of evidence: the NIC as the rescue sees it */
	assert_true(json_object_object_get_ex(ev, "source", &x));
	assert_string_equal(json_object_get_string(x), "rescue");
	assert_non_null(strstr(s,
			       "\"source\":\"journal\",\"unit\":\"systemd-networkd.service\","
			       "\"monotonic_usec\":"));
	assert_non_null(strstr(s,
			       "\"source\":\"file\",\"unit\":null,\"monotonic_usec\":null,\"realtime_usec\":null,"
			       "\"path\":\"/etc/nixos/hardware-configuration.nix\",\"line\":55,"));
	json_object_put(arr);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fixture_lines_classify_as_expected),
	    cmocka_unit_test(entry_fields_from_journalctl_json),
	    cmocka_unit_test(list_boots_in_both_formats),
	    cmocka_unit_test(networkd_names_the_uplink_link),
	    cmocka_unit_test(rendered_golden_gives_mac_path_and_gateways),
	    cmocka_unit_test(carrier_lost_and_off_now_is_no_carrier),
	    cmocka_unit_test(carrier_that_came_back_is_no_cause),
	    cmocka_unit_test(mac_nowhere_is_mac_missing_naming_the_nic_with_carrier),
	    cmocka_unit_test(route_failure_of_the_uplink_is_no_route),
	    cmocka_unit_test(sshd_failure_is_sshd_failed_and_bots_are_not),
	    cmocka_unit_test(no_journal_is_no_stage2_and_a_stopped_array_comes_first),
	    cmocka_unit_test(md_lines_are_array_not_started),
	    cmocka_unit_test(unreadable_journal_is_unknown_with_journalctls_words),
	    cmocka_unit_test(unknown_shows_the_last_forty_lines_of_those_units),
	    cmocka_unit_test(findings_json_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
