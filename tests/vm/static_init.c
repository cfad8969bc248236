/* static_init.c: PID 1 of the libc-free initramfs in tests/vm/static_detect.sh. Mounts the kernel
 * file systems, loads the modules named in /modules.order, waits for the devices in /wait-for, runs
 * every command line of /commands (the static nmmm-agent) between console markers, then powers off.
 * It must stay a tiny static program with no C library in the image: nothing here may exec a shell. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

static void load_modules(void)
{
	FILE *f = fopen("/modules.order", "re");
	char path[512];
	while (f && fgets(path, sizeof path, f)) {
		path[strcspn(path, "\n")] = '\0';
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST))
			printf("static-init: cannot load %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (f)
		fclose(f);
}

/* Devices appear asynchronously after their driver loads; wait up to 30 s for each. */
static void wait_for_devices(void)
{
	FILE *f = fopen("/wait-for", "re");
	char path[512];
	while (f && fgets(path, sizeof path, f)) {
		path[strcspn(path, "\n")] = '\0';
		struct stat st;
		for (int i = 0; i < 300 && stat(path, &st) != 0; i++)
			nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
		if (stat(path, &st) != 0)
			printf("static-init: %s did not appear\n", path);
	}
	if (f)
		fclose(f);
}

/* Splits a command line at spaces (no quoting: the test writes simple lines) and runs it. */
static int run(char *line)
{
	char *argv[32];
	int argc = 0;
	for (char *tok = strtok(line, " \n"); tok && argc < 31; tok = strtok(NULL, " \n"))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (argc == 0)
		return 0;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(void)
{
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	console();
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	load_modules();
	wait_for_devices();

	FILE *f = fopen("/commands", "re");
	char line[1024];
	for (int n = 1; f && fgets(line, sizeof line, f); n++) {
		printf("STATIC-BEGIN %d\n", n);
		int rc = run(line);
		printf("\nSTATIC-END %d rc=%d\n", n, rc);
		fflush(stdout);
	}
	if (f)
		fclose(f);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
