/* SPDX-License-Identifier: MIT */
/*
 * vnvme-target: emulated NVMe controllers over vfio-user, many per process,
 * from a few polling threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target/config.h"
#include "rpc/path.h"
#include "target/device.h"
#include "target/target.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: vnvme-target [options]\n"
	    "       vnvme-target --config FILE [--cpus LIST]\n"
	    "\n"
	    "Serves emulated NVMe PCIe controllers over vfio-user, one UNIX socket each, from\n"
	    "polling threads. A QEMU >= 10.1 guest attaches one with\n"
	    "  -device "
	    "'{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":PATH,\"type\":\"unix\"}}'\n"
	    "and guest RAM from memory-backend-memfd,share=on (see docs/target.md).\n"
	    "\n"
	    "One controller from flags:\n"
	    "  --socket PATH      vfio-user socket (parent directories are created)\n"
	    "  --backend TYPE     null | ram | file              (default ram)\n"
	    "  --size SIZE        namespace size: 64M, 1G, 4T (default 1G; file: its size), 1M or\n"
	    "                     more, whole LBAs; a size above a file's grows the file\n"
	    "  --file PATH        file or block device for --backend file\n"
	    "  --lba BYTES        512 | 4096                     (default 512)\n"
	    "  --namespaces N     N namespaces alike, 1..32      (default 1)\n"
	    "  --queues N         I/O queue pairs, 1..1024       (default 8)\n"
	    "  --qdepth N         entries per I/O queue, 2..65536 (default 1024)\n"
	    "  --hugepages        back ram namespaces with 2 MiB hugepages, or fail\n"
	    "  --no-hugepages     back ram namespaces with 4 KiB pages (default: hugepages\n"
	    "                     when enough are free in /proc/sys/vm/nr_hugepages)\n"
	    "  --direct           open files with O_DIRECT\n"
	    "  --model JSON|@FILE a device model for these namespaces: added latency,\n"
	    "                     IOPS/bandwidth caps, injected errors (docs/models.md)\n"
	    "  --serial STR       serial number (default: unique per process and controller)\n"
	    "  --pci-id VVVV:DDDD PCI vendor:device              (default 4e58:0001)\n"
	    "  --max-dma-bytes SIZE  guest memory the client may map (default 128G)\n"
	    "  --trace            per-command device timestamps in a table the host maps\n"
	    "                     (BAR2; vnvme-perf --attribute, docs/attribution.md)\n"
	    "Many controllers:\n"
	    "  --config FILE      JSON configuration (schema in docs/target.md)\n"
	    "Both:\n"
	    "  --rpc PATH         serve JSON-RPC on this UNIX socket (mode 0600): create,\n"
	    "                     delete, list controllers, statistics (vnvme-ctl,\n"
	    "                     docs/rpc.md); with it, no controller at start is fine.\n"
	    "                     Default: $VNVME_RPC, else $XDG_RUNTIME_DIR/vnvme/rpc.sock,\n"
	    "                     /run/vnvme/rpc.sock for root, /tmp/vnvme-UID/rpc.sock;\n"
	    "                     skipped (one line) when another target serves it\n"
	    "  --no-rpc           serve no control socket\n"
	    "  --sanitize         check the host's use of the protocol on every controller\n"
	    "                     started here (docs/sanitizer.md); RPC-created ones take\n"
	    "                     \"sanitize\": true\n"
	    "  --cpus LIST        polling threads pinned to these CPUs, e.g. 1 or 0,1 or 0-3\n"
	    "                     (default: one unpinned polling thread)\n"
	    "  --log LEVEL        err | warn | info | debug      (default info)\n"
	    "  --daemonize        run in the background; return once every socket is served\n"
	    "                     (exit 0), or exit 1 with the reason if the target fails\n"
	    "  --pidfile FILE     write the serving process's PID there once ready (removed\n"
	    "                     at exit): kill -USR1 $(cat FILE) prints its counters\n"
	    "  --ready-fd N       write \"ready\\n\" to file descriptor N and close it once\n"
	    "                     every socket is served\n"
	    "  -h, --help         this text\n"
	    "\n"
	    "Readiness: a socket exists once its controller is created and its memory\n"
	    "allocated (seconds for many GiB of RAM); scripts wait with --daemonize or\n"
	    "--ready-fd rather than poll for it.\n"
	    "\n"
	    "Signals: SIGUSR1 prints per-controller and per-queue counters; SIGINT/SIGTERM\n"
	    "stop cleanly (sockets removed, counters printed).\n");
}

static int die_usage(const char *msg, const char *arg)
{
	fprintf(stderr, "vnvme-target: %s%s%s\n(see vnvme-target --help)\n", msg, arg ? ": " : "",
		arg ? arg : "");
	return 2;
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/*
 * The control socket at its default path (rpc/path.h) when none was given:
 * never a reason to fail. Several targets often run on one machine (one per
 * test, one per guest): the first serves the default, the others say so
 * and run without one. A directory of the path that another user owns or
 * may write to (a /tmp fallback made by someone else) is not used.
 */
