"""Reference solution for delivery routing: nearest-neighbour start + simulated annealing.

A plain, honest SA (relocate / swap between routes, 2-opt inside a route, geometric cooling
over 1.3 s) so that a user can see how far evolution got from the baseline in initial.py.
It is also a valid candidate program (it defines solve), so the evaluator scores it as is:

    python examples/contest_routing/reference_sa.py            # scores on the public seeds
"""
import math
import random
import time

TIME_BUDGET = 1.3  # seconds; the limit is 2 s per instance including interpreter start-up


def nearest_neighbour(instance):
    depot, customers, capacity = instance["depot"], instance["customers"], instance["capacity"]
    left, routes = set(range(len(customers))), []
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


def solve(instance, seconds=TIME_BUDGET, seed=0):
    start = time.perf_counter()
    rng = random.Random(seed)
    cust, q = instance["customers"], instance["capacity"]
    n = len(cust)
    pts = [c[:2] for c in cust] + [instance["depot"]]  # node n is the depot
    dem = [c[2] for c in cust] + [0]
    d = [[math.dist(a, b) for b in pts] for a in pts]
    routes = [[n] + r + [n] for r in nearest_neighbour(instance)]
    loads = [sum(dem[c] for c in r) for r in routes]
    cost = sum(d[r[k]][r[k + 1]] for r in routes for k in range(len(r) - 1))
    best, best_cost = [r[1:-1] for r in routes], cost
    t0, t1 = 40.0, 0.3
    temp, it = t0, 0
    while True:
        if it % 256 == 0:
            frac = (time.perf_counter() - start) / seconds
            if frac >= 1:
                break
            temp = t0 * (t1 / t0) ** frac
        it += 1
        a = rng.randrange(len(routes))
        ra = routes[a]
        if len(ra) < 3:
            continue
        i = rng.randrange(1, len(ra) - 1)
        move = rng.random()
        if move < 0.3:  # 2-opt inside route a
            if len(ra) < 4:
                continue
            j = rng.randrange(1, len(ra) - 1)
            if i == j:
                continue
            i, j = min(i, j), max(i, j)
            delta = d[ra[i - 1]][ra[j]] + d[ra[i]][ra[j + 1]] - d[ra[i - 1]][ra[i]] - d[ra[j]][ra[j + 1]]
            if delta <= 0 or rng.random() < math.exp(-delta / temp):
                ra[i:j + 1] = ra[i:j + 1][::-1]
                cost += delta
        else:
            new_route = rng.random() < 0.02
            b = len(routes) if new_route else rng.randrange(len(routes))
            if b == a:
                continue
            rb = [n, n] if new_route else routes[b]
            u = ra[i]
            j = rng.randrange(1, len(rb))
            remove = d[ra[i - 1]][ra[i + 1]] - d[ra[i - 1]][u] - d[u][ra[i + 1]]
            if move < 0.75 or len(rb) < 3 or j == len(rb) - 1:  # relocate u into b before j
                if not new_route and loads[b] + dem[u] > q:
                    continue
                delta = remove + d[rb[j - 1]][u] + d[u][rb[j]] - d[rb[j - 1]][rb[j]]
                if delta <= 0 or rng.random() < math.exp(-delta / temp):
                    if new_route:
                        routes.append(rb)
                        loads.append(0)
                    ra.pop(i)
                    rb.insert(j, u)
                    loads[a] -= dem[u]
                    loads[b] += dem[u]
                    cost += delta
                    if len(ra) == 2:
                        routes.pop(a)
                        loads.pop(a)
            else:  # swap u (in a) with v (in b)
                v = rb[j]
                if loads[a] - dem[u] + dem[v] > q or loads[b] - dem[v] + dem[u] > q:
                    continue
                delta = (d[ra[i - 1]][v] + d[v][ra[i + 1]] - d[ra[i - 1]][u] - d[u][ra[i + 1]]
                         + d[rb[j - 1]][u] + d[u][rb[j + 1]] - d[rb[j - 1]][v] - d[v][rb[j + 1]])
                if delta <= 0 or rng.random() < math.exp(-delta / temp):
                    ra[i], rb[j] = v, u
                    loads[a] += dem[v] - dem[u]
                    loads[b] += dem[u] - dem[v]
                    cost += delta
        if cost < best_cost - 1e-9:
            best, best_cost = [r[1:-1] for r in routes], cost
    return best


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from evoforge.contest.problems import Routing

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import evaluate
    import initial

    problem = Routing()
    for label, seeds in (("public", evaluate.PUBLIC_SEEDS), ("private", evaluate.PRIVATE_SEEDS)):
        base = [problem.score(problem.generate(s), initial.solve(problem.generate(s))) for s in seeds]
        sa = [problem.score(problem.generate(s), solve(problem.generate(s))) for s in seeds]
        print(f"{label}: baseline mean {sum(base) / len(base):.0f}  SA mean {sum(sa) / len(sa):.0f}")
        print("   per seed baseline", base, "\n   per seed SA      ", sa)
