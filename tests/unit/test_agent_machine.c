/* test_net_machine.c: agent_machine_facts_read on the fixture trees (boot mode, CPU vendor, KVM
 * module, virtualisation, initrd modules, SSH keys with a malformed line) and, on a tree built
 * here, each initrd-module rule of nixos-generate-config and each virtualisation clue. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "sysfs_tree.h"

static void read_fixture(const char *name, struct agent_machine_facts *m)
{
	char root[512];
	struct nm_error e = {0};
	fixture_root(name, root, sizeof root);
	if (agent_machine_facts_read(root, m, &e) < 0)
		fail_msg("%s: %s", name, e.msg);
}

static void onboard_fixture_facts(void **state)
{
	struct agent_machine_facts m;
	read_fixture("nvme-onboard", &m);
	assert_string_equal(m.cpu_vendor, "intel");
	assert_string_equal(m.virtualisation, "none");
	assert_int_equal(nm_strv_len(m.kernel_modules), 1);
	assert_string_equal(m.kernel_modules[0], "kvm-intel");
	assert_int_equal(nm_strv_len(m.ssh_authorized_keys), 2);
	assert_true(strncmp(m.ssh_authorized_keys[0], "ssh-ed25519 AAAAC3", 18) == 0);
	assert_true(strncmp(m.ssh_authorized_keys[1], "ecdsa-sha2-nistp256 ", 20) == 0);
	assert_true(has_warning(m.warnings, "/root/.ssh/authorized_keys line 3 skipped"));
	assert_int_equal(nm_strv_len(m.warnings), 1);
	agent_machine_facts_free(&m);
}

static void amd_fixture_facts(void **state)
{
	struct agent_machine_facts m;
	read_fixture("sata-pcie-bmc", &m);
	assert_string_equal(m.cpu_vendor, "amd");
	assert_string_equal(m.virtualisation, "none");
	assert_int_equal(nm_strv_len(m.kernel_modules), 1);
	assert_string_equal(m.kernel_modules[0], "kvm-amd");
	assert_int_equal(nm_strv_len(m.ssh_authorized_keys), 1);
	/* options kept, the CR of a Windows line end gone */
	assert_non_null(strstr(m.ssh_authorized_keys[0], "from=\"198.51.100.0/24\",no-agent-forwarding ssh-ed25519 "));
	assert_null(strchr(m.ssh_authorized_keys[0], '\r'));
	agent_machine_facts_free(&m);
}

static void uefi_fixture_facts(void **state)
{
	struct agent_machine_facts m;
	read_fixture("uefi-multifunction", &m);
	assert_string_equal(m.cpu_vendor, "intel");
	assert_int_equal(nm_strv_len(m.kernel_modules), 0); /* VT-x switched off: no vmx flag */
	assert_int_equal(nm_strv_len(m.ssh_authorized_keys), 1);
	agent_machine_facts_free(&m);
}

static void odd_fixture_facts_warn(void **state)
{
	struct agent_machine_facts m;
	read_fixture("odd-sysfs", &m);
	assert_null(m.cpu_vendor);
	assert_string_equal(m.virtualisation, "none");
	assert_true(has_warning(m.warnings, "cannot read /proc/cpuinfo"));
	assert_true(has_warning(m.warnings, "cannot read /root/.ssh/authorized_keys"));
	char *modules[] = {"virtio_pci", NULL}; /* the disk inventory's, passed through */
	json_object *o = agent_machine_facts_to_json(&m, modules, json_object_new_object());
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			    "{\"cpu_vendor\":null,\"virtualisation\":\"none\","
			    "\"initrd_modules\":[\"virtio_pci\"],\"kernel_modules\":[],\"ssh_authorized_keys\":[]}");
	json_object_put(o);
	agent_machine_facts_free(&m);
}

/* ---- a tree built here for the module and virtualisation rules ---- */

