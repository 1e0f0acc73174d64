#!/usr/bin/env python3
"""Load: a mixed non-LLM workload at rising open-loop rates, then a hold at the best one.

    scripts/load                                  # embedded shape (as ./scripts/run), default stages
    scripts/load --shape production               # gunicorn --preload, machine Postgres + Redis
    scripts/load --stages 10,25,50 --duration 20 --hold 60      # shorter
    scripts/load --url http://127.0.0.1:8090 --key stw_...      # a Steward you started (admin key)

The mix (change with --mix): recall 30, remember 10, events POST 15 and GET 15, schedule 10, daily
plan 10, chat quick-add 10 (per cent). Seed data (memories, events, a schedule run, linked chats)
is made through the API first. Each stage sends at a constant rate (--poisson: Poisson arrivals)
for --duration seconds, whatever is outstanding; latency runs from each request's due time to its
answer, so queueing counts (see scripts/loadgen.py). A stage passes with 0 errors and p99 under
--p99-ms (100). Stages stop rising at the first failure; the highest passing rate is then held for
--hold seconds (300), stepping down a stage if the hold fails; unless 50 req/s was a stage, one
more stage at 50 req/s gives the figures at 50. Columns per stage:

    got/s           answered requests per second          lag99    the generator's own p99 lateness
    p50/p95/p99     latency from due time to answer, ms   app%     Steward's CPU (100 = one core)
    app ms/r        Steward CPU ms per request            db ms/r  its Postgres backends' CPU ms per request
    gen%            this generator's CPU                  host%    the whole machine's CPU (200 = 2 cores busy)
    RSS MB          Steward's peak RSS (process tree)     load1    1-minute load average as the stage began

CPU per request is the figure other work on the machine disturbs least; wall-clock percentiles
suffer whenever host% shows the machine busy with more than this benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen  # noqa: E402

COLUMNS = (
    f"{'stage':<6} {'rate/s':>6} {'sent':>6} {'err':>4} {'got/s':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
    f"{'max ms':>7} {'lag99':>6} {'app%':>5} {'app ms/r':>8} {'db ms/r':>7} {'gen%':>5} {'host%':>5} {'RSS MB':>6} "
    f"{'load1':>5} pass"
)


def per_request(seconds: float | None, sent: int) -> str:
    return "n/a" if seconds is None or not sent else f"{1000 * seconds / sent:.1f}"


def row(label: str, rate: float, s: dict, m: dict, passed: bool) -> str:
    return (
        f"{label:<6} {rate:>6g} {s['sent']:>6} {s['errors']:>4} {s['achieved']:>6.1f} {s['p50']:>7.1f} "
        f"{s['p95']:>7.1f} {s['p99']:>7.1f} {s['max']:>7.0f} {s['lag_p99']:>6.1f} {loadgen.fmt(m['steward_cpu']):>5} "
        f"{per_request(m['steward_cpu_s'], s['sent']):>8} {per_request(m['db_cpu_s'], s['sent']):>7} "
        f"{loadgen.fmt(m['gen_cpu']):>5} {loadgen.fmt(m['machine']):>5} {loadgen.fmt(m['rss']):>6} "
        f"{m['load1']:>5.2f} {'yes' if passed else 'NO'}"
    )


async def measure(http, mix, target, rate: float, seconds: float, args) -> tuple[list, dict, dict, bool]:
    meter = loadgen.Meter(target)
    meter.start()
    results, wall = await loadgen.run_rate(http, mix, rate, seconds, poisson=args.poisson, connections=args.connections)
    metrics = meter.stop()
    s = loadgen.summary(results, wall)
    return results, s, metrics, s["errors"] == 0 and s["p99"] < args.p99_ms


async def drive(target: loadgen.Target, args: argparse.Namespace) -> int:
    print(loadgen.header(target), flush=True)
    client, chats = loadgen.seed(target, memories=args.seed_memories, chats=args.chats)
    mix = loadgen.Mix(args.mix, client, chats)
    print(
        f"mix: {args.mix}; seeded {args.seed_memories} memories, {len(chats)} linked chats; p99 goal {args.p99_ms} ms"
    )
    analyzer = loadgen.analyze_like_autovacuum(target)
    async with loadgen.new_client(target, args.connections, args.timeout) as http:
        warmup = min(10.0, args.stages[0])
        await loadgen.run_rate(http, mix, warmup, args.warmup, connections=args.connections)  # loads the model
        print(COLUMNS, flush=True)
        passing: list[float] = []
        at_50 = None
        details: dict[float, list] = {}
        for n, rate in enumerate(args.stages, 1):
            results, s, m, passed = await measure(http, mix, target, rate, args.duration, args)
            print(row(f"S{n}", rate, s, m, passed), flush=True)
            details[rate] = results
            if s["error_kinds"]:
                print(f"       errors: {s['error_kinds']}")
            if rate == 50:
                at_50 = results
            if not target.alive():
                print(f"the server exited during the stage; see {target.log}")
                return 1
            if not passed:
                if not args.keep_going:
                    break
            elif len(passing) == n - 1:
                passing.append(rate)
            await asyncio.sleep(args.pause)
        held = None
        for rate in reversed(passing if args.hold > 0 else []):
            results, s, m, passed = await measure(http, mix, target, rate, args.hold, args)
            print(row("hold", rate, s, m, passed), flush=True)
            if s["error_kinds"]:
                print(f"       errors: {s['error_kinds']}")
            if passed:
                held, details[rate] = rate, results
                break
            if not target.alive():
                print(f"the server exited during the hold; see {target.log}")
                return 1
        if at_50 is None and args.rate_50:
            at_50, s, m, _ = await measure(http, mix, target, 50, args.duration, args)
            print(row("at50", 50, s, m, _), flush=True)
    if analyzer:
        analyzer.cancel()
    if at_50:
        s = loadgen.summary(at_50, 1.0)
        print(
            f"\nat 50 req/s: p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms, p99 {s['p99']:.1f} ms, errors {s['errors']}"
        )
        print("\n".join(loadgen.route_table(at_50)))
    top = held if held is not None else (passing[-1] if passing else None)
    if top is not None and top != 50:
        print(f"\nby route at {top:g} req/s:")
        print("\n".join(loadgen.route_table(details[top])))
    if args.hold > 0:
        verdict = f"{held:g} req/s for {args.hold:g} s" if held is not None else "none (no rate held)"
        print(f"\nhighest rate held with 0 errors and p99 < {args.p99_ms:g} ms: {verdict}")
    else:
        print(f"\nhighest passing stage (no hold run): {passing[-1] if passing else 'none'}")
    print(loadgen.header(target).splitlines()[1].replace("machine:", "machine at the end:"))
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    loadgen.add_target_arguments(parser)
    load = parser.add_argument_group("load")
    load.add_argument("--stages", default="10,25,50,75,100,150,200", help="rates in req/s, rising")
    load.add_argument("--duration", type=float, default=60, help="seconds per stage")
    load.add_argument("--hold", type=float, default=300, help="seconds to hold the best rate (0: skip)")
    load.add_argument("--p99-ms", type=float, default=100)
    load.add_argument("--mix", default=loadgen.DEFAULT_MIX)
    load.add_argument("--poisson", action="store_true", help="Poisson arrivals instead of fixed intervals")
    load.add_argument("--keep-going", action="store_true", help="run every stage even after one fails")
    load.add_argument("--no-rate-50", dest="rate_50", action="store_false", help="no extra 50 req/s stage")
    load.add_argument("--warmup", type=float, default=10, help="seconds of warm-up traffic before stage 1")
    load.add_argument("--pause", type=float, default=2, help="seconds between stages")
    load.add_argument("--connections", type=int, default=64, help="most open connections")
    load.add_argument("--timeout", type=float, default=30, help="per request, seconds (then an error)")
    load.add_argument("--seed-memories", type=int, default=200)
    load.add_argument("--chats", type=int, default=8, help="linked chats the quick-add share rotates over")
    args = parser.parse_args(argv)
    args.stages = [float(s) for s in args.stages.split(",") if s.strip()]
    if not args.stages or args.stages != sorted(args.stages):
        parser.error("--stages: rising rates, e.g. 10,25,50")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    loadgen.stop_on_sigterm()
    target = loadgen.open_target(args)
    try:
        return asyncio.run(drive(target, args))
    finally:
        target.stop()


if __name__ == "__main__":
    raise SystemExit(main())
