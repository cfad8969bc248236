/* test_agent_sshkeys.c: agent_ssh_key_check accepts real OpenSSH public key lines (generated
 * with ssh-keygen, with and without options) and rejects each kind of damage with a message
 * that says what is wrong; a control character in a key is refused from every source (--ssh-key,
 * --ssh-key-file, the rescue's authorized_keys), naming the source and line. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"

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
	int r = agent_ssh_key_check(line, &e);
	if (r != 0)
		fail_msg("rejected '%s': %s", line, e.msg);
}

static void check_bad(const char *line, const char *why)
{
	struct nm_error e = {0};
	assert_int_equal(agent_ssh_key_check(line, &e), -EINVAL);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	if (!strstr(e.msg, why))
		fail_msg("'%s': message '%s' does not say '%s'", line, e.msg, why);
}

static void ssh_key_check_accepts_real_keys(void **state)
{
	check_ok("ssh-ed25519 " ED25519 " op@laptop");
	check_ok("ssh-ed25519 " ED25519);
	check_ok("  ssh-ed25519\t" ED25519 "\tcomment with spaces");
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

/* The key with a line break that would give root a second, unchecked authorized key. */
#define INJECTED "ssh-ed25519 " ED25519 " x\ncommand=\"evil\" ssh-ed25519 " ED25519 " y"

static void ssh_key_check_rejects_control_characters(void **state)
{
	check_bad(INJECTED, "a line break (0x0a)");
	check_bad("ssh-ed25519 " ED25519 " x\n", "a line break (0x0a)");
	check_bad("ssh-ed25519 " ED25519 " x\rcommand=\"evil\" ssh-ed25519 " ED25519, "a carriage return (0x0d)");
	check_bad("ssh-ed25519 " ED25519 " x\x1b[2Jhidden", "a control character (0x1b)");
	check_bad("ssh-ed25519 " ED25519 " x\x01", "a control character (0x01)");
	check_bad("ssh-ed25519 " ED25519 " x\x7f", "a control character (0x7f)");
	check_bad("no-pty,command=\"a\nb\" ssh-ed25519 " ED25519, "a line break");
	/* the tab between fields is part of the format */
	check_ok("ssh-ed25519\t" ED25519 "\tx");
}

static void expect_refused(int r, const struct nm_error *e, const char *source, const char *what)
{
	assert_true(r < 0);
	assert_int_equal(nm_exit_code(e), 2);
	if (!strstr(e->msg, source) || !strstr(e->msg, what))
		fail_msg("message '%s' does not name '%s' and '%s'", e->msg, source, what);
}

static void cli_key_with_control_character_is_refused(void **state)
{
	char *cli[] = {"ssh-ed25519 " ED25519 " good", INJECTED, NULL};
	char **keys = NULL;
	struct nm_error e = {0};
	expect_refused(agent_ssh_keys_gather(NULL, cli, NULL, &keys, &e), &e, "--ssh-key #2", "a line break (0x0a)");
	assert_null(keys);
	/* a line end pasted with the key is only trimmed */
	char *trailing[] = {"ssh-ed25519 " ED25519 " good\r\n", NULL};
	struct nm_error e2 = {0};
	assert_int_equal(agent_ssh_keys_gather(NULL, trailing, NULL, &keys, &e2), 0);
	assert_string_equal(keys[0], "ssh-ed25519 " ED25519 " good");
	nm_strv_free(keys);
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void key_file_line_with_control_character_is_refused(void **state)
{
	char path[] = "/tmp/nmmm-sshkeys-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	static const struct {
		const char *text;
		size_t len;
		const char *what;
	} cases[] = {
	    {"ssh-ed25519 " ED25519 " a\nssh-ed25519 " ED25519 " b\rcommand=\"evil\" ssh-ed25519 " ED25519 "\n", 0,
	     "a carriage return (0x0d)"},
	    {"ssh-ed25519 " ED25519 " a\nssh-ed25519 " ED25519 " b\0command=\"evil\" ssh-ed25519 " ED25519 "\n",
	     2 * sizeof("ssh-ed25519 " ED25519 " a") + sizeof("command=\"evil\" ssh-ed25519 " ED25519) - 1,
	     "a NUL byte (0x00)"},
	    {"ssh-ed25519 " ED25519 " a\nssh-ed25519 " ED25519 " b\x1b]0;x\x07\n", 0, "a control character (0x1b)"},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(cases); i++) {
		write_file(path, cases[i].text, cases[i].len ? cases[i].len : strlen(cases[i].text));
		char **keys = NULL;
		struct nm_error e = {0};
		_cleanup_free_ char *source = nm_strdup_printf("--ssh-key-file %s line 2", path);
		expect_refused(agent_ssh_keys_gather(NULL, NULL, path, &keys, &e), &e, source, cases[i].what);
		assert_null(keys);
	}
	/* CRLF line ends are line ends, not control characters inside a key */
	const char *crlf = "ssh-ed25519 " ED25519 " a\r\nssh-ed25519 " ED25519 " b\r\n";
	write_file(path, crlf, strlen(crlf));
	char **keys = NULL;
	struct nm_error e = {0};
	assert_int_equal(agent_ssh_keys_gather(NULL, NULL, path, &keys, &e), 0);
	assert_int_equal(nm_strv_len(keys), 2);
	nm_strv_free(keys);
	unlink(path);
}

