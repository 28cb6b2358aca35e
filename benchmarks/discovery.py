"""Benchmark 1: catalog discovery against the local Sigma server, ``max_concurrency=8`` vs ``1``.

The server runs in its own process (:mod:`benchmarks.sigma_server`) with a fixed latency per request;
the catalog job (:func:`airflow_sigma.catalog.discover_catalog`) runs here with a fresh client per
run. Targets: the concurrent run takes at most 1/6 of the sequential run's time, sends at most 1%
more requests than the minimum the organisation needs, and never has more requests in flight than
its cap (the server counts both).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from math import ceil
from typing import Any

from airflow_sigma.api.client import SigmaClient
from airflow_sigma.catalog import CatalogOptions, discover_catalog
from airflow_sigma.testing.org import Org, OrgSpec
from benchmarks.report import Result, Target, median
from benchmarks.sigma_server import ServerProcess

CONCURRENCY = 8
MIN_SPEEDUP = 6.0
REQUEST_SLACK = 0.01


def minimum_requests(org: Org, options: CatalogOptions) -> int:
    """The fewest requests that can discover ``org`` with ``options`` (an admin caller, personal and
    archived content included): one token, the listings page by page, then one page listing and one
    sources request per workbook, one element listing per page, one member listing per team, and one
    request per personal data model a workbook uses (``/v2/dataModels`` leaves those out)."""

    def pages(count: int) -> int:
        return max(1, ceil(count / options.page_size))

    listed = [
        org.visible_workbooks(
            admin=True, skip_permission_check=True, exclude_explorations=True, is_archived=archived
        )
        for archived in (False, True)
    ]
    members = org.listed_members(include_archived=True, include_inactive=True)
    total = 1 + sum(pages(len(part)) for part in listed) + pages(len(members))
    workbooks = [wb for part in listed for wb in part]
    for workbook in workbooks:
        workbook_pages = org.pages[workbook.workbook_id]
        total += pages(len(workbook_pages))
        total += sum(pages(len(org.elements[(workbook.workbook_id, p.page_id)])) for p in workbook_pages)
    if options.include_workbook_sources:
        total += len(workbooks)
    if options.include_data_models:
        total += pages(len(org.listed_data_models()))
        if options.include_workbook_sources:
            used = {s.source_id for wb in workbooks for s in org.sources[wb.workbook_id]}
            total += sum(1 for dm in org.data_models if dm.is_personal and dm.data_model_id in used)
    if options.include_datasets:
        total += pages(len(org.datasets))
    if options.include_teams:
        total += pages(len(org.teams)) + sum(pages(len(team.member_ids)) for team in org.teams)
    if options.include_workspaces:
        total += pages(len(org.workspaces)) + pages(len(org.visible_workspace_files()))
    return total


def _discover(server: ServerProcess, concurrency: int) -> dict[str, Any]:
    info = server.info
    options = CatalogOptions(include_personal=True, include_archived=True, max_concurrency=concurrency)
    server.reset()
    client = SigmaClient(
        info["url"],
        info["client_id"],
        info["client_secret"],
        allow_custom_host=True,
        pool_size=max(16, concurrency),
    )
    with client:
        started, cpu = time.perf_counter(), time.process_time()
        catalog = discover_catalog(client, options)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    stats = server.stats()
    return {
        "concurrency": concurrency,
        "wall_s": round(wall, 3),
        "client_cpu_s": round(cpu, 3),
        "requests": stats["requests"],
        "peak_in_flight": stats["peak_in_flight"],
        "workbooks": catalog.stats.workbooks,
        "pages": catalog.stats.pages,
        "elements": catalog.stats.elements,
        "members": catalog.stats.members,
        "parts": catalog.parts.counts(),
    }


def run(*, quick: bool, runs: int) -> Result:
    spec = OrgSpec(workbooks=30, members=10) if quick else OrgSpec.benchmark()
    latency = 0.005 if quick else 0.02
    options = CatalogOptions(include_personal=True, include_archived=True)
    minimum = minimum_requests(Org.generate(spec), options)
    concurrent: list[dict[str, Any]] = []
    sequential: list[dict[str, Any]] = []
    with ServerProcess(spec, latency) as server:
        for n in range(runs):
            order = (CONCURRENCY, 1) if n % 2 == 0 else (1, CONCURRENCY)  # alternate: drift hits both
            for concurrency in order:
                outcome = _discover(server, concurrency)
                (concurrent if concurrency == CONCURRENCY else sequential).append(outcome)
                print(
                    f"  discovery c={concurrency}: {outcome['wall_s']:.2f} s, {outcome['requests']} requests"
                )
    wall_c8 = median([r["wall_s"] for r in concurrent])
    wall_c1 = median([r["wall_s"] for r in sequential])
    requests = max(r["requests"] for r in concurrent + sequential)
    peak = max(r["peak_in_flight"] for r in concurrent)
    first = concurrent[0]
    return Result(
        name="discovery",
        setup={
            "org": asdict(spec),
            "latency_s": latency,
            "options": "include_personal=True, include_archived=True (every saved workbook); data models, "
            "datasets, workbook sources, teams and workspaces on (the defaults), element lineage off",
            "runs": runs,
            "server": "separate process (benchmarks.sigma_server), 127.0.0.1",
        },
        measurements={
            "workbooks": first["workbooks"],
            "pages": first["pages"],
            "elements": first["elements"],
            "members": first["members"],
            "parts": first["parts"],
            "minimum_requests": minimum,
            "wall_s_c8_median": wall_c8,
            "wall_s_c1_median": wall_c1,
            "client_cpu_ms_per_request_c8": round(1000 * first["client_cpu_s"] / first["requests"], 3),
            "runs_c8": concurrent,
            "runs_c1": sequential,
        },
        targets=[
            Target("speed-up: wall c=1 / wall c=8", wall_c1 / wall_c8, MIN_SPEEDUP, ">=", "x"),
            Target("requests (most in a run)", requests, minimum * (1 + REQUEST_SLACK), "<=", "requests"),
            Target("peak in-flight at c=8 (server)", peak, CONCURRENCY, "<=", "requests"),
        ],
    )
