/* pipeline.c: the phases in their one order, as docs/install.md lists them, each with what it is
 * (read-only or destructive, under the disk lock or not, ...) and which commands run it; and the
 * one runner. Nothing destructive (teardown and after) runs before build has succeeded;
 * `layout` runs the disk phases alone, `wipe` teardown and wipe, `status` names them from here. */
#include "agent/pipeline.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "agent/install.h"

#define I AGENT_FOR_INSTALL
#define L AGENT_FOR_LAYOUT
#define W AGENT_FOR_WIPE

static const struct agent_phase phases[] = {
    {.name = "detect", .commands = I, .always = true, .run = install_detect},
    {.name = "plan", .commands = I, .always = true, .run = install_plan},
    {.name = "confirm", .commands = I, .always = true, .detach_point = true, .run = install_confirm},
    {.name = "fetch", .commands = I, .run = install_fetch, .check = install_fetch_check},
    {.name = "render", .commands = I, .run = install_render, .check = install_render_check},
    {.name = "build", .commands = I, .run = install_build, .check = install_build_check},
    {.name = "teardown",
     .commands = I | L | W,
     .destructive = true,
     .disk_lock = true,
     .disk_sequence = true,
     .run = install_teardown,
     .disk = disk_teardown},
    /* After the wipe the disks hold nothing, and udevd must catch up before new partitions get
     * the old names: a "remove" event of an old partition (nvme1n1p4) that waited behind the lock
     * runs mdadm's udev rule `mdadm -If nvme1n1p4`, which fails whatever member bears that name
     * by then — the new array's ("md/raid1:md127: Disk failure on nvme1n1p4"; seen in the
     * kill-and-rerun scenarios). A table re-read in between finds a blank disk. */
    {.name = "wipe",
     .commands = I | L | W,
     .destructive = true,
     .disk_lock = true,
     .disk_sequence = true,
     .udev_drain_after = true,
     .run = install_wipe,
     .disk = disk_wipe},
    {.name = "partition",
     .commands = I | L,
     .destructive = true,
     .disk_lock = true,
     .disk_sequence = true,
     .run = install_partition,
     .check = install_partition_check,
     .disk = disk_partition},
    {.name = "raid",
     .commands = I | L,
     .destructive = true,
     .disk_lock = true,
     .disk_sequence = true,
     .run = install_raid,
     .check = install_raid_check,
     .disk = disk_raid},
    {.name = "format",
     .commands = I | L,
     .destructive = true,
     .disk_lock = true,
     .disk_sequence = true,
     .run = install_format,
     .check = install_format_check,
     .disk = disk_format},
    /* Mounted (and in arrays), the partitions are open: udevd cannot re-read the tables now, so
     * the lock ends with mount. Mounting again is repeatable on its own. */
    {.name = "mount",
     .commands = I | L,
     .destructive = true,
     .disk_lock = true,
     .run = install_mount,
     .check = install_mount_check,
     .disk = disk_mount},
    {.name = "install", .commands = I, .destructive = true, .run = install_install, .check = install_install_check},
    {.name = "handover", .commands = I, .destructive = true, .run = install_handover},
};

#undef I
#undef L
#undef W

#define N_PHASES (sizeof phases / sizeof phases[0])

size_t agent_phase_count(void)
{
	return N_PHASES;
}

const struct agent_phase *agent_phase_at(size_t i)
{
	return i < N_PHASES ? &phases[i] : NULL;
}

const char *agent_phase_name(size_t i)
{
	return i < N_PHASES ? phases[i].name : NULL;
}

