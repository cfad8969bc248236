/* install-phases.c: what each phase of `install` does, by calling the libraries (disk, netcfg,
 * images) — and, on --resume, how a finished phase's products are checked. The order lives in
 * pipeline.c; nothing here decides it. Phases before teardown only read the machine and write
 * under the state directory. */
#include "agent/install.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/disk-phases.h"
#include "agent/pipeline.h"
#include "agent/progress.h"

#define BUILD_IN_RAM_MIN_BYTES (4ull << 30) /* MemAvailable needed to build in the rescue's store */

static int missing_product(const char *phase, const char *what, struct nm_error *e)
{
	return nm_fail(e, NM_ERR_RUNTIME, ENOENT,
		       "resume: the %s phase finished earlier but %s is gone; the state no longer matches the machine. "
		       "Start over without --resume (nothing was changed by this check)",
		       phase, what);
}

static int rm_rf(const char *path, struct nm_error *e)
{
	const char *argv[] = {"rm", "-rf", "--one-file-system", path, NULL};
	return nm_run(argv, NULL, NULL, e);
}

struct disk_run_opts install_disk_opts(struct install_run *run)
{
	bool mounts = !run->o->until || agent_phase_index(run->o->until) >= agent_phase_index("mount");
	return (struct disk_run_opts){.root = run->ctx->g.root,
				      .target = run->o->target,
				      .mounts_target = mounts,
				      .discard = run->o->discard,
				      .throttle = &run->throttle,
				      .lock = &run->disk_lock};
}

/* ---- detect ---- */

int install_detect(struct install_run *run, json_object **products, struct nm_error *e)
{
	const char *root = run->ctx->g.root;
	int r = disk_inventory_read(root, &run->disks, e);
	if (r >= 0)
		r = net_inventory_read(root, &run->net, e);
	if (r >= 0)
		r = agent_machine_facts_read(root, &run->facts, e);
	if (r < 0)
		return r;
	json_object *p = json_object_new_object();
	disk_boot_mode_to_json(&run->disks, p);
	agent_machine_facts_to_json(&run->facts, run->disks.initrd_modules, p);
	net_inventory_to_json(&run->net, p);
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < run->disks.n_disks; i++)
		json_object_array_add(arr, disk_info_to_json(&run->disks.disks[i]));
	json_object_object_add(p, "disks", arr);
	*products = p;
	return 0;
}

/* ---- plan ---- */

int install_plan(struct install_run *run, json_object **products, struct nm_error *e)
{
	json_object *saved = agent_state_get(&run->st, "plan");
	int r;
	if (run->o->resume && saved) {
		r = disk_plan_from_json(saved, &run->plan, e);
		if (r < 0)
			return r;
		run->have_plan = true;
		/* A resumed plan must still describe these disks, checked before anything else runs. */
		return disk_identity_check(&run->plan, run->ctx->g.root, e);
	}
	r = disk_plan_make(&run->disks, &run->cfg, run->disks.uefi, &run->plan, e);
	if (r < 0)
		return r;
	run->have_plan = true;
	agent_state_set(&run->st, "plan", disk_plan_to_json(&run->plan));
	return 0;
}

/* ---- confirm ---- */

/* On resume, what confirm settled must be what the resumed run settled (the files were rendered
 * from it): the same host name, uplink and root keys — the rescue's authorized_keys and a key
 * file are read again, and may have changed since. */
