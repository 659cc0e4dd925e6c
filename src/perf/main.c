/* SPDX-License-Identifier: MIT */
/*
 * vnvme-perf: the command line (opts.c), then the engine (engine.c: devices,
 * jobs, the I/O loops) runs while the report (report.c) shows its progress,
 * then the report prints what it did.
 */
#include <signal.h>
#include <stdint.h>

#include "perf/engine.h"
#include "perf/opts.h"
#include "perf/report.h"

static void on_sig(int s)
{
	(void)s;
	engine_stop();
}

int main(int argc, char **argv)
{
	static struct opts o; /* 2 KiB of device names: not on the stack */
	static struct result r;
	static struct timeline tl;
	uint64_t t0;
	int ret;

	ret = opts_parse(&o, argc, argv);
	if (ret >= 0)
		return ret;
	engine_calibrate();
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	signal(SIGPIPE, SIG_IGN);
	ret = engine_open(&o);
	if (ret)
		return ret;

	t0 = engine_now_ns();
	engine_start();
	report_progress(&o, t0, &tl);
	engine_wait();

	engine_result(&r);
	report_print(&o, &r, &tl);
	ret = 0;
	if (o.plot && report_plot(&o, &r))
		ret = 1;
	engine_close(&r);
	return (r.errors || r.mismatches || r.fatal || ret) ? 1 : 0;
}
