/* cmd_render.c: `nmmm-agent render` — inventory, plan, then the Nix files for that plan in
 * --out DIR (hardware-configuration.nix, configuration.nix, plan.json). It reads the machine
 * under --root and writes only into --out; it never touches a disk. */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "disk/disk.h"
#include "images/images.h"
#include "netcfg/netcfg.h"

/* networking.hostName when neither --hostname nor the config names one: NixOS's own default. */
#define RENDER_DEFAULT_HOSTNAME "nixos"

static const char render_help[] =
    "usage: nmmm-agent render [--config FILE] [--disks LIST] [--uplink MAC|NAME] [--hostname NAME]\n"
    "                         [--ssh-key KEY]... [--ssh-key-file FILE] [--state-version REL] --out DIR\n\n"
    "Plans the disks like `plan` and writes the Nix files for that plan into DIR; touches no disk:\n"
    "  hardware-configuration.nix  disks and filesystems by UUID, RAID, GRUB on every disk, the\n"
    "                              uplink NIC matched by MAC with static addresses and gateways\n"
    "  configuration.nix           host name, sshd (keys only), root's SSH keys, stateVersion\n"
    "  plan.json                   the plan and the facts both files were made from\n\n"
    "  --config FILE         layout config (JSON; docs/disk-layout.md); its \"hostname\" is used\n"
    "  --disks LIST          disks to use: kernel names, paths, /dev/disk/by-id/..., serial:XYZ\n"
    "  --uplink MAC|NAME     the NIC the installed system brings up (default: the one with the\n"
    "                        default route)\n"
    "  --hostname NAME       networking.hostName (RFC 1123 label; default: the config's, else nixos)\n"
    "  --ssh-key KEY         an authorized_keys line for root, added to the rescue's keys (repeatable)\n"
    "  --ssh-key-file FILE   more keys, one per line; malformed lines are skipped with a warning\n"
    "  --state-version REL   system.stateVersion (default: the release of the pinned nixpkgs)\n"
    "  --out DIR             where to write (created when missing)\n\n"
    "Refuses (exit 3) when root would have no SSH key; a bad host name is a usage error (exit 2).\n"
    "docs/rendered-example.md explains the generated files.\n";

struct render_opts {
	const char *config, *disks, *uplink, *hostname, *key_file, *state_version, *out;
	char **keys;
};

static int parse_opts(int argc, char **argv, struct render_opts *o, struct nm_error *e)
{
	enum { OPT_CONFIG = 0x100, OPT_DISKS, OPT_UPLINK, OPT_HOSTNAME, OPT_KEY, OPT_KEY_FILE, OPT_STATE, OPT_OUT };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"disks", required_argument, NULL, OPT_DISKS},
	    {"uplink", required_argument, NULL, OPT_UPLINK},
	    {"hostname", required_argument, NULL, OPT_HOSTNAME},
	    {"ssh-key", required_argument, NULL, OPT_KEY},
	    {"ssh-key-file", required_argument, NULL, OPT_KEY_FILE},
	    {"state-version", required_argument, NULL, OPT_STATE},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: o->config = optarg; break;
		case OPT_DISKS: o->disks = optarg; break;
		case OPT_UPLINK: o->uplink = optarg; break;
		case OPT_HOSTNAME: o->hostname = optarg; break;
		case OPT_KEY:
			if (nm_strv_push(&o->keys, optarg) < 0)
				return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
			break;
		case OPT_KEY_FILE: o->key_file = optarg; break;
		case OPT_STATE: o->state_version = optarg; break;
		case OPT_OUT: o->out = optarg; break;
		case 'h': fputs(render_help, stdout); return AGENT_HELP_SHOWN;
		default:
			return agent_usage_error(e, "render", "render: unknown or incomplete option '%s'",
						 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return agent_usage_error(e, "render", "render: unexpected argument '%s'", argv[optind]);
	if (!o->out)
		return agent_usage_error(e, "render", "render: --out DIR is required (where to write the files)");
	return 0;
}

static json_object *options_to_json(const struct render_opts *o, const char *root)
{
	json_object *j = json_object_new_object();
	const struct {
		const char *key, *value;
	} fields[] = {{"root", root},
		      {"config", o->config},
		      {"disks", o->disks},
		      {"uplink", o->uplink},
		      {"hostname", o->hostname},
		      {"ssh_key_file", o->key_file},
		      {"state_version", o->state_version},
		      {"out", o->out}};
	for (size_t i = 0; i < NM_ELEMENTSOF(fields); i++)
		json_object_object_add(j, fields[i].key,
				       fields[i].value ? json_object_new_string(fields[i].value) : NULL);
	json_object_object_add(j, "ssh_keys_given", json_object_new_int((int)nm_strv_len(o->keys)));
	return j;
}

static void print_summary(const struct render_opts *o, const struct agent_render_input *in)
{
	const struct disk_plan *p = in->plan;
	printf("wrote %s/hardware-configuration.nix, %s/configuration.nix and %s/plan.json\n", o->out, o->out, o->out);
	printf("  disks:    ");
	for (size_t i = 0; i < p->n_disks; i++)
		printf("%s%s", i ? ", " : "", p->disks[i].name);
	printf(" (%s, GRUB on every disk)\n", p->uefi ? "UEFI" : "BIOS");
	for (size_t i = 0; i < p->n_filesystems; i++) {
		const struct disk_fs_plan *fs = &p->filesystems[i];
		/* BIOS plans format each ESP (for a later switch to UEFI) without mounting it. */
		const char *where = fs->mountpoint ? fs->mountpoint : strcmp(fs->fstype, "swap") == 0 ? "swap" : "-";
		printf("  %-9s %-5s on %s, UUID %s\n", where, fs->fstype, fs->device, fs->uuid);
	}
	printf("  uplink:   %s (NixOS: %s) MAC %s\n", in->uplink->name,
	       in->uplink->predicted_name ? in->uplink->predicted_name : "-", in->uplink->mac);
	printf("  host:     %s, %zu SSH key(s) for root, stateVersion %s\n", in->hostname, nm_strv_len(in->ssh_keys),
	       in->state_version);
}

