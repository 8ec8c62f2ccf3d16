"""Delivery routing (CVRP): the baseline, a nearest-neighbour tour builder.

solve(instance) -> list of routes (lists of 0-based customer indices); see task.yaml.
"""
import math


# EVOLVE-BLOCK-START
def solve(instance):
    """Start at the depot, drive to the nearest customer that still fits in the truck;
    when none fits, go home and start a new truck."""
    depot = instance["depot"]
    customers = instance["customers"]
    capacity = instance["capacity"]
    left = set(range(len(customers)))
    routes = []
    while left:
        route, load, here = [], 0, depot
        while True:
            fits = [c for c in left if load + customers[c][2] <= capacity]
            if not fits:
                break
            nxt = min(fits, key=lambda c: math.dist(here, customers[c][:2]))
            route.append(nxt)
            load += customers[nxt][2]
            here = customers[nxt][:2]
            left.remove(nxt)
        routes.append(route)
    return routes
# EVOLVE-BLOCK-END
