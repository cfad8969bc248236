/* test_net_sshkeys.c: machine_ssh_key_check accepts real OpenSSH public key lines (generated
 * with ssh-keygen, with and without options) and rejects each kind of damage with a message
 * that says what is wrong. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "netcfg/netcfg.h"

#define ED25519 "AAAAC3NzaC1lZDI1NTE5AAAAIM4vxCVV/zkulRZ+gMIv9zPUXc3XRsZTVZLB9S7oNlOO"
#define NISTP256                                                                                                       \
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNvAHB63sD9cnGbXdXj6aIOPQbULup+"                          \
	"HxdKgeQYwgNFoopkFaSfZEBBc32"                                                                                  \
	"2F7cXWT0tr6hL9g//G/79yHxhntUs="
#define NISTP384                                                                                                       \
	"AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBFrmwy/"                                                  \
	"hwIZKWd7b3FPodAfgN3OLlUB1p1SEQhNzYdWb3WdxQiHmBcncAC"                                                          \
	"d1PdviUQCJrHY4fwrhw8AC7Q38Ms5JF4kJdRMlTImUqc4F1eigeAPmSzJ/KE85pK2Xz4tVwA=="
#define RSA1024                                                                                                        \
	"AAAAB3NzaC1yc2EAAAADAQABAAAAgQDB20KZ8FOdUX2hPecY9d/rDqFRNRTvQhhlEcg08mK11nnnygorl0Px0Uv2evtrmzWOv9V7XfU2rcu/" \
	"XA"                                                                                                           \
	"4zI6YI0Vj0swy9va7zCFEwba9eJtFH4iCT0DdPNxV6LcTMmNWbXU2bW3zjQ0dvt1zxiqsUA+c/iu3wsvj6dimTC3wy2w=="

static void check_ok(const char *line)
{
	struct nm_error e = {0};
	int r = machine_ssh_key_check(line, &e);
	if (r != 0)
		fail_msg("rejected '%s': %s", line, e.msg);
}

static void check_bad(const char *line, const char *why)
{
	struct nm_error e = {0};
	assert_int_equal(machine_ssh_key_check(line, &e), -EINVAL);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	if (!strstr(e.msg, why))
		fail_msg("'%s': message '%s' does not say '%s'", line, e.msg, why);
}

static void ssh_key_check_accepts_real_keys(void **state)
{
	check_ok("ssh-ed25519 " ED25519 " op@laptop");
	check_ok("ssh-ed25519 " ED25519);
	check_ok("  ssh-ed25519\t" ED25519 " comment with spaces\n");
	check_ok("ecdsa-sha2-nistp256 " NISTP256 " ci@runner");
	check_ok("ecdsa-sha2-nistp384 " NISTP384 " op@e384");
	check_ok("ssh-rsa " RSA1024 " op@rsa");
}

static void ssh_key_check_accepts_options(void **state)
{
	check_ok("no-pty,from=\"10.0.0.0/8\" ssh-ed25519 " ED25519 " op@laptop");
	check_ok("command=\"echo hi, there\",no-port-forwarding ssh-rsa " RSA1024);
	check_ok("restrict ecdsa-sha2-nistp256 " NISTP256);
}

static void ssh_key_check_rejects_damage(void **state)
{
	check_bad("", "empty");
	check_bad("# a comment", "comment");
	check_bad("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "unknown key type 'ssh-dss'");
	check_bad("ssh-ed25519", "not followed by the key data");
	check_bad("ssh-ed25519 not*base64! op@x", "not base64");
	check_bad("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM4vxCVV/zkulRZ+gMIv9zPUXc3XRsZTVZLB9S7oNlO", "not base64");
	/* an ed25519 blob labelled as RSA: the embedded type disagrees */
	check_bad("ssh-rsa " ED25519 " op@laptop", "does not hold a 'ssh-rsa' key");
	/* the blob cut after the type string */
	check_bad("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM4v op@laptop", "truncated");
	check_bad("from=\"10.0.0.1 ssh-ed25519 " ED25519, "unbalanced quotes");
	check_bad("AAAAC3NzaC1lZDI1NTE5 ssh-ed25519", "not followed by the key data");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ssh_key_check_accepts_real_keys),
	    cmocka_unit_test(ssh_key_check_accepts_options),
	    cmocka_unit_test(ssh_key_check_rejects_damage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
