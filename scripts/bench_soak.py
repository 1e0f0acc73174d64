#!/usr/bin/env python3
"""Soak: steady mixed load for an hour; is anything creeping up? (Not run in CI.)

    scripts/soak                                  # 60 min at 20 req/s, embedded shape (as ./scripts/run)
    scripts/soak --shape production               # gunicorn --preload, machine Postgres + Redis
    scripts/soak --minutes 10 --rate 30           # shorter, busier
    scripts/soak --url http://127.0.0.1:8090 --key stw_... --pid PID --database-url postgresql://...

The same mix and open-loop generator as scripts/load (see scripts/loadgen.py). Every --sample
seconds (60) one row: requests and errors in the interval, their p50/p99, Steward's RSS (the
whole process tree) and its anonymous part (heap and stacks, where a leak shows; the rest is
file-backed, such as Qdrant Edge's memory-mapped segments, which grow with the stored vectors),
its open file descriptors (/proc/<pid>/fd), the database's connections (pg_stat_activity for
Steward's database), the CPU of Steward and of its database backends (100 = one core) and the
1-minute load average. At the end: the drift from the first sample
after --warmup minutes (5, at most half the run; cached results live 5 minutes, so RSS climbs
until then) to the last, with least-squares slopes. "flat" means anonymous RSS under
--rss-slope-mb MB per hour (20) and fds and connections within +-2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen  # noqa: E402

COLUMNS = (
    f"{'min':>6} {'sent':>6} {'err':>4} {'p50 ms':>7} {'p99 ms':>7} {'RSS MB':>7} {'anon MB':>7} {'fds':>5} "
    f"{'db conns':>8} {'app%':>5} {'db%':>5} "
    f"{'load1':>5}"
)


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minutes, value), per hour."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return 60 * sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


async def soak(target: loadgen.Target, args: argparse.Namespace) -> int:
    print(loadgen.header(target), flush=True)
    client, chats = loadgen.seed(target, memories=args.seed_memories, chats=args.chats)
    mix = loadgen.Mix(args.mix, client, chats)
    warmup = min(args.warmup, args.minutes / 2)
    print(
        f"mix: {args.mix}; {args.rate:g} req/s for {args.minutes:g} min, a sample every {args.sample:g} s, "
        f"drift measured after {warmup:g} min",
        flush=True,
    )
    if not target.pid:
        print("note: no --pid, so no RSS or fds")
    print(COLUMNS, flush=True)
    stop = asyncio.Event()
    analyzer = loadgen.analyze_like_autovacuum(target)
    async with loadgen.new_client(target, args.connections, args.timeout) as http:
        results: list[loadgen.Result] = []  # filled by the one long open-loop run as answers come
        started = time.monotonic()
        runner = asyncio.create_task(
            loadgen.run_rate(
                http, mix, args.rate, args.minutes * 60, stop=stop, out=results, connections=args.connections
            )
        )
        samples: list[dict] = []
        seen = 0
        steward = loadgen.tree(target.pid) if target.pid else []
        cpu = (loadgen.cpu_seconds(steward), loadgen.cpu_seconds(target.db_pids()))
        last = started
        while not runner.done():
            elapsed = time.monotonic() - started
            next_at = (len(samples) + 1) * args.sample
            if next_at > args.minutes * 60 + 0.5:
                await runner
                break
            await asyncio.sleep(max(0.0, next_at - elapsed))
            fresh, seen = results[seen:], len(results)
            pids = loadgen.tree(target.pid) if target.pid else []
            now, was = time.monotonic(), cpu
            cpu = (loadgen.cpu_seconds(pids), loadgen.cpu_seconds(target.db_pids()))
            span, last = max(now - last, 1e-6), now
            sample = {
                "minute": (time.monotonic() - started) / 60,
                "sent": len(fresh),
                "errors": sum(not r.ok for r in fresh),
                "p50": loadgen.percentile([r.latency_ms for r in fresh], 50),
                "p99": loadgen.percentile([r.latency_ms for r in fresh], 99),
                "rss": loadgen.rss_mb(pids) if pids else None,
                "anon": loadgen.anon_mb(pids) if pids else None,
                "fds": loadgen.open_fds(pids) if pids else None,
                "conns": await asyncio.to_thread(loadgen.db_connections, target.database_url),
                "load1": os.getloadavg()[0],
                "app": 100 * (cpu[0] - was[0]) / span if pids else None,
                "db": 100 * (cpu[1] - was[1]) / span,
            }
            samples.append(sample)
            if not target.alive():
                print(f"the server exited; see {target.log}")
                stop.set()
            print(
                f"{sample['minute']:>6.2f} {sample['sent']:>6} {sample['errors']:>4} {sample['p50']:>7.1f} "
                f"{sample['p99']:>7.1f} {loadgen.fmt(sample['rss'], '.1f'):>7} {loadgen.fmt(sample['anon'], '.1f'):>7} "
                f"{loadgen.fmt(sample['fds'], 'd'):>5} {loadgen.fmt(sample['conns'], 'd'):>8} "
                f"{loadgen.fmt(sample['app']):>5} {loadgen.fmt(sample['db']):>5} "
                f"{sample['load1']:>5.2f}",
                flush=True,
            )
        stop.set()
        await runner
    if analyzer:
        analyzer.cancel()
    total = loadgen.summary(results, args.minutes * 60)
    kinds = f" {total['error_kinds']}" if total["errors"] else ""
    print(
        f"\ntotal: {total['sent']} requests, {total['errors']} errors{kinds}, "
        f"p50 {total['p50']:.1f} ms, p99 {total['p99']:.1f} ms"
    )
    after = [s for s in samples if s["minute"] >= warmup] or samples[-1:]
    if len(after) < 2:
        print("too few samples after warm-up for a drift; run longer or sample more often")
        return 0
    first, last = after[0], after[-1]
    lines, flat = [], True
    for key, label in (("rss", "RSS MB"), ("anon", "anon RSS MB"), ("fds", "open fds"), ("conns", "db connections")):
        if first[key] is None or last[key] is None:
            lines.append(f"  {label:<15} n/a")
            continue
        change = last[key] - first[key]
        slope = slope_per_hour([(s["minute"], s[key]) for s in after if s[key] is not None])
        ok = slope < args.rss_slope_mb if key in ("rss", "anon") else abs(change) <= 2
        flat &= ok or key == "rss"  # file-backed pages (vector segments) grow with the data
        lines.append(
            f"  {label:<15} {first[key]:>8.1f} -> {last[key]:>8.1f}  change {change:+.1f}  "
            f"slope {slope:+.1f}/hour  {'flat' if ok else 'GROWING'}"
        )
    print(f"drift from minute {first['minute']:.1f} to {last['minute']:.1f}:")
    print("\n".join(lines))
    print(f"verdict: {'flat' if flat else 'not flat'}; {loadgen.header(target).splitlines()[1]}")
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    loadgen.add_target_arguments(parser)
    load = parser.add_argument_group("soak")
    load.add_argument("--minutes", type=float, default=60)
    load.add_argument("--rate", type=float, default=20, help="req/s, steady (default 20)")
    load.add_argument("--sample", type=float, default=60, help="seconds between samples")
    load.add_argument("--warmup", type=float, default=5, help="minutes before drift is measured (at most half)")
    load.add_argument("--rss-slope-mb", type=float, default=20, help="anonymous RSS MB per hour still called flat")
    load.add_argument("--mix", default=loadgen.DEFAULT_MIX)
    load.add_argument("--connections", type=int, default=64)
    load.add_argument("--timeout", type=float, default=30)
    load.add_argument("--seed-memories", type=int, default=200)
    load.add_argument("--chats", type=int, default=8)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    loadgen.stop_on_sigterm()
    target = loadgen.open_target(args)
    try:
        return asyncio.run(soak(target, args))
    finally:
        target.stop()


if __name__ == "__main__":
    raise SystemExit(main())