static void rpc_default(struct target *t)
{
	char path[108], dir[108], err[512];
	struct stat st;
	int ret;

	if (!vn_rpc_default_path(path, sizeof(path))) {
		vn_warn("target: the default control socket path is too long ($VNVME_RPC or "
			"$XDG_RUNTIME_DIR): none served; give --rpc PATH");
		return;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	if (dir[0] && stat(dir, &st) == 0 &&
	    (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))) {
		vn_warn("target: %s belongs to another user or is writable by others: no "
			"control socket served; give --rpc PATH",
			dir);
		return;
	}
	ret = target_rpc_start(t, path, err, sizeof(err));
	if (ret == -EADDRINUSE)
		vn_info("target: another target serves the default control socket %s: this one "
			"has none (give --rpc PATH for one)",
			path);
	else if (ret)
		vn_warn("target: no control socket: %s", err);
	else
		vn_info("target: control socket %s (vnvme-ctl finds it there)", path);
}

static void print_stats(struct target *t)
{
	for (unsigned i = 0; i < t->nr_ctrls; i++)
		vnvme_dev_print_stats(t->ctrls[i].dev, stdout);
	for (unsigned i = 0; i < t->nr_pollers; i++) {
		struct vn_poller_stats st;
		vn_poller_get_stats(t->pollers[i], &st);
		uint64_t tot = st.busy_ns + st.idle_ns;
		printf("poller %s (cpu %d): rounds %llu busy %.1f%% sleeps %llu busy_ns %llu "
		       "idle_ns %llu\n",
		       vn_poller_name(t->pollers[i]), vn_poller_cpu(t->pollers[i]),
		       (unsigned long long)st.rounds,
		       tot ? 100.0 * (double)st.busy_ns / (double)tot : 0.0,
		       (unsigned long long)st.sleeps, (unsigned long long)st.busy_ns,
		       (unsigned long long)st.idle_ns);
	}
	fflush(stdout);
}

static void on_signal(void *arg, uint32_t events)
{
	struct target *t = arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(t->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			print_stats(t);
		} else {
			vn_info("target: signal %u, shutting down", si.ssi_signo);
			vn_evloop_stop(t->loop);
		}
	}
}

/*
 * --backend file with a size above the file's: the backend grows the file
 * (ftruncate). Say so before it happens, so that a typo in --size does not
 * silently turn a 1 GiB image into a 1 TiB sparse one.
 */
static void say_growth(const struct vnvme_target_conf *conf)
{
	for (unsigned i = 0; i < conf->nr_ctrls; i++)
		for (unsigned n = 0; n < conf->ctrls[i].nr_ns; n++) {
			const struct vnvme_ns_conf *ns = &conf->ctrls[i].ns[n];
			struct stat st;

			if (ns->be.type != VN_BE_FILE || !ns->be.size || !ns->be.path)
				continue;
			if (stat(ns->be.path, &st) < 0)
				fprintf(stderr,
					"vnvme-target: %s ns %u: creating %s with %llu bytes\n",
					conf->ctrls[i].socket, n + 1, ns->be.path,
					(unsigned long long)ns->be.size);
			else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < ns->be.size)
				fprintf(
				    stderr,
				    "vnvme-target: %s ns %u: growing %s from %llu to %llu bytes "
				    "(the size asked for; without it the file keeps its size)\n",
				    conf->ctrls[i].socket, n + 1, ns->be.path,
				    (unsigned long long)st.st_size,
				    (unsigned long long)ns->be.size);
		}
}

/*
 * --daemonize: fork before any thread exists. The parent waits on a pipe
 * for the child's "ready" (every controller created, its socket bound) and
 * exits 0, or, if the pipe closes first, exits with the child's status (the
 * child has said why on stderr). Returns in the child, with the pipe's
 * write end; the parent never returns.
 */
