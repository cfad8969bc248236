/* cmd_detect.c: `nmmm-agent detect [--json]` — the inventory of disks, NICs, addresses, routes,
 * DNS, firmware, CPU, modules and keys. Reads only; changes nothing. */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "disk/disk.h"
#include "netcfg/netcfg.h"

static const char detect_help[] =
    "usage: nmmm-agent detect [--json] [--uplink MAC|NAME]\n\n"
    "Inventories this machine and changes nothing: disks (size, model, serial, transport,\n"
    "signatures, whether the installer may use them and why not), NICs (MAC, driver, PCI slot,\n"
    "the name NixOS will give them, addresses), default gateways, nameservers, boot mode, CPU,\n"
    "virtualisation, kernel modules for the initrd and root's SSH keys, and the uplink the\n"
    "installed system would be configured on.\n\n"
    "  --json              one JSON object on stdout (fields: docs/network.md, docs/disk-layout.md)\n"
    "  --uplink MAC|NAME   check this choice of uplink (any interface) instead of the automatic one\n"
    "                      (the physical NIC carrying the default route)\n";

static void add_warnings(json_object *arr, char *const *w)
{
	for (size_t i = 0; w && w[i]; i++)
		json_object_array_add(arr, json_object_new_string(w[i]));
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void print_human(const struct disk_inventory *disks, const struct net_inventory *net,
			const struct agent_machine_facts *m)
{
	printf("machine: boot %s, cpu %s, virtualisation %s\n\n", disks->uefi ? "uefi" : "bios", or_dash(m->cpu_vendor),
	       or_dash(m->virtualisation));
	printf("%-10s %10s %-6s %-22s %-20s %-8s %s\n", "DISK", "SIZE", "TRANS", "MODEL", "SERIAL", "USABLE",
	       "WHY NOT");
	for (size_t i = 0; i < disks->n_disks; i++) {
		const struct disk_info *d = &disks->disks[i];
		printf("%-10s %8.1fG %-6s %-22.22s %-20.20s %-8s %s\n", d->name, (double)d->size_bytes / (1u << 30),
		       or_dash(d->transport), or_dash(d->model), or_dash(d->serial), d->eligible ? "yes" : "no",
		       d->eligible ? "" : or_dash(d->why_not));
	}
	printf("\n%-10s %-18s %-10s %-14s %-16s %s\n", "NIC", "MAC", "DRIVER", "PCI", "NIXOS NAME", "ADDRESSES");
	for (size_t i = 0; i < net->n_nics; i++) {
		const struct net_nic *n = &net->nics[i];
		printf("%-10s %-18s %-10s %-14s %-16s", n->name, or_dash(n->mac), or_dash(n->driver),
		       or_dash(n->pci_slot), or_dash(n->predicted_name));
		for (size_t j = 0; j < n->n_ipv4; j++)
			printf(" %s/%u", n->ipv4[j].address, n->ipv4[j].prefix);
		for (size_t j = 0; j < n->n_ipv6; j++)
			printf(" %s/%u", n->ipv6[j].address, n->ipv6[j].prefix);
		printf("%s%s%s\n", n->physical ? "" : " [virtual]", n->bmc ? " [BMC]" : "", n->up ? "" : " [down]");
	}
	printf("\nipv4 gateway: %s%s%s\n", or_dash(net->ipv4_gateway.address), net->ipv4_gateway.dev ? " dev " : "",
	       net->ipv4_gateway.dev ? net->ipv4_gateway.dev : "");
	printf("ipv6 gateway: %s%s%s\n", or_dash(net->ipv6_gateway.address), net->ipv6_gateway.dev ? " dev " : "",
	       net->ipv6_gateway.dev ? net->ipv6_gateway.dev : "");
	printf("nameservers:");
	for (size_t i = 0; net->nameservers && net->nameservers[i]; i++)
		printf(" %s", net->nameservers[i]);
	printf("\nssh keys: %zu\n", nm_strv_len(m->ssh_authorized_keys));
}

/* Lists a part's failure as a warning and keeps the first one in *e (main reports it and
 * maps its class to the exit status). */
static int keep_going(int r, const struct nm_error *part, int first, struct nm_error *e, char ***failed)
{
	if (r >= 0)
		return first;
	(void)nm_strv_push(failed, part->msg);
	if (first < 0)
		return first;
	*e = *part;
	return r;
}

/* Everything detect found, and what it could not read. */
struct detect_result {
	struct disk_inventory disks;
	struct net_inventory net;
	struct agent_machine_facts m;
	const struct net_nic *uplink;
	char **failed;
};

static void detect_result_free(struct detect_result *d)
{
	disk_inventory_free(&d->disks);
	net_inventory_free(&d->net);
	agent_machine_facts_free(&d->m);
	nm_strv_free(d->failed);
}

static void print_json(const struct detect_result *d)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	disk_boot_mode_to_json(&d->disks, o);
	agent_machine_facts_to_json(&d->m, d->disks.initrd_modules, o);
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < d->disks.n_disks; i++)
		json_object_array_add(arr, disk_info_to_json(&d->disks.disks[i]));
	json_object_object_add(o, "disks", arr);
	net_inventory_to_json(&d->net, o);
	json_object_object_add(o, "uplink", d->uplink ? net_uplink_to_json(d->uplink) : NULL);
	json_object *w = json_object_new_array();
	add_warnings(w, d->disks.warnings);
	add_warnings(w, d->net.warnings);
	add_warnings(w, d->m.warnings);
	add_warnings(w, d->failed);
	json_object_object_add(o, "warnings", w);
	agent_print_json(o);
}