/* The rescue's authorized_keys: detect still works and warns; every use of the keys refuses,
 * naming the file and the line. */
static void rescue_key_line_with_control_character_is_refused(void **state)
{
	char root[] = "/tmp/nmmm-sshkeys-root-XXXXXX";
	assert_non_null(mkdtemp(root));
	_cleanup_free_ char *dir1 = nm_strdup_printf("%s/root", root);
	_cleanup_free_ char *dir2 = nm_strdup_printf("%s/root/.ssh", root);
	_cleanup_free_ char *file = nm_strdup_printf("%s/root/.ssh/authorized_keys", root);
	assert_int_equal(mkdir(dir1, 0700), 0);
	assert_int_equal(mkdir(dir2, 0700), 0);
	static const struct {
		const char *text;
		size_t len;
		const char *what;
	} cases[] = {
	    {"ssh-ed25519 " ED25519 " a\n# note\nssh-ed25519 " ED25519 " b\rcommand=\"evil\" ssh-ed25519 " ED25519 "\n",
	     0, "line 3: a carriage return (0x0d)"},
	    {"ssh-ed25519 " ED25519 " a\n\0command=\"evil\" ssh-ed25519 " ED25519 "\n",
	     sizeof("ssh-ed25519 " ED25519 " a\n") + sizeof("command=\"evil\" ssh-ed25519 " ED25519 "\n") - 1,
	     "line 2: a NUL byte (0x00)"},
	    {"ssh-ed25519 " ED25519 " a\x0b\n", 0, "line 1: a control character (0x0b)"},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(cases); i++) {
		write_file(file, cases[i].text, cases[i].len ? cases[i].len : strlen(cases[i].text));
		struct agent_machine_facts m;
		struct nm_error e = {0};
		assert_int_equal(agent_machine_facts_read(root, &m, &e), 0);
		bool warned = false;
		for (size_t w = 0; m.warnings && m.warnings[w]; w++)
			warned |= strstr(m.warnings[w], cases[i].what) != NULL;
		assert_true(warned);
		for (size_t k = 0; m.ssh_authorized_keys[k]; k++)
			assert_null(strstr(m.ssh_authorized_keys[k], "evil"));
		char *cli[] = {"ssh-ed25519 " ED25519 " good", NULL};
		char **keys = NULL;
		expect_refused(agent_ssh_keys_gather(&m, cli, NULL, &keys, &e), &e, "/root/.ssh/authorized_keys",
			       cases[i].what);
		assert_null(keys);
		agent_machine_facts_free(&m);
	}
	unlink(file);
	rmdir(dir2);
	rmdir(dir1);
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ssh_key_check_accepts_real_keys),
	    cmocka_unit_test(ssh_key_check_accepts_options),
	    cmocka_unit_test(ssh_key_check_rejects_damage),
	    cmocka_unit_test(ssh_key_check_rejects_control_characters),
	    cmocka_unit_test(cli_key_with_control_character_is_refused),
	    cmocka_unit_test(key_file_line_with_control_character_is_refused),
	    cmocka_unit_test(rescue_key_line_with_control_character_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