static int confirm_same_as_before(const struct install_run *run, json_object *now, struct nm_error *e)
{
	json_object *was = run->o->resume ? agent_state_products(&run->st, "confirm") : NULL;
	static const struct {
		const char *key, *what;
	} settled[] = {
	    {"hostname", "the host name"},
	    {"uplink", "the uplink"},
	    {"ssh_keys", "root's SSH keys (--ssh-key, --ssh-key-file and the rescue's /root/.ssh/authorized_keys)"},
	};
	for (size_t i = 0; was && i < NM_ELEMENTSOF(settled); i++) {
		json_object *a = NULL, *b = NULL;
		if (!json_object_object_get_ex(was, settled[i].key, &a))
			continue;
		json_object_object_get_ex(now, settled[i].key, &b);
		if (!json_object_equal(a, b))
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "--resume: %s: not the same as in the install being resumed (%s then, %s "
				       "now); put it back as it was, or start over without --resume",
				       settled[i].what, json_object_to_json_string(a), json_object_to_json_string(b));
	}
	return 0;
}

int install_confirm(struct install_run *run, json_object **products, struct nm_error *e)
{
	/* Who can log in afterwards is settled before anything else: no key, no install. */
	int r = agent_ssh_keys_gather(&run->facts, run->o->ssh_keys, run->o->ssh_key_file, &run->ssh_keys, e);
	if (r < 0)
		return r;
	const char *hostname = run->o->hostname ? run->o->hostname : run->cfg.hostname ? run->cfg.hostname : "nixos";
	r = net_hostname_check(hostname, e); /* the config's was checked with the file (prepare) */
	if (r < 0) {
		nm_error_prefix(e, "--hostname");
		return r;
	}
	run->hostname = strdup(hostname);
	if (!run->hostname)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	r = net_uplink_select(&run->net, run->o->uplink, &run->uplink, e);
	if (r < 0)
		return r;
	_cleanup_json_ json_object *p = json_object_new_object();
	if (!p)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	json_object_object_add(p, "hostname", json_object_new_string(hostname));
	json_object_object_add(p, "uplink", json_object_new_string(run->uplink->name));
	json_object_object_add(p, "ssh_keys", nm_json_strv(run->ssh_keys));
	r = confirm_same_as_before(run, p, e);
	struct disk_run_opts o = install_disk_opts(run);
	if (r == 0)
		r = disk_raid_check(&run->plan, &o, e); /* a RAID plan on a kernel without md: say so now */
	/* What teardown would refuse (a foreign mount on the target, a volume group reaching past
	 * the plan) is refused now too, before anything is downloaded or built; teardown checks again. */
	if (r == 0)
		r = disk_teardown_check(&run->plan, &o, e);
	if (r < 0)
		return r;
	agent_disk_confirm_print(&run->plan, &run->disks);
	if (!run->o->yes)
		return nm_fail(
		    e, NM_ERR_REFUSED, EPERM,
		    "not confirmed: nothing was written. Check the disks and serials above, then run the same "
		    "command with --yes");
	*products = NM_TAKE_PTR(p);
	return 0;
}

/* ---- fetch ---- */

static int fetch_one(struct install_run *run, const struct img_pin *pin, const char *unpack_dir,
		     const char *symlink_prefix, json_object *products, struct nm_error *e)
{
	struct agent_progress view;
	agent_progress_init(&view, run->ctx, "fetch", pin->what);
	struct img_fetch_req req = {
	    .url = pin->url,
	    .sha256 = pin->sha256,
	    .unpack_dir = unpack_dir,
	    .expected_size = pin->size,
	    .ca_file = run->o->ca_file,
	    .root = run->ctx->g.root,
	    .symlink_prefix_allowed = symlink_prefix,
	    .progress = agent_progress_update,
	    .progress_data = &view,
	};
	/* the log and state.json name the URL without credentials or token */
	_cleanup_free_ char *shown = nm_url_redact(pin->url);
	struct img_fetch_result res = {0};
	int r = rm_rf(unpack_dir, e); /* a previous run killed after unpacking, before recording it */
	if (r == 0) {
		nm_info("fetch: the %s from %s", pin->what, shown ? shown : "?");
		r = img_fetch(&req, &res, e);
	}
	agent_progress_finish(&view, r == 0);
	if (r < 0)
		return r;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "url", shown ? json_object_new_string(shown) : NULL);
	json_object_object_add(o, "sha256", json_object_new_string(res.sha256));
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)res.bytes));
	json_object_object_add(products, pin->what, o);
	return 0;
}

