"""Delivery routing: a capacitated vehicle routing problem (CVRP), written for evoforge.

Trucks of capacity Q start and end at a depot; every customer (a point with a demand) must be
visited by exactly one truck; a truck's customers may not need more than Q in total. Any
number of trucks. Minimise the total Euclidean length of all tours.

Score of an instance: ``round(1e6 * LB / length)``, where LB is the radial lower bound
``sum(2 * dist(depot, c) * demand(c)) / Q`` (a truck serving a set S travels at least twice
the distance to its farthest customer, which is at least the demand-weighted mean distance,
and demand(S) <= Q). So scores lie in (0, 1e6], higher is better, and a score is inversely
proportional to the tour length on each instance.
"""
from __future__ import annotations

import math
import random
from typing import Any

from evoforge.contest.problem import InvalidOutput, Problem, as_int, as_list, int_tokens

STATEMENT = """\
Delivery routing (capacitated vehicle routing).
solve(instance) receives a dict:
  "capacity": Q (int), "depot": [x, y], "customers": [[x, y, demand], ...] (n of them,
  integer coordinates in [0, 1000], demands 1..10, n between 50 and 150).
Return a list of routes; a route is a list of customer indices (0-based). Every customer
must appear in exactly one route; the demands on a route must sum to at most Q. Each route
starts and ends at the depot. The length of a route is the Euclidean length of
depot -> its customers in order -> depot; minimise the total length.
Score per instance: 1e6 * LB / total_length, LB a fixed lower bound (higher is better).
Time limit: 2 seconds per instance (Python), measured from outside.
"""


def dist(a: list[float] | tuple[float, ...], b: list[float] | tuple[float, ...]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def route_length(instance: dict[str, Any], route: list[int]) -> float:
    depot, cust = instance["depot"], instance["customers"]
    prev, total = depot, 0.0
    for c in route:
        total += dist(prev, cust[c])
        prev = cust[c]
    return total + dist(prev, depot)


def lower_bound(instance: dict[str, Any]) -> float:
    depot, q = instance["depot"], instance["capacity"]
    return sum(2 * dist(depot, c) * c[2] for c in instance["customers"]) / q


class Routing(Problem):
    name = "routing"
    statement = STATEMENT
    time_limit = 2.0

    def generate(self, seed: int) -> dict[str, Any]:
        """Clustered customers (2-6 clusters) plus uniform noise, as in real deliveries."""
        rng = random.Random(f"routing-{seed}")
        n = rng.randint(50, 150)
        centres = [(rng.uniform(100, 900), rng.uniform(100, 900))
                   for _ in range(rng.randint(2, 6))]
        customers = []
        for _ in range(n):
            if rng.random() < 0.7:
                cx, cy = rng.choice(centres)
                x, y = rng.gauss(cx, 80), rng.gauss(cy, 80)
            else:
                x, y = rng.uniform(0, 1000), rng.uniform(0, 1000)
            customers.append([min(1000, max(0, round(x))), min(1000, max(0, round(y))),
                              rng.randint(1, 10)])
        depot = [rng.randint(350, 650), rng.randint(350, 650)]
        return {"capacity": rng.randint(30, 60), "depot": depot, "customers": customers}

    def score(self, instance: dict[str, Any], output: Any) -> float:
        n, q = len(instance["customers"]), instance["capacity"]
        routes = as_list(output, "the answer (a list of routes)")
        if len(routes) > n:
            raise InvalidOutput(f"{len(routes)} routes for {n} customers")
        seen = [False] * n
        clean: list[list[int]] = []
        for r, route in enumerate(routes):
            route = as_list(route, f"route {r}")
            if not route:
                raise InvalidOutput(f"route {r} is empty")
            ids = []
            load = 0
            for k, c in enumerate(route):
                c = as_int(c, f"route {r} entry {k}")
                if not 0 <= c < n:
                    raise InvalidOutput(f"route {r} visits customer {c}, not in 0..{n - 1}")
                if seen[c]:
                    raise InvalidOutput(f"customer {c} is visited twice")
                seen[c] = True
                load += instance["customers"][c][2]
                ids.append(c)
            if load > q:
                raise InvalidOutput(f"route {r} carries {load}, more than the capacity {q}")
            clean.append(ids)
        missing = [c for c in range(n) if not seen[c]]
        if missing:
            raise InvalidOutput(f"{len(missing)} customers are not visited "
                                f"(first: {missing[:5]})")
        total = sum(route_length(instance, r) for r in clean)
        return round(1e6 * lower_bound(instance) / total) if total > 0 else 1e6

    def format_input(self, instance: dict[str, Any]) -> str:
        """``n Q`` / ``depot_x depot_y`` / n lines ``x y demand``."""
        cust = instance["customers"]
        lines = [f"{len(cust)} {instance['capacity']}", "{} {}".format(*instance["depot"])]
        lines += [f"{x} {y} {d}" for x, y, d in cust]
        return "\n".join(lines) + "\n"

    def parse_output(self, text: str) -> list[list[int]]:
        """``R`` then R lines ``k c_1 ... c_k`` (k customers on the route)."""
        toks = int_tokens(text)
        if not toks:
            raise InvalidOutput("empty output: expected the number of routes first")
        count, pos, routes = toks[0], 1, []
        if count < 0 or count > 100_000:
            raise InvalidOutput(f"bad number of routes {count}")
        for r in range(count):
            if pos >= len(toks):
                raise InvalidOutput(f"output ends before route {r}")
            k = toks[pos]
            if k < 0 or pos + 1 + k > len(toks):
                raise InvalidOutput(f"route {r} announces {k} customers but the output ends")
            routes.append(toks[pos + 1: pos + 1 + k])
            pos += 1 + k
        if pos != len(toks):
            raise InvalidOutput(f"{len(toks) - pos} extra numbers after the last route")
        return routes