int agent_phase_index(const char *name)
{
	for (size_t i = 0; i < N_PHASES; i++)
		if (strcmp(phases[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool in_slice(const struct agent_phase *ph, unsigned command)
{
	return (ph->commands & command) != 0;
}

int agent_phase_first_destructive(unsigned command)
{
	for (size_t i = 0; i < N_PHASES; i++)
		if (in_slice(&phases[i], command) && phases[i].destructive)
			return (int)i;
	return -1;
}

int agent_phase_last(unsigned command)
{
	int last = -1;
	for (size_t i = 0; i < N_PHASES; i++)
		if (in_slice(&phases[i], command))
			last = (int)i;
	return last;
}

char *agent_phase_list(unsigned command, const char *sep)
{
	size_t len = 1;
	for (size_t i = 0; i < N_PHASES; i++)
		if (in_slice(&phases[i], command))
			len += strlen(phases[i].name) + strlen(sep);
	char *s = calloc(1, len);
	if (!s)
		return NULL;
	for (size_t i = 0; i < N_PHASES; i++) {
		if (!in_slice(&phases[i], command))
			continue;
		if (*s)
			strcat(s, sep);
		strcat(s, phases[i].name);
	}
	return s;
}

void agent_phase_list_print(FILE *f, unsigned command, const char *lead, const char *sep, const char *tail,
			    size_t width)
{
	size_t col = strlen(lead);
	fputs(lead, f);
	bool first = true;
	for (size_t i = 0; i < N_PHASES; i++) {
		if (!in_slice(&phases[i], command))
			continue;
		const char *s = first ? "" : sep;
		size_t word = strlen(s) + strlen(phases[i].name);
		if (!first && col + word > width) {
			/* The separator's trailing space ends the line instead. */
			size_t n = strlen(s);
			while (n > 0 && s[n - 1] == ' ')
				n--;
			fprintf(f, "%.*s\n", (int)n, s);
			col = 0;
			s = "";
			word = strlen(phases[i].name);
		}
		fprintf(f, "%s%s", s, phases[i].name);
		col += word;
		first = false;
	}
	fputs(tail, f);
}

int agent_phase_until(unsigned command, const char *cmd, const char *until, struct nm_error *e)
{
	int i = agent_phase_index(until);
	if (i >= 0 && in_slice(&phases[i], command))
		return i;
	_cleanup_free_ char *list = agent_phase_list(command, ", ");
	return agent_usage_error(e, cmd, "%s: --until %s is not a%s %s phase (phases: %s)", cmd, until,
				 cmd[0] && strchr("aeiou", cmd[0]) ? "n" : "", cmd, list ? list : "?");
}

/* ---- the runner ---- */

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void event_start(const struct agent_pipeline *p, const struct agent_phase *ph)
{
	json_object *f = NULL;
	if (ph->disk_lock && p->plan) {
		json_object *disks = json_object_new_array();
		for (size_t i = 0; i < p->plan->n_disks; i++)
			json_object_array_add(disks, json_object_new_string(p->plan->disks[i].name));
		f = json_object_new_object();
		json_object_object_add(f, "disks", disks);
	}
	agent_event(p->ctx, ph->name, "start", f);
}

static void event_done(const struct agent_pipeline *p, const struct agent_phase *ph, double secs)
{
	json_object *f = json_object_new_object();
	json_object_object_add(f, "seconds", json_object_new_double(secs));
	agent_event(p->ctx, ph->name, "done", f);
}

static void event_error(const struct agent_pipeline *p, const char *phase, const struct nm_error *e)
{
	json_object *f = json_object_new_object();
	json_object_object_add(f, "message", json_object_new_string(e->msg));
	json_object_object_add(f, "exit_code", json_object_new_int(nm_exit_code(e)));
	json_object_object_add(f, "class", json_object_new_string(nm_err_class_name(e->cls)));
	agent_event(p->ctx, phase, "error", f);
}

static bool lock_held(const struct agent_pipeline *p)
{
	return p->disk.lock && p->disk.lock->n > 0;
}

/* Before the first phase under the lock: the refusals first (nothing is locked for a refusal),
 * then the lock, then — fetch and build took minutes, the operator read the list a moment ago —
 * under it the disks must still be the ones planned and confirmed. */
static int take_disk_lock(struct agent_pipeline *p, struct nm_error *e)
{
	int r = p->teardown_checked ? 0 : disk_teardown_check(p->plan, &p->disk, e);
	if (r == 0)
		r = disk_lock(p->plan, &p->disk, e);
	if (r == 0)
		r = disk_identity_check(p->plan, p->disk.root, e);
	return r;
}

/* Lets the lock go until udevd's queue is empty (disk_udev_settle), then takes it again; the
 * disks must still be the planned ones. */
static int drain_udev(struct agent_pipeline *p, struct nm_error *e)
{
	disk_unlock(p->disk.lock);
	int r = disk_udev_settle(e);
	if (r == 0)
		r = disk_lock(p->plan, &p->disk, e);
	if (r == 0)
		r = disk_identity_check(p->plan, p->disk.root, e);
	return r;
}

static const struct agent_phase *first_locked(unsigned command)
{
	for (size_t i = 0; i < N_PHASES; i++)
		if (in_slice(&phases[i], command) && phases[i].disk_lock)
			return &phases[i];
	return NULL;
}

/* The phase after i that this run will reach, or NULL at the end of the slice. */
static const struct agent_phase *next_phase(const struct agent_pipeline *p, size_t i, size_t last)
{
	for (size_t j = i + 1; j <= last; j++)
		if (in_slice(&phases[j], p->command))
			return &phases[j];
	return NULL;
}

/* A destructive disk phase cut short may have left half a step behind — an array created but
 * not recorded, a filesystem half made — that redoing that step alone would trip over. The disk
 * sequence is repeatable from its first phase with the same plan and UUIDs, so a resume that finds
 * one of them unfinished after the first finished starts the disk sequence over. */
static void resume_restart_disk_sequence(struct install_run *run)
{
	bool started = false;
	for (size_t i = 0; i < N_PHASES; i++) {
		if (!phases[i].disk_sequence)
			continue;
		bool done = agent_state_phase_done(&run->st, phases[i].name);
		if (!started && !done)
			return; /* nothing destructive happened yet */
		started = true;
		if (done)
			continue;
		nm_info("resume: %s did not finish; the disk phases start over from teardown with the same plan",
			phases[i].name);
		bool from = false;
		for (size_t j = 0; j < N_PHASES; j++) {
			from = from || phases[j].disk_sequence;
			if (from)
				agent_state_mark_undone(&run->st, phases[j].name);
		}
		return;
	}
}

/* install --resume: a finished phase is checked, not redone. 1 when skipped. */
static int skip_finished(struct agent_pipeline *p, const struct agent_phase *ph, struct nm_error *e)
{
	struct install_run *run = p->install;
	if (!run || !run->o->resume || ph->always || !agent_state_phase_done(&run->st, ph->name))
		return 0;
	int r = ph->check ? ph->check(run, agent_state_products(&run->st, ph->name), e) : 0;
	if (r < 0)
		return r;
	nm_info("%s: finished before, checked, skipped", ph->name);
	agent_event(p->ctx, ph->name, "done", json_object_new_object());
	return 1;
}

static int run_one(struct agent_pipeline *p, const struct agent_phase *ph, json_object **products, struct nm_error *e)
{
	if (p->install)
		return ph->run(p->install, products, e);
	return ph->disk(p->plan, &p->disk, e);
}

static int run_phase(struct agent_pipeline *p, const struct agent_phase *ph, struct nm_error *e)
{
	struct install_run *run = p->install;
	int r = skip_finished(p, ph, e);
	if (r != 0)
		return r < 0 ? r : 0;
	if (run) {
		agent_state_mark_running(&run->st, ph->name);
		r = install_save_state(run, e);
		if (r < 0)
			return r;
	}
	/* The lock comes before the start event: a disk another program holds sees no phase begin.
	 * It is taken at the first phase under it; a resume that skipped that one (the disk
	 * sequence finished) mounts without it, as mounting needs no table re-read kept away. */
	if (ph->disk_lock && !lock_held(p) && ph == first_locked(p->command)) {
		r = take_disk_lock(p, e);
		if (r < 0)
			return r;
	}
	event_start(p, ph);
	nm_info("== %s", ph->name);
	double t0 = now_mono();
	_cleanup_json_ json_object *products = NULL;
	r = run_one(p, ph, &products, e);
	if (r < 0)
		return r;
	double secs = now_mono() - t0;
	event_done(p, ph, secs);
	nm_info("%s: done", ph->name);
	if (!run || strcmp(ph->name, "handover") == 0)
		return 0; /* handover saved the final state itself before unmounting */
	agent_state_mark_done(&run->st, ph->name, secs, NM_TAKE_PTR(products)); /* the state owns them now */
	return install_save_state(run, e);
}

static int stop_after_until(struct agent_pipeline *p, const struct agent_phase *ph, struct nm_error *e)
{
	p->stopped = true;
	if (!p->install)
		return 0;
	agent_state_mark_result(&p->install->st, "stopped", NULL);
	nm_info("stopped after %s as asked (--until); continue with 'nmmm-agent install --resume --yes'", ph->name);
	return install_save_state(p->install, e);
}

int agent_pipeline_run(struct agent_pipeline *p, struct nm_error *e)
{
	int last = p->until ? agent_phase_index(p->until) : agent_phase_last(p->command);
	if (last < 0 || !in_slice(&phases[last], p->command))
		return nm_fail(e, NM_ERR_RUNTIME, EINVAL, "internal: --until %s is not in this command's phases",
			       p->until ? p->until : "?");
	if (p->install && p->install->o->resume)
		resume_restart_disk_sequence(p->install);
	int r = 0;
	for (size_t i = 0; i <= (size_t)last && r == 0; i++) {
		const struct agent_phase *ph = &phases[i];
		if (!in_slice(ph, p->command))
			continue;
		r = run_phase(p, ph, e);
		if (r < 0) {
			nm_error_prefix(e, "%s", ph->name);
			event_error(p, ph->name, e);
			break;
		}
		const struct agent_phase *next = next_phase(p, i, (size_t)last);
		if (lock_held(p) && (!next || !next->disk_lock))
			disk_unlock(p->disk.lock);
		else if (lock_held(p) && ph->udev_drain_after)
			r = drain_udev(p, e);
		if (r < 0) {
			nm_error_prefix(e, "%s", ph->name);
			event_error(p, ph->name, e);
			break;
		}
		if (p->install && p->install->o->detach && ph->detach_point) {
			bool parent = false;
			r = install_detach(p->install, &parent, e);
			p->detached = r == 0 && parent;
			if (r < 0 || parent)
				return r;
		}
		if (p->until && (size_t)last == i)
			return stop_after_until(p, ph, e);
	}
	if (p->disk.lock)
		disk_unlock(p->disk.lock);
	if (r < 0 && p->install) {
		agent_state_mark_result(&p->install->st, "failed", e);
		struct nm_error ignored = {0};
		install_save_state(p->install, &ignored);
	}
	return r;
}