/* The verified nixpkgs tree at <state>/channel/nixos: the same tree serves -I nixpkgs= for the
 * build and becomes the target's `nixos` channel. Its release: the pin's, else its .version. */
static int fetch_nixpkgs(struct install_run *run, json_object *products, struct nm_error *e)
{
	const struct img_nixpkgs_pin *pin = &run->pins.nixpkgs;
	int r = rm_rf(run->nixpkgs_parent, e); /* a previous run killed mid-way */
	if (r == 0 && mkdir(run->nixpkgs_parent, 0755) < 0)
		r = nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot create: %s", run->nixpkgs_parent, strerror(errno));
	if (r < 0)
		return r;
	struct agent_progress view;
	agent_progress_init(&view, run->ctx, "fetch", "nixpkgs");
	struct img_fetch_req base = {
	    .ca_file = run->o->ca_file,
	    .root = run->ctx->g.root,
	    .progress = agent_progress_update,
	    .progress_data = &view,
	};
	_cleanup_free_ char *used = NULL;
	r = img_nixpkgs_fetch(pin, &base, run->nixpkgs_dir, &used, e);
	agent_progress_finish(&view, r == 0);
	if (r == 0 && !nm_exists(run->nixpkgs_dir, "/nixos/default.nix")) {
		rm_rf(run->nixpkgs_parent, e);
		r = nm_fail(
		    e, NM_ERR_VERIFY, ENOENT,
		    "the pinned tree verified but holds no nixos/default.nix: it is not nixpkgs; check the pin");
	}
	free(run->release);
	run->release = NULL;
	if (r == 0 && pin->release)
		run->release = strdup(pin->release);
	else if (r == 0)
		r = img_nixpkgs_tree_release(run->nixpkgs_dir, &run->release, e);
	if (r == 0 && !run->release)
		r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (r < 0)
		return r;
	json_object *o = img_nixpkgs_pin_to_json(pin);
	_cleanup_free_ char *shown = nm_url_redact(used);
	json_object_object_add(o, "release", json_object_new_string(run->release));
	json_object_object_add(o, "source", shown ? json_object_new_string(shown) : NULL);
	json_object_object_add(products, "nixpkgs", o);
	return 0;
}

int install_fetch(struct install_run *run, json_object **products, struct nm_error *e)
{
	const char *sd = run->o->state_dir;
	_cleanup_json_ json_object *p = json_object_new_object();
	if (!p)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int r = fetch_nixpkgs(run, p, e);
	if (r == 0) {
		if (run->o->nix_from_path) {
			r = img_nix_from_path(&run->nix, e);
		} else {
			_cleanup_free_ char *nixdir = nm_strdup_printf("%s/nix-tarball", sd);
			r = fetch_one(run, &run->pins.nix, nixdir, "/nix/store/", p, e);
			if (r == 0)
				r = img_nix_bootstrap(nixdir, "/", &run->nix, e);
		}
		run->have_nix = r == 0;
	}
	if (r < 0)
		return r;
	json_object_object_add(p, "channel_dir", json_object_new_string(run->nixpkgs_dir));
	json_object_object_add(p, "nix_bin", json_object_new_string(run->nix.bin_dir));
	*products = NM_TAKE_PTR(p);
	return 0;
}

int install_fetch_check(struct install_run *run, json_object *products, struct nm_error *e)
{
	if (!nm_exists(run->nixpkgs_dir, "/nixos/default.nix"))
		return missing_product("fetch", run->nixpkgs_dir, e);
	json_object *np = NULL;
	const char *release = NULL;
	if (products && json_object_object_get_ex(products, "nixpkgs", &np))
		release = nm_json_str(np, "release");
	if (!release || !img_release_valid(release))
		return missing_product("fetch", "the nixpkgs release it recorded", e);
	free(run->release);
	run->release = strdup(release);
	if (!run->release)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	const char *bin = nm_json_str(products, "nix_bin");
	if (!bin)
		return missing_product("fetch", "the Nix it recorded", e);
	int r = img_nix_at(bin, &run->nix, e);
	run->have_nix = r == 0;
	return r;
}

