"""Load on the HTTP service over loopback (issue: the solver service, item 5).

    python benchmarks/load.py                 # appends to service/load.jsonl, prints the RESULTS.md rows
    python benchmarks/load.py --validations 100 --jobs 20   # a quick look

Starts `wopmatch serve` (2 solve processes) on a free loopback port, then at
concurrency 50: 1,000 validations of the demo round (59 utilities, JSON), and
200 solve jobs of small generated rounds (40 mentees x 12 mentors, optimal),
each followed until it ends. Reports throughput, latency percentiles and error
counts; a 5xx, a job that never ends, or a solution the verifier rejects is
counted, and the script fails on any.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np

    if not values:
        return {}
    a = np.asarray(values) * 1000
    return {f"p{q}": round(float(np.percentile(a, q)), 1) for q in (50, 90, 99)} | {"max": round(float(a.max()), 1)}


async def _timed(client, semaphore, method: str, path: str, **kw):
    async with semaphore:
        t0 = time.perf_counter()
        try:
            r = await client.request(method, path, **kw)
        except Exception as exc:  # a refused or dropped connection counts as an error, not a crash of the script
            return None, time.perf_counter() - t0, repr(exc)
        return r, time.perf_counter() - t0, None


async def run(url: str, token: str, validations: int, jobs: int, concurrency: int) -> dict:
    import httpx

    from wopmatch.generator import generate
    from wopmatch.models import Solution, parse_instance
    from wopmatch.solver import verify_solution

    demo = json.loads((ROOT / "instances" / "demo.json").read_text())
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    sem = asyncio.Semaphore(concurrency)
    out: dict = {"concurrency": concurrency}
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120,
                                 limits=limits) as client:
        # 1. validations
        t0 = time.perf_counter()
        res = await asyncio.gather(*[_timed(client, sem, "POST", "/v1/validate", json=demo)
                                     for _ in range(validations)])
        wall = time.perf_counter() - t0
        codes = [r.status_code if r is not None else 0 for r, _, _ in res]
        out["validations"] = {"requests": validations, "seconds": round(wall, 2),
                              "per_second": round(validations / wall, 1),
                              "latency_ms": percentiles([d for _, d, _ in res]),
                              "ok": codes.count(200), "5xx": sum(c >= 500 for c in codes),
                              "errors": sum(c != 200 for c in codes)}
        print(f"validations: {out['validations']}", flush=True)

        # 2. solve jobs: submit all at once, then follow each to its end
        bodies = [{"instance": generate(40, 12, seed=k), "policy": "optimal", "seed": k} for k in range(jobs)]
        t0 = time.perf_counter()
        res = await asyncio.gather(*[_timed(client, sem, "POST", "/v1/jobs", json=b,
                                            headers={"Idempotency-Key": f"load-{k}"})
                                     for k, b in enumerate(bodies)])
        submit_wall = time.perf_counter() - t0
        codes = [r.status_code if r is not None else 0 for r, _, _ in res]
        ids = [r.json()["id"] for r, _, _ in res if r is not None and r.status_code == 202]
        started = time.perf_counter()
        pending, ended = set(ids), {}
        deadline = time.monotonic() + 1800
        while pending and time.monotonic() < deadline:
            polled = await asyncio.gather(*[_timed(client, sem, "GET", f"/v1/jobs/{j}") for j in sorted(pending)])
            for r, _, _ in polled:
                if r is not None and r.status_code == 200 and r.json()["state"] in ("done", "failed", "cancelled"):
                    job = r.json()
                    ended[job["id"]] = (job, time.perf_counter() - started)
                    pending.discard(job["id"])
            await asyncio.sleep(0.5)
        all_done = time.perf_counter() - t0
        verified = 0
        for k, j in enumerate(ids):
            if j not in ended or ended[j][0]["state"] != "done":
                continue
            r = await client.get(f"/v1/jobs/{j}/solution")
            sol = Solution.model_validate(r.json())
            if not verify_solution(parse_instance(bodies[k]["instance"]), sol):
                verified += 1
        states = [ended[j][0]["state"] for j in ended]
        out["jobs"] = {"submitted": jobs, "accepted": len(ids), "submit_seconds": round(submit_wall, 2),
                       "submit_latency_ms": percentiles([d for _, d, _ in res]),
                       "submit_5xx": sum(c >= 500 for c in codes), "submit_errors": sum(c != 202 for c in codes),
                       "seconds_to_all_ended": round(all_done, 1), "jobs_per_second": round(len(ids) / all_done, 2),
                       "done": states.count("done"), "failed": states.count("failed"), "lost": len(pending),
                       "verified": verified}
        print(f"jobs: {out['jobs']}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--validations", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2, help="solve processes of the server")
    ap.add_argument("--note", default="", help="recorded with the run (e.g. what else shared the machine)")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    from wopmatch.bench.runner import provenance
    from wopmatch.service.local import Server

    token = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", "--workers", str(args.workers),
                        "--max-queued", str(max(100, args.jobs))).start((token,))
        try:
            result = asyncio.run(run(server.url, token, args.validations, args.jobs, args.concurrency))
        finally:
            server.stop()
        log = server.log()
    fives = sum(1 for line in log.splitlines() if '" 5' in line and "HTTP/1.1" in line)
    record = {"case": f"{args.validations} validations + {args.jobs} solve jobs, concurrency {args.concurrency}",
              "workers": args.workers, **result, "server_5xx_logged": fives, **provenance()}
    if args.note:
        record["note"] = args.note
    if not args.no_record:
        (HERE / "service").mkdir(exist_ok=True)
        with open(HERE / "service" / "load.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        import report

        report.write()
    bad = (result["validations"]["5xx"] + result["jobs"]["submit_5xx"] + fives + result["jobs"]["lost"]
           + (result["jobs"]["accepted"] - result["jobs"]["verified"]))
    print(json.dumps(record, indent=2))
    if bad:
        raise SystemExit(f"{bad} 5xx responses, lost jobs or unverified solutions")


if __name__ == "__main__":
    main()
