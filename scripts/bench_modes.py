#!/usr/bin/env python3
"""Benchmark processing modes: POST /api/v1/planner/plan in `fast` vs `default` against one provider.

Both modes run through the whole stack (HTTP, auth, recall of similar plans, prompt rendering,
the LLM call, DAG validation, Postgres writes) against the same provider: by default the local
fake OpenAI server with a per-model latency (a small fast model and a slower big one, as with a
real provider), or a real OpenAI-compatible endpoint with --base-url. Each request has a unique
intent and reuse is off, so every request reaches the provider. Prints a table; not a test.

Usage: .venv/bin/python scripts/bench_modes.py [--requests 20] [--fast-delay 0.08] [--default-delay 0.35]
       [--base-url URL --api-key KEY --model M --fast-model F] [--database ADMIN_URL]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "extensions"))
sys.path.insert(0, str(ROOT / "tests"))

from fakes.openai_server import FakeOpenAI  # noqa: E402
from steward.app import create_app  # noqa: E402
from steward.core import auth, migrations, prompts  # noqa: E402
from steward.core.config import Settings  # noqa: E402


def sop_answer(body: dict) -> dict:
    steps = 6 if body.get("max_tokens", 0) > 2000 else 4
    return {
        "title": "Benchmark plan",
        "summary": "A plan",
        "risks": ["none"],
        "assumptions": ["none"],
        "steps": [
            {
                "key": f"s{i}",
                "title": f"Step {i}",
                "estimate_minutes": 30,
                "role": "consultant",
                "deliverable": f"d{i}",
                "depends_on": [f"s{i - 1}"] if i > 1 else [],
            }
            for i in range(1, steps + 1)
        ],
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20, help="requests per mode")
    parser.add_argument("--fast-delay", type=float, default=0.08, help="fake provider latency of the fast model (s)")
    parser.add_argument("--default-delay", type=float, default=0.35, help="fake provider latency of the big model (s)")
    parser.add_argument("--base-url", help="a real OpenAI-compatible endpoint instead of the fake")
    parser.add_argument("--api-key", default="not-needed")
    parser.add_argument("--model", default="big-model")
    parser.add_argument("--fast-model", default="small-model")
    parser.add_argument(
        "--database",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a Postgres server where a throwaway database may be created",
    )
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    fake = None
    base_url = args.base_url
    if base_url is None:
        fake = FakeOpenAI(latency={args.model: args.default_delay, args.fast_model: args.fast_delay}).start()
        fake.responder = sop_answer
        base_url = fake.url

    name = f"steward_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.database, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(args.database, dbname=name)
    server = app = None
    try:
        migrations.migrate(url)
        prompts.seed(url)
        with psycopg.connect(url) as conn:
            _, key = auth.create_key(conn, "bench", ["read", "write"])
        settings = Settings(
            _env_file=None,
            database_url=url,
            steward_first_run_key=False,  # type: ignore[call-arg]
            steward_data_dir=ROOT / "var" / "bench",
            llm_base_url=base_url,
            llm_api_key=args.api_key,
            llm_model=args.model,
            llm_model_fast=args.fast_model,
            llm_cache_ttl_seconds=0,
            llm_daily_budget_usd=0,
        )
        app = create_app(settings)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        session = requests.Session()
        session.headers["X-API-Key"] = key
        endpoint = f"http://127.0.0.1:{server.server_port}/api/v1/planner/plan"

        def plan(mode: str, i: int) -> float:
            body = {
                "intent": f"Benchmark intent {uuid.uuid4().hex} #{i}",
                "client_id": f"bench-{mode}",
                "reuse": False,
                "processing": {"mode": mode},
            }
            started = time.perf_counter()
            resp = session.post(
                endpoint, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=120
            )
            elapsed = time.perf_counter() - started
            if resp.status_code != 201:
                raise SystemExit(f"{mode} request failed: {resp.status_code} {resp.text[:300]}")
            return elapsed * 1000

        for mode in ("fast", "default"):  # warm-up: the embedder loads, connections open
            plan(mode, -1)
        results: dict[str, list[float]] = {"fast": [], "default": []}
        for i in range(args.requests):  # interleaved so both modes see the same machine load
            for mode in ("fast", "default"):
                results[mode].append(plan(mode, i))

        with psycopg.connect(url) as conn:
            llm_ms = {
                row[0]: (float(row[1]), int(row[2]), int(row[3]))
                for row in conn.execute(
                    """SELECT mode, percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),
                          avg(prompt_tokens)::int, avg(completion_tokens)::int
                     FROM llm_calls WHERE client_id LIKE 'bench-%%' AND created_at > now() - interval '1 hour'
                    GROUP BY mode"""
                )
            }
    finally:
        if server is not None:
            server.shutdown()
        if app is not None:
            if "steward.llm" in app.extensions:
                app.extensions["steward.llm"].close()
            app.extensions["steward"].close()
        if fake is not None:
            fake.stop()
        with psycopg.connect(args.database, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    provider = "fake (local HTTP)" if args.base_url is None else args.base_url
    print(
        f"\nprocessing modes, POST /api/v1/planner/plan end to end, provider: {provider}, "
        f"{args.requests} requests per mode\n"
    )
    header = (
        f"{'mode':<8} {'model':<14} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'LLM p50 ms':>11} "
        f"{'steward p50 ms':>15} {'prompt tok':>11} {'compl tok':>10}"
    )
    print(header)
    print("-" * len(header))
    models = {"fast": args.fast_model, "default": args.model}
    for mode in ("fast", "default"):
        values = results[mode]
        llm_p50, prompt_tok, completion_tok = llm_ms.get(mode, (0.0, 0, 0))
        p50 = statistics.median(values)
        print(
            f"{mode:<8} {models[mode]:<14} {p50:>8.1f} {percentile(values, 0.95):>8.1f} "
            f"{statistics.fmean(values):>8.1f} {llm_p50:>11.1f} {p50 - llm_p50:>15.1f} {prompt_tok:>11} "
            f"{completion_tok:>10}"
        )
    ratio = statistics.median(results["default"]) / statistics.median(results["fast"])
    print(
        f"\nfast is {ratio:.2f}x faster than default at p50 "
        "(steward p50 = end-to-end minus the provider's time: recall, prompt, validation, Postgres)"
    )


if __name__ == "__main__":
    main()