static int apply_substituters(struct install_run *run, struct nm_error *e)
{
	if (!run->o->substituters)
		return 0;
	free(run->nix.substituters);
	run->nix.substituters = strdup(run->o->substituters);
	return run->nix.substituters ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
}

/* ---- render ---- */

int install_render(struct install_run *run, json_object **products, struct nm_error *e)
{
	/* Both lent to the renderer, which keeps no reference. */
	_cleanup_json_ json_object *opts = json_object_new_object();
	_cleanup_json_ json_object *plan_json = disk_plan_to_json(&run->plan);
	if (!opts || !plan_json)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	json_object_object_add(opts, "pins", img_pins_to_json(&run->pins));
	struct agent_render_input in = {
	    .plan = &run->plan,
	    .inv = &run->net,
	    .initrd_modules = run->disks.initrd_modules,
	    .facts = &run->facts,
	    .uplink = run->uplink,
	    .hostname = run->hostname,
	    .ssh_keys = run->ssh_keys,
	    .state_version = run->release,
	    .plan_json = plan_json,
	    .options = opts,
	};
	int r = agent_render(&in, run->rendered_dir, e);
	if (r < 0)
		return r;
	json_object *p = json_object_new_object();
	json_object_object_add(p, "dir", json_object_new_string(run->rendered_dir));
	*products = p;
	return 0;
}

int install_render_check(struct install_run *run, json_object *products, struct nm_error *e)
{
	if (!nm_exists(run->rendered_dir, "/configuration.nix") ||
	    !nm_exists(run->rendered_dir, "/hardware-configuration.nix"))
		return missing_product("render", "the rendered configuration", e);
	return 0;
}

/* ---- build ---- */

static uint64_t mem_available(const char *root)
{
	_cleanup_free_ char *text = NULL;
	if (nm_read_file(root, "/proc/meminfo", 0, &text, NULL) < 0)
		return 0;
	const char *p = strstr(text, "MemAvailable:");
	unsigned long long kib = 0;
	if (!p || sscanf(p, "MemAvailable: %llu kB", &kib) != 1)
		return 0;
	return (uint64_t)kib * 1024;
}