static void print_text(const struct detect_result *d)
{
	print_human(&d->disks, &d->net, &d->m);
	if (d->uplink)
		printf("uplink: %s (%s), NixOS name %s\n", d->uplink->name, or_dash(d->uplink->mac),
		       or_dash(d->uplink->predicted_name));
	char *const *lists[] = {d->disks.warnings, d->net.warnings, d->m.warnings, d->failed};
	for (size_t i = 0; i < NM_ELEMENTSOF(lists); i++)
		for (char *const *w = lists[i]; w && *w; w++)
			nm_warn("%s", *w);
}

static void emit_done(struct agent_ctx *ctx, const struct detect_result *d, int r, const struct nm_error *e)
{
	json_object *f = json_object_new_object();
	if (r < 0) {
		json_object_object_add(f, "message", json_object_new_string(e->msg));
		agent_event(ctx, "detect", "error", f);
		return;
	}
	json_object_object_add(f, "disks", json_object_new_int((int)d->disks.n_disks));
	json_object_object_add(f, "nics", json_object_new_int((int)d->net.n_nics));
	json_object_object_add(f, "uplink", d->uplink ? json_object_new_string(d->uplink->name) : NULL);
	json_object_object_add(f, "warnings",
			       json_object_new_int((int)(nm_strv_len(d->disks.warnings) + nm_strv_len(d->net.warnings) +
							 nm_strv_len(d->m.warnings) + nm_strv_len(d->failed))));
	agent_event(ctx, "detect", "done", f);
}

int agent_cmd_detect(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"uplink", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool json = false;
	const char *want_uplink = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'u')
			want_uplink = optarg;
		else if (c == 'h')
			return fputs(detect_help, stdout), 0;
		else
			return agent_usage_error(e, "detect", "detect: unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return agent_usage_error(e, "detect", "detect: unexpected argument '%s'", argv[optind]);

	agent_event(ctx, "detect", "start", NULL);
	_cleanup_(detect_result_free) struct detect_result d = {.failed = nm_strv_new()};
	/* Each part is read even when another failed: the operator sees everything that could be
	 * read, the failures as warnings, and the exit status still says that something failed. */
	struct nm_error part[3] = {0};
	int r = 0;
	r = keep_going(disk_inventory_read(ctx->g.root, &d.disks, &part[0]), &part[0], r, e, &d.failed);
	r = keep_going(net_inventory_read(ctx->g.root, &d.net, &part[1]), &part[1], r, e, &d.failed);
	r = keep_going(agent_machine_facts_read(ctx->g.root, &d.m, &part[2]), &part[2], r, e, &d.failed);
	/* An automatic uplink that cannot be decided is a warning here (install refuses later);
	 * an --uplink that names nothing is the operator's mistake: exit 2, and nothing printed. */
	struct nm_error uplink_err = {0};
	if (net_uplink_select(&d.net, want_uplink, &d.uplink, &uplink_err) < 0) {
		if (want_uplink && r >= 0) {
			*e = uplink_err;
			r = uplink_err.code;
		} else {
			(void)nm_strv_push(&d.failed, uplink_err.msg);
		}
	}
	_cleanup_free_ char *bootif = net_bootif_disagreement(&d.net, d.uplink);
	if (bootif)
		(void)nm_strv_push(&d.net.warnings, bootif);
	if (!want_uplink || d.uplink) {
		if (json)
			print_json(&d);
		else
			print_text(&d);
	}
	emit_done(ctx, &d, r, e);
	return r;
}
