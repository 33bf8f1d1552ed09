"""The ops view's figures from the processes' own /metrics (eventkit.metrics): the read API
scrapes each process of this host at its metrics port when an admin opens the view, with a
short timeout, and turns the families into table rows. A process that does not answer is
listed as such; nothing here is stored. Under docker-compose the processes run on other
hosts: Grafana (infra/grafana) is the view there, and these panels list them as unreachable."""

import asyncio
from collections import defaultdict
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from eventkit.metrics import PROCESSES
from eventkit.settings import Settings

TIMEOUT = 0.5  # seconds per process: the page must not wait on a dead one


async def _scrape(client: httpx.AsyncClient, url: str) -> str | None:
    try:
        r = await client.get(url)
    except httpx.HTTPError:
        return None
    return r.text if r.status_code == 200 else None


async def collect(settings: Settings) -> dict[str, dict[str, Any]]:
    """One panel per signal: {"view": the family it reads, "rows": [...]}."""
    host = settings.reachable_host
    targets = [
        (f"{s}-{r}", f"http://{host}:{settings.metrics_port_for(s, r)}/metrics")
        for s, r in PROCESSES
    ]
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        texts = await asyncio.gather(*(_scrape(client, url) for _, url in targets))
    return rows([(name, text) for (name, _), text in zip(targets, texts, strict=True)])


def rows(scraped: list[tuple[str, str | None]]) -> dict[str, dict[str, Any]]:
    """The panels from each process's exposition text (None: it did not answer). Pure."""
    lag: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []
    up: list[dict[str, Any]] = []
    outbox: dict[str, dict[str, Any]] = defaultdict(dict)
    red: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for process, text in scraped:
        up.append({"process": process, "answers": text is not None})
        for family in text_string_to_metric_families(text or ""):
            for s in family.samples:
                labels = s.labels
                if s.name == "coinstream_consumer_lag":
                    lag.append(
                        {
                            "process": process,
                            "group": labels["group"],
                            "topic": labels["topic"],
                            "partition": int(labels["partition"]),
                            "lag": int(s.value),
                        }
                    )
                elif s.name == "coinstream_consumer_dead_lettered_total":
                    dead.append(
                        {
                            "process": process,
                            "group": labels["group"],
                            "topic": labels["topic"],
                            "dead_lettered": int(s.value),
                        }
                    )
                elif s.name == "coinstream_outbox_depth":
                    outbox[labels["service"]]["depth"] = int(s.value)
                elif s.name == "coinstream_outbox_oldest_unsent_age_seconds":
                    outbox[labels["service"]]["oldest_unsent_seconds"] = round(s.value, 3)
                elif s.name == "coinstream_relay_published_total":
                    outbox[labels["service"]]["published"] = int(s.value)
                elif s.name == "coinstream_http_requests_total":
                    row = red[(labels["service"], labels["method"], labels["route"])]
                    status = labels["status"]
                    row["requests"] += s.value
                    row["errors"] += s.value if status.startswith("5") else 0
                    row["refusals"] += s.value if status.startswith("4") else 0
                elif s.name in (
                    "coinstream_http_request_duration_seconds_sum",
                    "coinstream_http_request_duration_seconds_count",
                ):
                    key = (labels["service"], labels["method"], labels["route"])
                    red[key][s.name.rsplit("_", 1)[1]] += s.value
    red_rows = []
    for (service, method, route), r in sorted(red.items()):
        if not r.get("requests"):
            continue
        mean = r["sum"] / r["count"] * 1000 if r.get("count") else None
        red_rows.append(
            {
                "service": service,
                "route": f"{method} {route}",
                "requests": int(r["requests"]),
                "errors": int(r["errors"]),
                "refusals": int(r["refusals"]),
                "mean_ms": None if mean is None else round(mean, 2),
            }
        )
    return {
        "group_lag": {"view": "coinstream_consumer_lag", "rows": lag},
        "dead_letters": {"view": "coinstream_consumer_dead_lettered_total", "rows": dead},
        "outbox": {
            "view": "coinstream_outbox_depth",
            "rows": [{"service": k, **v} for k, v in sorted(outbox.items())],
        },
        "red": {"view": "coinstream_http_requests_total", "rows": red_rows},
        "processes": {"view": "/metrics", "rows": up},
    }
