"""Sandbox benchmark: `python -m benchmarks.sandbox [--customers N] [--months M]`.

Prints the time to generate the account and the latency of limit=100 list pages:
inside the server (request parsed to answer ready), over raw HTTP (keep-alive, one
connection, client in the same process) and through the official stripe SDK (its
object parsing included). The first walk renders every object (cold); the second
serves cached JSON (warm). On a busy machine the HTTP figures include scheduling
delays that the in-server figures do not.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from typing import Any

RESOURCES = ("customers", "subscriptions", "invoices", "events")


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _fmt(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"p50 {_percentile(ms, 0.5):6.2f} ms  p99 {_percentile(ms, 0.99):6.2f} ms  "
        f"mean {statistics.fmean(ms):6.2f} ms  ({len(ms)} pages)"
    )


def walk_raw(base_url: str, resource: str, max_pages: int) -> tuple[list[float], int]:
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    headers = {"Authorization": "Bearer sk_test_bench"}
    times: list[float] = []
    size = 0
    cursor = ""
    for _ in range(max_pages):
        path = f"/v1/{resource}?limit=100" + (f"&starting_after={cursor}" if cursor else "")
        if resource == "subscriptions":
            path += "&status=all"
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        body = conn.getresponse().read()
        times.append(time.perf_counter() - t0)
        size += len(body)
        page = json.loads(body)
        if not page["has_more"]:
            break
        cursor = page["data"][-1]["id"]
    conn.close()
    return times, size


def walk_sdk(base_url: str, resource: str, max_pages: int) -> list[float]:
    import stripe

    from etl.extract.client import API_VERSION

    client = stripe.StripeClient(
        "sk_test_bench",
        base_addresses={"api": base_url},
        stripe_version=API_VERSION,
        max_network_retries=0,
    )
    service: Any = getattr(client.v1, resource)
    params: dict[str, Any] = {"limit": 100}
    if resource == "subscriptions":
        params["status"] = "all"
    times: list[float] = []
    for _ in range(max_pages):
        t0 = time.perf_counter()
        page = service.list(params)
        times.append(time.perf_counter() - t0)
        if not page.has_more:
            break
        params["starting_after"] = page.data[-1].id
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sandbox", description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pages", type=int, default=200, help="pages per resource and pass")
    parser.add_argument("--sdk-pages", type=int, default=20, help="pages per resource via the SDK")
    args = parser.parse_args(argv)

    from etl.sandbox.server.app import SandboxServer
    from etl.sandbox.simulation.generator import generate_account

    t0 = time.perf_counter()
    account = generate_account(seed=args.seed, customers=args.customers, months=args.months)
    generation = time.perf_counter() - t0
    counts = {name: len(objs) for name, objs in account.objects.items()}
    print(f"generation: {args.customers} customers x {args.months} months in {generation:.2f} s")
    print("  objects: " + ", ".join(f"{name} {n}" for name, n in counts.items()))

    with SandboxServer(account) as srv:
        assert srv.base_url is not None
        inside: list[float] = []
        handle = srv.handle

        def timed_handle(*a: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return handle(*a)
            finally:
                inside.append(time.perf_counter() - t0)

        srv.handle = timed_handle  # type: ignore[method-assign,assignment]
        for label in ("cold (first render)", "warm (cached JSON)"):
            print(f"limit=100 pages, {label}:")
            for resource in RESOURCES:
                inside.clear()
                times, size = walk_raw(srv.base_url, resource, args.pages)
                kib = size / max(1, len(times)) / 1024
                print(f"  {resource:14s} in server {_fmt(inside)}  {kib:6.1f} KiB/page")
                print(f"  {'':14s} raw HTTP  {_fmt(times)}")
        print("stripe SDK (parsing included), limit=100, warm:")
        for resource in RESOURCES:
            print(f"  {resource:14s} {_fmt(walk_sdk(srv.base_url, resource, args.sdk_pages))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