int install_build(struct install_run *run, json_object **products, struct nm_error *e)
{
	int r = apply_substituters(run, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *cfg = nm_strdup_printf("%s/configuration.nix", run->rendered_dir);
	if (!cfg)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	uint64_t avail = mem_available(run->ctx->g.root);
	/* Building into the target store needs Nix's sandbox, which pivots its root: impossible when
	 * "/" is the initramfs itself (rootfs), as in a rescue that never switched root. */
	bool rootfs = disk_root_is_rootfs(run->ctx->g.root);
	bool in_ram = !run->o->build_in_target && (avail >= BUILD_IN_RAM_MIN_BYTES || rootfs);
	if (in_ram && avail < BUILD_IN_RAM_MIN_BYTES)
		nm_warn("build: only %.1f GiB available, but / is the initramfs (rootfs), where Nix cannot sandbox a "
			"build into the target store; building in RAM",
			(double)avail / (1ull << 30));
	if (in_ram) {
		r = img_system_build(&run->nix, run->nixpkgs_dir, cfg, NULL, run->o->state_dir, &run->sys, e);
	} else {
		nm_info("build: %.1f GiB available; the system will be built into the target store after mount. "
			"Evaluating it now, so errors surface before the disks are touched",
			(double)avail / (1ull << 30));
		r = img_system_instantiate(&run->nix, run->nixpkgs_dir, cfg, run->o->state_dir, &run->sys, e);
	}
	if (r < 0)
		return r;
	run->built = in_ram;
	json_object *p = json_object_new_object();
	json_object_object_add(p, in_ram ? "system" : "system_drv", json_object_new_string(run->sys.toplevel));
	json_object_object_add(p, in_ram ? "installer" : "installer_drv", json_object_new_string(run->sys.installer));
	*products = p;
	return 0;
}

int install_build_check(struct install_run *run, json_object *products, struct nm_error *e)
{
	const char *sys = nm_json_str(products, "system");
	const char *inst = nm_json_str(products, "installer");
	run->built = sys != NULL;
	if (!sys) {
		sys = nm_json_str(products, "system_drv");
		inst = nm_json_str(products, "installer_drv");
	}
	if (!sys || !inst || !nm_exists("/", sys) || !nm_exists("/", inst))
		return missing_product("build", "the built system in the store", e);
	run->sys.toplevel = strdup(sys);
	run->sys.installer = strdup(inst);
	if (!run->sys.toplevel || !run->sys.installer)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return apply_substituters(run, e);
}

/* ---- the disk phases ---- */

/* The runner (pipeline.c) checks teardown may proceed, locks the disks against udev
 * (disk_lock) and checks they are still the planned ones before teardown, and releases the lock
 * after mount. wipe to format never run without teardown before them in the same process: a
 * resume that finds one of them unfinished starts the disk sequence over. */
int install_teardown(struct install_run *run, json_object **products, struct nm_error *e)
{
	struct disk_run_opts o = install_disk_opts(run);
	return disk_teardown(&run->plan, &o, e);
}

int install_wipe(struct install_run *run, json_object **products, struct nm_error *e)
{
	struct disk_run_opts o = install_disk_opts(run);
	return disk_wipe(&run->plan, &o, e);
}

int install_partition(struct install_run *run, json_object **products, struct nm_error *e)
{
	struct disk_run_opts o = install_disk_opts(run);
	return disk_partition(&run->plan, &o, e);
}

int install_partition_check(struct install_run *run, json_object *products, struct nm_error *e)
{
	for (size_t i = 0; i < run->plan.n_disks; i++)
		for (size_t j = 0; j < run->plan.disks[i].n_parts; j++)
			if (!nm_exists(run->ctx->g.root, run->plan.disks[i].parts[j].path))
				return missing_product("partition", run->plan.disks[i].parts[j].path, e);
	return 0;
}

/* The rescue's own md resync limit, kept in the state the first time raid starts and before it
 * is lowered, so that every later run (raid repeated after a kill, or skipped) restores that one
 * at handover rather than the install's lowered limit it would read. */
#define STATE_RESYNC_LIMIT "rescue_speed_limit_max"

static void throttle_from_state(struct install_run *run)
{
	json_object *v = agent_state_get(&run->st, STATE_RESYNC_LIMIT);
	if (v && json_object_is_type(v, json_type_int)) {
		run->throttle.saved = true;
		run->throttle.speed_limit_max = (unsigned long)json_object_get_int64(v);
	}
}

static int keep_rescue_resync_limit(struct install_run *run, const struct disk_run_opts *o, struct nm_error *e)
{
	throttle_from_state(run);
	if (run->throttle.saved || run->plan.n_arrays == 0)
		return 0;
	int r = disk_raid_throttle_read(o, &run->throttle);
	if (r < 0 || !run->throttle.saved)
		return r;
	agent_state_set(&run->st, STATE_RESYNC_LIMIT, json_object_new_int64((int64_t)run->throttle.speed_limit_max));
	return agent_state_save(&run->st, NULL, e);
}

int install_raid(struct install_run *run, json_object **products, struct nm_error *e)
{
	struct disk_run_opts o = install_disk_opts(run);
	int r = keep_rescue_resync_limit(run, &o, e);
	return r < 0 ? r : disk_raid(&run->plan, &o, e);
}

int install_raid_check(struct install_run *run, json_object *products, struct nm_error *e)
{
	for (size_t i = 0; i < run->plan.n_arrays; i++)
		if (!nm_exists(run->ctx->g.root, run->plan.arrays[i].device))
			return missing_product("raid", run->plan.arrays[i].device, e);
	throttle_from_state(run);
	return 0;
}

int install_format(struct install_run *run, json_object **products, struct nm_error *e)
{
	struct disk_run_opts o = install_disk_opts(run);
	return disk_format(&run->plan, &o, e);
}

/* Each planned filesystem carries its planned UUID, read back with the real blkid. */
int install_format_check(struct install_run *run, json_object *products, struct nm_error *e)
{
	for (size_t i = 0; i < run->plan.n_filesystems; i++) {
		const struct disk_fs_plan *fs = &run->plan.filesystems[i];
		const char *argv[] = {"blkid", "-p", "-s", "UUID", "-o", "value", fs->device, NULL};
		struct nm_run_result res = {0};
		struct nm_run_opts ro = {.allow_failure = true, .timeout_sec = 30};
		int r = nm_run(argv, &ro, &res, e);
		bool same = r == 0 && res.exit_status == 0 && strncmp(res.output, fs->uuid, strlen(fs->uuid)) == 0;
		nm_run_result_free(&res);
		if (r < 0)
			return r;
		if (!same)
			return nm_fail(e, NM_ERR_RUNTIME, ENOENT,
				       "resume: %s does not carry the planned filesystem UUID %s any more; start over "
				       "without --resume",
				       fs->device, fs->uuid);
	}
	return 0;
}

/* The target is the agent's own: what an interrupted mount left there is taken down first. */
static int unmount_own_target(const char *target, struct nm_error *e)
{
	const char *is_mounted[] = {"mountpoint", "-q", target, NULL};
	struct nm_run_result res = {0};
	struct nm_run_opts ro = {.allow_failure = true, .timeout_sec = 30};
	int r = nm_run(is_mounted, &ro, &res, e);
	int status = res.exit_status;
	nm_run_result_free(&res);
	if (r < 0 || status != 0)
		return r;
	nm_info("mount: %s is still mounted from an interrupted run; unmounting it first", target);
	const char *umount[] = {"umount", "-R", target, NULL};
	return nm_run(umount, NULL, NULL, e);
}

int install_mount(struct install_run *run, json_object **products, struct nm_error *e)
{
	struct disk_run_opts o = install_disk_opts(run);
	int r = run->o->resume ? unmount_own_target(run->o->target, e) : 0;
	if (r == 0)
		r = disk_mount(&run->plan, &o, e);
	if (r < 0)
		return r;
	run->mounted = true;
	return 0;
}

int install_mount_check(struct install_run *run, json_object *products, struct nm_error *e)
{
	const char *argv[] = {"mountpoint", "-q", run->o->target, NULL};
	struct nm_run_result res = {0};
	struct nm_run_opts ro = {.allow_failure = true, .timeout_sec = 30};
	int r = nm_run(argv, &ro, &res, e);
	int status = res.exit_status;
	nm_run_result_free(&res);
	if (r < 0)
		return r;
	if (status != 0) {
		/* Mounting is repeatable: do it again rather than fail. */
		struct disk_run_opts o = install_disk_opts(run);
		r = disk_mount(&run->plan, &o, e);
		if (r < 0)
			return r;
	}
	run->mounted = true;
	return 0;
}

/* ---- install ---- */

static int copy_file(const char *from, const char *to, struct nm_error *e)
{
	const char *argv[] = {"cp", "--", from, to, NULL};
	return nm_run(argv, NULL, NULL, e);
}

static int copy_rendered_files(struct install_run *run, const char *etc_nixos, struct nm_error *e)
{
	const char *mk[] = {"mkdir", "-p", "-m", "0755", etc_nixos, NULL};
	int r = nm_run(mk, NULL, NULL, e);
	static const char *const files[] = {"configuration.nix", "hardware-configuration.nix", "plan.json"};
	for (size_t i = 0; r == 0 && i < NM_ELEMENTSOF(files); i++) {
		_cleanup_free_ char *from = nm_strdup_printf("%s/%s", run->rendered_dir, files[i]);
		_cleanup_free_ char *to = nm_strdup_printf("%s/%s", etc_nixos, files[i]);
		r = copy_file(from, to, e);
	}
	return r;
}

/* What /root/.nix-channels names: the release's channel, for a later `nix-channel --update`
 * (the registered tree is the verified one either way). */
static char *channel_url(const struct install_run *run)
{
	return nm_strdup_printf("https://nixos.org/channels/nixos-%s", run->release);
}

int install_install(struct install_run *run, json_object **products, struct nm_error *e)
{
	const char *target = run->o->target;
	_cleanup_free_ char *etc_nixos = nm_strdup_printf("%s/etc/nixos", target);
	int r = copy_rendered_files(run, etc_nixos, e);
	if (r < 0)
		return r;
	if (!run->built) {
		_cleanup_free_ char *cfg = nm_strdup_printf("%s/configuration.nix", etc_nixos);
		_cleanup_free_ char *gc = nm_strdup_printf("%s/var/lib/nmmm", target);
		img_system_free(&run->sys);
		r = img_system_build(&run->nix, run->nixpkgs_dir, cfg, target, gc, &run->sys, e);
		if (r < 0)
			return r;
	}
	r = img_system_install(&run->nix, &run->sys, target, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *url = channel_url(run);
	r = img_channel_register(&run->nix, run->nixpkgs_parent, url, target, e);
	if (r < 0)
		return r;
	json_object *p = json_object_new_object();
	json_object_object_add(p, "system", json_object_new_string(run->sys.toplevel));
	*products = p;
	return 0;
}

int install_install_check(struct install_run *run, json_object *products, struct nm_error *e)
{
	if (!nm_exists(run->o->target, "/nix/var/nix/profiles/system"))
		return missing_product("install", "the system profile on the target", e);
	return 0;
}

/* ---- handover ---- */

/* Fresh host keys, made here so their fingerprints can be pinned before the first connection;
 * nothing of an old (possibly compromised) system is carried over. */
static int make_host_keys(const char *target, const char *hostname, json_object *report, struct nm_error *e)
{
	_cleanup_free_ char *comment = nm_strdup_printf("root@%s", hostname ? hostname : "nixos");
	_cleanup_free_ char *dir = nm_strdup_printf("%s/etc/ssh", target);
	const char *mk[] = {"mkdir", "-p", "-m", "0755", dir, NULL};
	int r = nm_run(mk, NULL, NULL, e);
	json_object *keys = json_object_new_array();
	json_object_object_add(report, "ssh_host_keys", keys);
	static const char *const kinds[][2] = {{"ed25519", NULL}, {"rsa", "4096"}};
	for (size_t i = 0; r == 0 && i < NM_ELEMENTSOF(kinds); i++) {
		_cleanup_free_ char *path = nm_strdup_printf("%s/ssh_host_%s_key", dir, kinds[i][0]);
		_cleanup_free_ char *pub = nm_strdup_printf("%s.pub", path);
		unlink(path);
		unlink(pub);
		const char *gen[] = {"ssh-keygen",
				     "-q",
				     "-t",
				     kinds[i][0],
				     "-N",
				     "",
				     "-C",
				     comment,
				     "-f",
				     path,
				     kinds[i][1] ? "-b" : NULL,
				     kinds[i][1],
				     NULL};
		r = nm_run(gen, NULL, NULL, e);
		if (r < 0)
			break;
		const char *fp[] = {"ssh-keygen", "-l", "-E", "sha256", "-f", pub, NULL};
		struct nm_run_result res = {0};
		r = nm_run(fp, NULL, &res, e);
		if (r == 0) {
			char *nl = strchr(res.output, '\n');
			if (nl)
				*nl = '\0';
			json_object *k = json_object_new_object();
			json_object_object_add(k, "type", json_object_new_string(kinds[i][0]));
			json_object_object_add(k, "fingerprint", json_object_new_string(res.output));
			_cleanup_free_ char *pubtext = NULL;
			if (nm_read_line("/", pub, &pubtext) == 0)
				json_object_object_add(k, "public_key", json_object_new_string(pubtext));
			json_object_array_add(keys, k);
			nm_info("handover: host key %s", res.output);
		}
		nm_run_result_free(&res);
	}
	return r;
}

static json_object *make_report(const struct install_run *run)
{
	json_object *rep = json_object_new_object();
	json_object_object_add(rep, "hostname", json_object_new_string(run->hostname ? run->hostname : ""));
	json_object_object_add(rep, "plan", disk_plan_to_json(&run->plan));
	json_object *net = json_object_new_object();
	net_inventory_to_json(&run->net, net);
	json_object_object_add(rep, "network", net);
	json_object_object_add(rep, "pins", img_pins_to_json(&run->pins));
	json_object *phases = agent_state_get(&run->st, "phases");
	if (phases)
		json_object_object_add(rep, "phases", json_object_get(phases));
	if (run->sys.toplevel)
		json_object_object_add(rep, "system", json_object_new_string(run->sys.toplevel));
	return rep;
}

static int write_report(const char *dir, json_object *rep, struct nm_error *e)
{
	_cleanup_free_ char *path = nm_strdup_printf("%s/report.json", dir);
	if (!path)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory writing the report");
	const char *text =
	    json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	/* Atomic like the state beside it: a report cut short by a kill or a power cut reads as the
	 * previous one, never as truncated JSON. */
	return nm_write_file_atomic(path, text, strlen(text), 0644, e);
}

/* Only what the install itself holds is let go: the rescue's own swap stays on. */
static int unmount_target(struct install_run *run, struct nm_error *e)
{
	const char *sync_argv[] = {"sync", NULL};
	const char *umount[] = {"umount", "-R", run->o->target, NULL};
	struct disk_run_opts o = install_disk_opts(run);
	int r = nm_run(sync_argv, NULL, NULL, e);
	if (r == 0)
		r = disk_swapoff(&run->plan, &o, e);
	if (r == 0)
		r = nm_run(umount, NULL, NULL, e);
	return r;
}

int install_handover(struct install_run *run, json_object **products, struct nm_error *e)
{
	const char *target = run->o->target;
	_cleanup_json_ json_object *rep = make_report(run);
	_cleanup_free_ char *etc_nixos = nm_strdup_printf("%s/etc/nixos", target);
	if (!rep || !etc_nixos)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int r = make_host_keys(target, run->hostname, rep, e);
	if (r == 0)
		r = write_report(etc_nixos, rep, e);
	if (r == 0)
		r = write_report(run->rendered_dir, rep, e); /* so `export` has it after the unmount */
	if (r == 0) {
		struct disk_run_opts o = install_disk_opts(run);
		r = disk_raid_unthrottle(&o, &run->throttle, e);
	}
	json_object *keys = NULL;
	if (r == 0 && json_object_object_get_ex(rep, "ssh_host_keys", &keys))
		*products = json_object_new_object(),
		json_object_object_add(*products, "ssh_host_keys", json_object_get(keys));
	if (r < 0)
		return r;
	/* The state is final before the target goes away. */
	agent_state_mark_done(&run->st, "handover", 0, json_object_get(*products));
	agent_state_mark_result(&run->st, "done", NULL);
	_cleanup_free_ char *mirror = nm_strdup_printf("%s/var/lib/nmmm", target);
	r = agent_state_save(&run->st, mirror, e);
	if (r == 0)
		r = unmount_target(run, e);
	run->mounted = false;
	return r;
}
