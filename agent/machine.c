/* machine.c: the facts about the machine that hardware-configuration.nix needs besides disks
 * and network: CPU vendor and the matching KVM module (/proc/cpuinfo), virtualisation (cpuinfo's
 * hypervisor flag, the kvm-clock clocksource and the DMI vendor/product), and root's SSH keys
 * in the rescue (ssh-keys.c). The initrd's storage modules are the disk inventory's. Everything
 * is read under --root; nothing is loaded, probed or changed. */
#include "agent/agent.h"

#include <errno.h>
#include <string.h>

struct cpu_info {
	char vendor_id[64];
	bool vmx, svm, hypervisor;
};

static bool has_flag(const char *flags, const char *flag)
{
	size_t n = strlen(flag);
	for (const char *p = flags; (p = strstr(p, flag)); p += n)
		if ((p == flags || p[-1] == ' ' || p[-1] == '\t') && (p[n] == ' ' || p[n] == '\0' || p[n] == '\n'))
			return true;
	return false;
}

/* vendor_id and flags of the first processor: all of them agree on a server. */
static int cpu_info_read(const char *root, struct cpu_info *cpu, char ***warnings)
{
	_cleanup_free_ char *text = NULL;
	int r = nm_read_file(root, "/proc/cpuinfo", 0, &text, NULL);
	if (r < 0) {
		nm_warning_add(warnings, "cannot read /proc/cpuinfo (%s); CPU vendor and KVM module unknown",
			       strerror(-r));
		return 0;
	}
	bool seen_flags = false;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		const char *value = colon + 1 + (colon[1] == ' ');
		if (strncmp(line, "vendor_id", 9) == 0 && !cpu->vendor_id[0])
			snprintf(cpu->vendor_id, sizeof cpu->vendor_id, "%s", value);
		else if (strncmp(line, "flags", 5) == 0 && (line[5] == ' ' || line[5] == '\t') && !seen_flags) {
			seen_flags = true;
			cpu->vmx = has_flag(value, "vmx");
			cpu->svm = has_flag(value, "svm");
			cpu->hypervisor = has_flag(value, "hypervisor");
		}
	}
	if (!cpu->vendor_id[0])
		nm_warning_add(warnings, "/proc/cpuinfo has no vendor_id line; CPU vendor unknown");
	return 0;
}

static char *cpu_vendor_name(const char *vendor_id)
{
	if (strcmp(vendor_id, "GenuineIntel") == 0)
		return strdup("intel");
	if (strcmp(vendor_id, "AuthenticAMD") == 0)
		return strdup("amd");
	return vendor_id[0] ? strdup(vendor_id) : NULL;
}

/* Known DMI vendor/product strings of hypervisors, in systemd-detect-virt's vocabulary. */
static const struct {
	const char *dmi;
	const char *virt;
} dmi_vendors[] = {
    {"QEMU", "qemu"},		{"KVM", "kvm"},	    {"Red Hat", "kvm"},
    {"VMware", "vmware"},	{"VMW", "vmware"},  {"innotek GmbH", "oracle"},
    {"VirtualBox", "oracle"},	{"Xen", "xen"},	    {"Bochs", "bochs"},
    {"Parallels", "parallels"}, {"BHYVE", "bhyve"}, {"Microsoft Corporation", "microsoft"},
    {"Amazon EC2", "amazon"},
};

static const char *virt_from_dmi(const char *root)
{
	static const char *const files[] = {"/sys/class/dmi/id/product_name", "/sys/class/dmi/id/sys_vendor",
					    "/sys/class/dmi/id/board_vendor", "/sys/class/dmi/id/bios_vendor"};
	for (size_t i = 0; i < NM_ELEMENTSOF(files); i++) {
		_cleanup_free_ char *s = NULL;
		if (nm_read_line(root, files[i], &s) < 0)
			continue;
		for (size_t j = 0; j < NM_ELEMENTSOF(dmi_vendors); j++)
			if (strncmp(s, dmi_vendors[j].dmi, strlen(dmi_vendors[j].dmi)) == 0)
				return dmi_vendors[j].virt;
	}
	return NULL;
}

/* "kvm" when the KVM paravirtual clock is offered (QEMU with KVM, most clouds), else what
 * the DMI strings say (QEMU without KVM is "qemu"), else "none" on bare metal; a hypervisor
 * flag with nothing recognisable is "vm-other". */
static char *virtualisation_read(const char *root, const struct cpu_info *cpu)
{
	_cleanup_free_ char *clocks = NULL;
	if (nm_read_line(root, "/sys/devices/system/clocksource/clocksource0/available_clocksource", &clocks) == 0 &&
	    has_flag(clocks, "kvm-clock"))
		return strdup("kvm");
	const char *dmi = virt_from_dmi(root);
	if (dmi)
		return strdup(dmi);
	return strdup(cpu->hypervisor ? "vm-other" : "none");
}

static int machine_facts_fill(const char *root, struct agent_machine_facts *m, struct nm_error *e)
{
	struct cpu_info cpu = {0};
	m->warnings = nm_strv_new();
	m->kernel_modules = nm_strv_new();
	m->ssh_authorized_keys = nm_strv_new();
	if (!m->warnings || !m->kernel_modules || !m->ssh_authorized_keys)
		return -ENOMEM;
	if (cpu_info_read(root, &cpu, &m->warnings) < 0)
		return -ENOMEM;
	m->cpu_vendor = cpu_vendor_name(cpu.vendor_id);
	m->virtualisation = virtualisation_read(root, &cpu);
	if (!m->virtualisation || (cpu.vmx && nm_strv_push(&m->kernel_modules, "kvm-intel") < 0) ||
	    (cpu.svm && nm_strv_push(&m->kernel_modules, "kvm-amd") < 0))
		return -ENOMEM;
	return agent_rescue_keys_read(root, m, e);
}

int agent_machine_facts_read(const char *root, struct agent_machine_facts *m, struct nm_error *e)
{
	*m = (struct agent_machine_facts){0};
	int r = machine_facts_fill(root, m, e);
	if (r >= 0)
		return 0;
	if (r == -ENOMEM)
		nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "machine facts: out of memory");
	agent_machine_facts_free(m);
	return r;
}

void agent_machine_facts_free(struct agent_machine_facts *m)
{
	if (!m)
		return;
	free(m->cpu_vendor);
	free(m->virtualisation);
	nm_strv_free(m->kernel_modules);
	nm_strv_free(m->ssh_authorized_keys);
	free(m->ssh_keys_refused);
	nm_strv_free(m->warnings);
	*m = (struct agent_machine_facts){0};
}

json_object *agent_machine_facts_to_json(const struct agent_machine_facts *m, char *const *initrd_modules,
					 json_object *into)
{
	json_object_object_add(into, "cpu_vendor", m->cpu_vendor ? json_object_new_string(m->cpu_vendor) : NULL);
	json_object_object_add(into, "virtualisation",
			       m->virtualisation ? json_object_new_string(m->virtualisation) : NULL);
	json_object_object_add(into, "initrd_modules", nm_json_strv(initrd_modules));
	json_object_object_add(into, "kernel_modules", nm_json_strv(m->kernel_modules));
	json_object_object_add(into, "ssh_authorized_keys", nm_json_strv(m->ssh_authorized_keys));
	return into;
}