static void virtualisation_from_clock_then_dmi(void **state)
{
	struct agent_machine_facts m;
	struct nm_error e = {0};
	put_text("/proc/cpuinfo", "vendor_id\t: GenuineIntel\nflags\t\t: fpu vmx hypervisor\n");
	assert_int_equal(agent_machine_facts_read(tmp, &m, &e), 0);
	assert_string_equal(m.virtualisation, "vm-other"); /* hypervisor flag, nothing else known */
	assert_string_equal(m.kernel_modules[0], "kvm-intel");
	agent_machine_facts_free(&m);
	put_text("/proc/cpuinfo", "vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm hypervisor\n");
	put_text("/sys/class/dmi/id/sys_vendor", "QEMU\n");
	put_text("/sys/class/dmi/id/product_name", "Standard PC (Q35 + ICH9, 2009)\n");
	assert_int_equal(agent_machine_facts_read(tmp, &m, &e), 0);
	assert_string_equal(m.virtualisation, "qemu"); /* QEMU without KVM (TCG) */
	agent_machine_facts_free(&m);
	put_text("/sys/devices/system/clocksource/clocksource0/available_clocksource", "kvm-clock tsc acpi_pm \n");
	assert_int_equal(agent_machine_facts_read(tmp, &m, &e), 0);
	assert_string_equal(m.virtualisation, "kvm");
	assert_string_equal(m.cpu_vendor, "amd");
	assert_string_equal(m.kernel_modules[0], "kvm-amd");
	agent_machine_facts_free(&m);
	put_text("/proc/cpuinfo", "vendor_id\t: HygonGenuine\nflags\t\t: fpu\n");
	assert_int_equal(agent_machine_facts_read(tmp, &m, &e), 0);
	assert_string_equal(m.cpu_vendor, "HygonGenuine");
	assert_int_equal(nm_strv_len(m.kernel_modules), 0);
	agent_machine_facts_free(&m);
}

static void authorized_keys_skip_bad_lines_by_number(void **state)
{
	put_text("/root/.ssh/authorized_keys",
		 "\n# comment\nssh-rsa "
		 "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDB20KZ8FOdUX2hPecY9d/rDqFRNRTvQhhlEcg08mK11nnnygorl0Px0Uv2evtr"
		 "mzWOv9V7XfU2rcu/XA4zI6YI0Vj0swy9va7zCFEwba9eJtFH4iCT0DdPNxV6LcTMmNWbXU2bW3zjQ0dvt1zxiqsUA+c/"
		 "iu3wsvj6dimTC3wy"
		 "2w== op@rsa\nssh-dss AAAA old@key\n   \nnot a key at all");
	struct agent_machine_facts m;
	struct nm_error e = {0};
	assert_int_equal(agent_machine_facts_read(tmp, &m, &e), 0);
	assert_int_equal(nm_strv_len(m.ssh_authorized_keys), 1);
	assert_true(strncmp(m.ssh_authorized_keys[0], "ssh-rsa AAAAB3", 14) == 0);
	assert_true(has_warning(m.warnings, "line 4 skipped: ssh key: unknown key type 'ssh-dss'"));
	assert_true(has_warning(m.warnings, "line 6 skipped"));
	assert_false(has_warning(m.warnings, "line 2 "));
	agent_machine_facts_free(&m);
}

/* Random bytes (fixed seeds) in every file the machine facts parse: 0 and valid JSON each time
 * (run under ASan/UBSan to catch overreads). */
static void garbage_files_never_crash(void **state)
{
	static const char *const files[] = {"/proc/cpuinfo", "/root/.ssh/authorized_keys",
					    "/sys/class/dmi/id/sys_vendor",
					    "/sys/devices/system/clocksource/clocksource0/available_clocksource"};
	for (unsigned seed = 1; seed <= 40; seed++) {
		srandom(seed);
		for (size_t f = 0; f < NM_ELEMENTSOF(files); f++)
			put_garbage(files[f]);
		struct agent_machine_facts m;
		struct nm_error e = {0};
		assert_int_equal(agent_machine_facts_read(tmp, &m, &e), 0);
		json_object *o = agent_machine_facts_to_json(&m, NULL, json_object_new_object());
		json_object *back = json_tokener_parse(json_object_to_json_string(o));
		assert_non_null(back);
		json_object_put(back);
		json_object_put(o);
		agent_machine_facts_free(&m);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, tree_make, tree_remove)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(onboard_fixture_facts),
	    cmocka_unit_test(amd_fixture_facts),
	    cmocka_unit_test(uefi_fixture_facts),
	    cmocka_unit_test(odd_fixture_facts_warn),
	    T(virtualisation_from_clock_then_dmi),
	    T(authorized_keys_skip_bad_lines_by_number),
	    T(garbage_files_never_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
