//go:build linux && cgo

// The first stage of the sandbox runs here, in a C constructor, because it
// must run while the process has a single thread: before the Go runtime and
// V8 start theirs. Capabilities and Landlock apply to the calling thread and
// to threads created afterwards only, so from Go (already multi-threaded,
// and without LANDLOCK_RESTRICT_SELF_TSYNC before Landlock ABI 8) they would
// leave threads unrestricted. runc's nsexec uses the same trick.
//
// It acts only when NATSFN_SANDBOX is set (sandbox.Start sets it); any
// failure ends the process with exit status 125 and one line on stderr,
// because running on without the sandbox would be worse.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_pivot_root
#define SYS_pivot_root 155
#endif

// The Landlock ABI, spelled out here because the system headers may be older
// than the kernel.
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_NET_ALL ((1ULL << 2) - 1)  // bind_tcp, connect_tcp (ABI 4)
#define LL_SCOPE_ALL ((1ULL << 2) - 1) // abstract unix sockets, signals (ABI 6)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

// What Go reads back (sandbox.Enter).
int natsfn_sandbox_ready;
int natsfn_sandbox_landlock_abi;

// The empty root is built on a tmpfs mounted over this directory, which
// exists on every Linux system that can run natsfn.
static const char stage[] = "/proc";

static void fail(const char *what) {
	fprintf(stderr, "natsfn sandbox: %s: %s\n", what, strerror(errno));
	_exit(125);
}

// fs_rights is every file-system right the kernel's Landlock ABI knows.
static uint64_t fs_rights(int abi) {
	if (abi >= 5)
		return (1ULL << 16) - 1; // ... ioctl_dev
	if (abi >= 3)
		return (1ULL << 15) - 1; // ... truncate
	if (abi >= 2)
		return (1ULL << 14) - 1; // ... refer
	return (1ULL << 13) - 1;
}

// empty_root replaces the file system with a read-only tmpfs that holds only
// /dev/urandom (V8 seeds its random numbers, hash seeds and address-space
// layout from it and would fall back to the clock without it).
static void empty_root(void) {
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		fail("make mounts private");
	if (mount("natsfn", stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,nr_inodes=8,mode=0555"))
		fail("mount tmpfs");
	char path[64];
	snprintf(path, sizeof path, "%s/dev", stage);
	if (mkdir(path, 0555))
		fail("mkdir /dev");
	snprintf(path, sizeof path, "%s/dev/urandom", stage);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0444);
	if (fd < 0)
		fail("create /dev/urandom");
	close(fd);
	if (mount("/dev/urandom", path, NULL, MS_BIND, NULL))
		fail("bind /dev/urandom");
	if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL))
		fail("remount /dev/urandom read-only");
	if (chdir(stage))
		fail("chdir to new root");
	// pivot_root(".", ".") stacks the old root on the new one; detaching it
	// leaves only the new root. Nothing of the host's file system stays
	// reachable, not even through "..".
	if (syscall(SYS_pivot_root, ".", "."))
		fail("pivot_root");
	if (umount2(".", MNT_DETACH))
		fail("detach old root");
	if (chdir("/"))
		fail("chdir /");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		fail("remount root read-only");
}

// drop_capabilities leaves no capability in any set, so root in the user
// namespace can no longer mount, change namespaces or configure its network.
static void drop_capabilities(void) {
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			fail("drop bounding capabilities");
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		fail("clear ambient capabilities");
	struct {
		uint32_t version;
		int pid;
	} hdr = {0x20080522, 0}; // _LINUX_CAPABILITY_VERSION_3
	uint32_t data[6] = {0};
	if (syscall(SYS_capset, &hdr, data))
		fail("drop capabilities");
}

// landlock denies every file-system access but reading /dev/urandom, all
// TCP, abstract unix sockets and signals outside the process, as far as the
// kernel's Landlock ABI goes. A kernel without Landlock is not an error: the
// empty root and the seccomp filter stand without it.
static void landlock(void) {
	int abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	if (abi < 1)
		return;
	struct ll_ruleset_attr attr = {.handled_access_fs = fs_rights(abi)};
	size_t size = sizeof attr.handled_access_fs;
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_ALL;
		size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ALL;
		size = sizeof attr;
	}
	int ruleset = syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (ruleset < 0)
		fail("landlock ruleset");
	struct ll_path_beneath_attr urandom = {.allowed_access = LL_FS_READ_FILE};
	urandom.parent_fd = open("/dev/urandom", O_PATH | O_CLOEXEC);
	if (urandom.parent_fd < 0)
		fail("open /dev/urandom");
	if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &urandom, 0))
		fail("landlock rule");
	close(urandom.parent_fd);
	if (syscall(SYS_landlock_restrict_self, ruleset, 0))
		fail("landlock restrict");
	close(ruleset);
	natsfn_sandbox_landlock_abi = abi;
}

__attribute__((constructor)) static void natsfn_sandbox_early(void) {
	const char *mode = getenv("NATSFN_SANDBOX");
	if (mode == NULL)
		return;
	empty_root();
	drop_capabilities();
	// No core dumps (a host core_pattern helper would read tenant memory)
	// and no ptrace by other processes of the same uid.
	struct rlimit zero = {0, 0};
	if (setrlimit(RLIMIT_CORE, &zero) || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		fail("disable core dumps");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		fail("set parent-death signal");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		fail("no_new_privs");
	landlock();
	natsfn_sandbox_ready = 1;
	if (strcmp(mode, "probe") == 0)
		_exit(0);
}