/* Gathers what the render needs and writes the files; everything it allocates is in the
 * caller's structures so one cleanup path frees it. */
static int render_run(struct agent_ctx *ctx, const struct render_opts *o, struct disk_inventory *disks,
		      struct net_inventory *net, struct agent_machine_facts *m, struct agent_config *file,
		      struct disk_config *cfg, struct disk_plan *plan, char ***keys, struct img_pins *pins,
		      struct nm_error *e)
{
	const char *root = ctx->g.root;
	agent_event(ctx, "render", "start", NULL);
	int r = disk_inventory_read(root, disks, e);
	if (r >= 0)
		r = net_inventory_read(root, net, e);
	if (r >= 0)
		r = agent_machine_facts_read(root, m, e);
	/* What the inventory could not read, and the rescue's skipped key lines, matter to the files
	 * written: say them (disk warnings are for detect and the planner). */
	for (char **w = net->warnings; r >= 0 && w && *w; w++)
		nm_warn("%s", *w);
	for (char **w = m->warnings; r >= 0 && w && *w; w++)
		nm_warn("%s", *w);
	if (r >= 0)
		r = agent_config_read(o->config, file, e);
	if (r >= 0)
		r = agent_config_disk(file, cfg, e);
	if (r >= 0 && o->disks)
		r = disk_config_set_disks(cfg, o->disks, e);
	if (r >= 0)
		r = disk_plan_make(disks, cfg, disks->uefi, plan, e);
	const struct net_nic *uplink = NULL;
	if (r >= 0)
		r = net_uplink_select(net, o->uplink, &uplink, e);
	const char *hostname = o->hostname ? o->hostname : cfg->hostname ? cfg->hostname : RENDER_DEFAULT_HOSTNAME;
	if (r >= 0 && o->hostname) { /* the config's was checked with the file */
		r = net_hostname_check(hostname, e);
		if (r < 0)
			nm_error_prefix(e, "--hostname");
	}
	if (r >= 0)
		r = agent_ssh_keys_gather(m, o->keys, o->key_file, keys, e);
	/* system.stateVersion without --state-version: the release of the nixpkgs install would
	 * install. The config's pins are checked either way: install would refuse a bad one. */
	if (r >= 0)
		r = agent_config_pins(file, pins, e);
	if (r >= 0 && !o->state_version && !pins->nixpkgs.release)
		r = nm_fail(e, NM_ERR_USAGE, EINVAL,
			    "the config's nixpkgs pin names no release: give --state-version YY.MM (install reads it "
			    "from the tree)");
	if (r >= 0 && o->state_version && !img_release_valid(o->state_version))
		r = nm_fail(e, NM_ERR_USAGE, EINVAL,
			    "--state-version: not a NixOS release; write YY.MM with a month 01-12, like 26.05");
	if (r < 0)
		return r;
	/* Lent to the renderer, which keeps no reference. */
	_cleanup_json_ json_object *plan_json = disk_plan_to_json(plan);
	_cleanup_json_ json_object *options = options_to_json(o, root);
	struct agent_render_input in = {
	    .plan = plan,
	    .inv = net,
	    .initrd_modules = disks->initrd_modules,
	    .facts = m,
	    .uplink = uplink,
	    .hostname = hostname,
	    .ssh_keys = *keys,
	    .state_version = o->state_version ? o->state_version : pins->nixpkgs.release,
	    .plan_json = plan_json,
	    .options = options,
	};
	r = agent_render(&in, o->out, e);
	if (r < 0)
		return r;
	print_summary(o, &in);
	json_object *ev = json_object_new_object();
	json_object_object_add(ev, "out", json_object_new_string(o->out));
	json_object_object_add(ev, "hostname", json_object_new_string(hostname));
	json_object_object_add(ev, "uplink_mac", json_object_new_string(uplink->mac));
	agent_event(ctx, "render", "done", ev);
	return 0;
}

int agent_cmd_render(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	struct render_opts o = {0};
	int r = parse_opts(argc, argv, &o, e);
	if (r != 0) {
		nm_strv_free(o.keys);
		return r == AGENT_HELP_SHOWN ? 0 : r;
	}
	_cleanup_disk_inventory_ struct disk_inventory disks = {0};
	_cleanup_net_inventory_ struct net_inventory net = {0};
	_cleanup_agent_machine_facts_ struct agent_machine_facts m = {0};
	_cleanup_agent_config_ struct agent_config file = {0};
	_cleanup_disk_config_ struct disk_config cfg = {0};
	_cleanup_disk_plan_ struct disk_plan plan = {0};
	_cleanup_img_pins_ struct img_pins pins = {0};
	_cleanup_strv_free_ char **keys = NULL;
	r = disk_config_init(&cfg);
	if (r < 0)
		r = nm_fail(e, NM_ERR_RUNTIME, -r, "render: cannot set up the layout config");
	else
		r = render_run(ctx, &o, &disks, &net, &m, &file, &cfg, &plan, &keys, &pins, e);
	if (r < 0) {
		json_object *ev = json_object_new_object();
		json_object_object_add(ev, "message", json_object_new_string(e->msg));
		json_object_object_add(ev, "exit_code", json_object_new_int(nm_exit_code(e)));
		agent_event(ctx, "render", "error", ev);
	}
	nm_strv_free(o.keys);
	return r;
}