static int daemonize(void)
{
	int p[2], st, fd;
	pid_t pid;
	char c;

	fflush(NULL);
	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		fprintf(stderr, "vnvme-target: --daemonize: %s\n", strerror(errno));
		exit(1);
	}
	if (pid) {
		ssize_t n;

		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(0);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : 1);
	}
	close(p[0]);
	setsid();
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	return p[1];
}

/* Every socket is served: the pidfile, then the ready signal. */
static int say_ready(int ready_fd, const char *pidfile)
{
	if (pidfile) {
		FILE *f = fopen(pidfile, "we");
		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f)) {
			fprintf(stderr, "vnvme-target: --pidfile %s: %s\n", pidfile,
				strerror(errno));
			return -1;
		}
	}
	if (ready_fd >= 0) {
		ssize_t n = write(ready_fd, "ready\n", 6);
		close(ready_fd);
		if (n != 6)
			vn_warn("target: --ready-fd: %s", strerror(errno));
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		O_SOCKET = 256,
		O_BACKEND,
		O_SIZE,
		O_FILE,
		O_LBA,
		O_NS,
		O_QUEUES,
		O_QDEPTH,
		O_HUGE,
		O_NOHUGE,
		O_DIRECT_IO,
		O_SERIAL,
		O_PCIID,
		O_CONFIG,
		O_CPUS,
		O_LOG,
		O_MAXDMA,
		O_TRACE,
		O_DAEMON,
		O_PIDFILE,
		O_READYFD,
		O_RPC,
		O_NORPC,
		O_MODEL,
		O_SANITIZE,
	};
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, O_SOCKET},
	    {"backend", required_argument, NULL, O_BACKEND},
	    {"size", required_argument, NULL, O_SIZE},
	    {"file", required_argument, NULL, O_FILE},
	    {"lba", required_argument, NULL, O_LBA},
	    {"namespaces", required_argument, NULL, O_NS},
	    {"queues", required_argument, NULL, O_QUEUES},
	    {"qdepth", required_argument, NULL, O_QDEPTH},
	    {"hugepages", no_argument, NULL, O_HUGE},
	    {"no-hugepages", no_argument, NULL, O_NOHUGE},
	    {"direct", no_argument, NULL, O_DIRECT_IO},
	    {"serial", required_argument, NULL, O_SERIAL},
	    {"pci-id", required_argument, NULL, O_PCIID},
	    {"config", required_argument, NULL, O_CONFIG},
	    {"cpus", required_argument, NULL, O_CPUS},
	    {"log", required_argument, NULL, O_LOG},
	    {"max-dma-bytes", required_argument, NULL, O_MAXDMA},
	    {"trace", no_argument, NULL, O_TRACE},
	    {"daemonize", no_argument, NULL, O_DAEMON},
	    {"pidfile", required_argument, NULL, O_PIDFILE},
	    {"ready-fd", required_argument, NULL, O_READYFD},
	    {"rpc", required_argument, NULL, O_RPC},
	    {"no-rpc", no_argument, NULL, O_NORPC},
	    {"model", required_argument, NULL, O_MODEL},
	    {"sanitize", no_argument, NULL, O_SANITIZE},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct vnvme_target_conf conf = {0};
	struct vnvme_dev_conf one;
	const char *config = NULL, *pidfile = NULL, *rpc = NULL;
	bool size_set = false, daemon = false, pid_written = false, no_rpc = false,
	     sanitize = false;
	int ready_fd = -1;
	struct target t = {.sigfd = -1};
	char err[512] = "";
	char *model = NULL; /* --model's canonical text */
	int opt, ret = 1, cpus[VN_MAX_CPUS];
	unsigned nr_cpus = 0;
	uint32_t nr_ns = 1;
	sigset_t mask;

	vn_dev_conf_defaults(&one);
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case O_SOCKET:
			if (strlen(optarg) >= sizeof(one.socket))
				return die_usage("socket path too long (108 bytes at most)",
						 optarg);
			snprintf(one.socket, sizeof(one.socket), "%s", optarg);
			break;
		case O_BACKEND:
			if (!strcmp(optarg, "null"))
				one.ns[0].be.type = VN_BE_NULL;
			else if (!strcmp(optarg, "ram"))
				one.ns[0].be.type = VN_BE_RAM;
			else if (!strcmp(optarg, "file"))
				one.ns[0].be.type = VN_BE_FILE;
			else
				return die_usage("--backend wants null, ram or file", optarg);
			break;
		case O_SIZE:
			if (vn_parse_size(optarg, &one.ns[0].be.size) || !one.ns[0].be.size)
				return die_usage("--size wants a size such as 512M, 1G or 4T",
						 optarg);
			size_set = true;
			break;
		case O_FILE:
			one.ns[0].be.path = optarg;
			break;
		case O_LBA:
			if (parse_u32(optarg, 512, 4096, &one.ns[0].lba_size) ||
			    (one.ns[0].lba_size != 512 && one.ns[0].lba_size != 4096))
				return die_usage("--lba wants 512 or 4096", optarg);
			break;
		case O_NS:
			if (parse_u32(optarg, 1, NVME_MAX_NS, &nr_ns))
				return die_usage("--namespaces wants 1..32", optarg);
			break;
		case O_QUEUES:
			if (parse_u32(optarg, 1, NVME_MAX_QUEUES, &one.queues))
				return die_usage("--queues wants 1..1024", optarg);
			break;
		case O_QDEPTH:
			if (parse_u32(optarg, 2, 65536, &one.qdepth))
				return die_usage("--qdepth wants 2..65536", optarg);
			break;
		case O_HUGE:
			one.ns[0].be.hugepages = true;
			one.ns[0].be.no_hugepages = false;
			break;
		case O_NOHUGE:
			one.ns[0].be.hugepages = false;
			one.ns[0].be.no_hugepages = true;
			break;
		case O_DIRECT_IO:
			one.ns[0].be.direct = true;
			break;
		case O_SERIAL:
			if (strlen(optarg) > 20)
				return die_usage("--serial: 20 characters at most", optarg);
			snprintf(one.serial, sizeof(one.serial), "%s", optarg);
			break;
		case O_PCIID: {
			unsigned v, d;
			if (sscanf(optarg, "%x:%x", &v, &d) != 2 || v > 0xffff || d > 0xffff)
				return die_usage("--pci-id wants VVVV:DDDD in hex", optarg);
			one.vendor = (uint16_t)v;
			one.device = (uint16_t)d;
			break;
		}
		case O_MAXDMA:
			if (vn_parse_size(optarg, &one.max_dma_bytes) || !one.max_dma_bytes)
				return die_usage("--max-dma-bytes wants a size such as 64G",
						 optarg);
			break;
		case O_TRACE:
			one.trace = true;
			break;
		case O_CONFIG:
			config = optarg;
			break;
		case O_CPUS:
			if (vn_parse_cpus(optarg, cpus, VN_MAX_CPUS, &nr_cpus))
				return die_usage("--cpus wants a list such as 1, 0,2 or 0-3",
						 optarg);
			break;
		case O_LOG: {
			enum vn_log_level l;
			if (vn_log_parse_level(optarg, &l))
				return die_usage("--log wants err, warn, info or debug", optarg);
			vn_log_set_level(l);
			break;
		}
		case O_DAEMON:
			daemon = true;
			break;
		case O_PIDFILE:
			pidfile = optarg;
			break;
		case O_READYFD: {
			uint32_t fd;
			if (parse_u32(optarg, 3, 1023, &fd) || fcntl((int)fd, F_GETFD) < 0)
				return die_usage(
				    "--ready-fd wants an open file descriptor, 3 or more", optarg);
			ready_fd = (int)fd;
			break;
		}
		case O_RPC:
			if (!optarg[0] || strlen(optarg) >= sizeof(conf.rpc))
				return die_usage("--rpc wants a socket path (107 bytes at most)",
						 optarg);
			rpc = optarg;
			break;
		case O_NORPC:
			no_rpc = true;
			break;
		case O_MODEL:
			free(model);
			model = NULL;
			if (vn_model_canon_text(optarg, &model, err, sizeof(err))) {
				fprintf(stderr, "vnvme-target: --model: %s\n", err);
				return 2;
			}
			one.ns[0].model = model;
			break;
		case O_SANITIZE:
			sanitize = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		return die_usage("unexpected argument", argv[optind]);
	if (rpc && no_rpc)
		return die_usage("--rpc and --no-rpc exclude each other", NULL);

	if (config) {
		if (one.socket[0])
			return die_usage("--config and --socket exclude each other", NULL);
		if (model)
			return die_usage("--model is for --socket's namespaces: with --config, "
					 "give a namespace \"model\"",
					 NULL);
		if (vn_conf_load_json(config, &conf, err, sizeof(err))) {
			fprintf(stderr, "vnvme-target: %s\n", err);
			return 1;
		}
	} else if (!one.socket[0] && rpc) {
		/* Controllers come later, through the control socket. */
	} else {
		if (!one.socket[0])
			return die_usage("no controller: give --socket PATH, --config FILE or "
					 "--rpc PATH",
					 NULL);
		if (one.ns[0].be.type == VN_BE_FILE) {
			if (!one.ns[0].be.path)
				return die_usage("--backend file needs --file PATH", NULL);
			if (!size_set)
				one.ns[0].be.size = 0; /* the file's own size */
		} else if (one.ns[0].be.path) {
			return die_usage("--file needs --backend file", NULL);
		}
		if (nr_ns > 1 && one.ns[0].be.type == VN_BE_FILE)
			return die_usage("--namespaces > 1 with a file backend: use --config",
					 NULL);
		one.nr_ns = nr_ns;
		for (uint32_t i = 1; i < nr_ns; i++)
			one.ns[i] = one.ns[0];
		conf.ctrls = calloc(1, sizeof(*conf.ctrls));
		if (!conf.ctrls)
			return 1;
		conf.ctrls[0] = one;
		conf.nr_ctrls = 1; /* paths point into argv: free(conf.ctrls) only */
	}
	if (sanitize) /* the controllers made at start, from flags or the file */
		for (unsigned i = 0; i < conf.nr_ctrls; i++)
			conf.ctrls[i].sanitize = true;
	if (rpc)
		snprintf(conf.rpc, sizeof(conf.rpc), "%s", rpc);
	if (nr_cpus) {
		memcpy(conf.cpus, cpus, nr_cpus * sizeof(cpus[0]));
		conf.nr_cpus = nr_cpus;
	}
	if (!conf.nr_cpus) {
		conf.cpus[0] = -1;
		conf.nr_cpus = 1;
	}
	if (vn_conf_check(&conf, err, sizeof(err))) {
		fprintf(stderr, "vnvme-target: %s\n", err);
		goto out;
	}
	say_growth(&conf);
	if (daemon) {
		if (ready_fd >= 0)
			close(ready_fd);
		ready_fd = daemonize();
	}

	/* Signals go through the control loop (signalfd). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	t.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	vn_qsbr_init(&t.qsbr);
	if (t.sigfd < 0 || vn_evloop_create(&t.loop) ||
	    vn_evloop_add(t.loop, t.sigfd, EPOLLIN, on_signal, &t, &t.sigev)) {
		fprintf(stderr, "vnvme-target: cannot set up the control loop: %s\n",
			strerror(errno));
		goto out;
	}
	for (unsigned i = 0; i < conf.nr_cpus; i++) {
		char name[16];
		snprintf(name, sizeof(name), "vnvme-poll%u", i);
		if (vn_poller_create(conf.cpus[i], &t.qsbr, name, &t.pollers[i])) {
			fprintf(stderr, "vnvme-target: cannot start polling thread %u\n", i);
			goto out;
		}
		t.nr_pollers++;
	}
	memcpy(t.cpus, conf.cpus, sizeof(t.cpus));
	for (unsigned i = 0; i < conf.nr_ctrls; i++) {
		if (target_add_ctrl(&t, &conf.ctrls[i], err, sizeof(err))) {
			fprintf(stderr, "vnvme-target: controller %u: %s\n", i, err);
			goto out;
		}
	}
	if (conf.rpc[0] && target_rpc_start(&t, conf.rpc, err, sizeof(err))) {
		fprintf(stderr, "vnvme-target: %s\n", err);
		goto out;
	}
	if (!conf.rpc[0] && !no_rpc)
		rpc_default(&t);
	vn_info("target: %u controller(s) on %u polling thread(s); SIGUSR1 prints counters",
		t.nr_ctrls, t.nr_pollers);
	if (say_ready(ready_fd, pidfile))
		goto out;
	ready_fd = -1;
	pid_written = pidfile != NULL;
	ret = vn_evloop_run(t.loop);
	print_stats(&t);
out:
	target_del_all(&t); /* the control socket last: once it is gone, all is */
	target_rpc_stop(&t);
	for (unsigned i = 0; i < t.nr_pollers; i++)
		vn_poller_destroy(t.pollers[i]);
	if (t.loop) {
		vn_evloop_del(t.loop, t.sigev);
		vn_evloop_destroy(t.loop);
	}
	if (t.sigfd >= 0)
		close(t.sigfd);
	vn_qsbr_destroy(&t.qsbr);
	if (pid_written)
		unlink(pidfile);
	if (config)
		vn_conf_free(&conf);
	else
		free(conf.ctrls);
	free(model);
	return ret ? 1 : 0;
}
