// Reference solution for delivery routing in C++: nearest neighbour + simulated annealing
// (relocate / swap between routes, 2-opt inside a route, geometric cooling for 1.5 s).
// The same moves as examples/contest_routing/reference_sa.py, with many more iterations.
// A valid candidate: evaluate it with the task's evaluator to compare with initial.cpp.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

struct Customer { double x, y; int demand; };

int main() {
    int n, q;
    double dx, dy;
    if (std::scanf("%d %d %lf %lf", &n, &q, &dx, &dy) != 4) return 1;
    std::vector<Customer> cs(n + 1);
    for (int i = 0; i < n; i++)
        if (std::scanf("%lf %lf %d", &cs[i].x, &cs[i].y, &cs[i].demand) != 3) return 1;
    cs[n] = {dx, dy, 0};  // node n is the depot
    std::vector<std::vector<double>> d(n + 1, std::vector<double>(n + 1));
    for (int i = 0; i <= n; i++)
        for (int j = 0; j <= n; j++) d[i][j] = std::hypot(cs[i].x - cs[j].x, cs[i].y - cs[j].y);
    // nearest neighbour start; routes carry the depot at both ends
    std::vector<std::vector<int>> routes;
    std::vector<int> loads;
    std::vector<bool> done(n, false);
    for (int left = n; left > 0;) {
        std::vector<int> r{n};
        int load = 0, here = n;
        while (true) {
            int best = -1;
            for (int c = 0; c < n; c++)
                if (!done[c] && load + cs[c].demand <= q && (best < 0 || d[here][c] < d[here][best]))
                    best = c;
            if (best < 0) break;
            done[best] = true; left--; load += cs[best].demand; here = best; r.push_back(best);
        }
        r.push_back(n);
        routes.push_back(r);
        loads.push_back(load);
    }
    double cost = 0;
    for (auto& r : routes) for (size_t k = 0; k + 1 < r.size(); k++) cost += d[r[k]][r[k + 1]];
    auto best = routes;
    double best_cost = cost, t0 = 40, t1 = 0.3, temp = t0;
    std::mt19937 rng(0);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    std::uniform_real_distribution<double> u01(0, 1);
    auto start = std::chrono::steady_clock::now();
    for (long it = 0;; it++) {
        if ((it & 1023) == 0) {
            double frac = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 1.5;
            if (frac >= 1) break;
            temp = t0 * std::pow(t1 / t0, frac);
        }
        int a = uni(0, (int)routes.size() - 1);
        auto& ra = routes[a];
        if (ra.size() < 3) continue;
        int i = uni(1, (int)ra.size() - 2);
        double move = u01(rng);
        if (move < 0.3) {
            if (ra.size() < 4) continue;
            int j = uni(1, (int)ra.size() - 2);
            if (i == j) continue;
            if (i > j) std::swap(i, j);
            double delta = d[ra[i - 1]][ra[j]] + d[ra[i]][ra[j + 1]] - d[ra[i - 1]][ra[i]] - d[ra[j]][ra[j + 1]];
            if (delta <= 0 || u01(rng) < std::exp(-delta / temp)) {
                for (int l = i, h = j; l < h; l++, h--) std::swap(ra[l], ra[h]);
                cost += delta;
            }
        } else {
            bool fresh = u01(rng) < 0.02;
            int b = fresh ? (int)routes.size() : uni(0, (int)routes.size() - 1);
            if (b == a) continue;
            if (fresh) { routes.push_back({n, n}); loads.push_back(0); }
            auto& rA = routes[a];
            auto& rb = routes[b];
            int u = rA[i], j = uni(1, (int)rb.size() - 1);
            double remove = d[rA[i - 1]][rA[i + 1]] - d[rA[i - 1]][u] - d[u][rA[i + 1]];
            bool accepted = false;
            if (move < 0.75 || rb.size() < 3 || j == (int)rb.size() - 1) {
                if (loads[b] + cs[u].demand <= q) {
                    double delta = remove + d[rb[j - 1]][u] + d[u][rb[j]] - d[rb[j - 1]][rb[j]];
                    if (delta <= 0 || u01(rng) < std::exp(-delta / temp)) {
                        rA.erase(rA.begin() + i);
                        rb.insert(rb.begin() + j, u);
                        loads[a] -= cs[u].demand; loads[b] += cs[u].demand;
                        cost += delta;
                        accepted = true;
                    }
                }
            } else {
                int v = rb[j];
                if (loads[a] - cs[u].demand + cs[v].demand <= q && loads[b] - cs[v].demand + cs[u].demand <= q) {
                    double delta = d[rA[i - 1]][v] + d[v][rA[i + 1]] - d[rA[i - 1]][u] - d[u][rA[i + 1]]
                                 + d[rb[j - 1]][u] + d[u][rb[j + 1]] - d[rb[j - 1]][v] - d[v][rb[j + 1]];
                    if (delta <= 0 || u01(rng) < std::exp(-delta / temp)) {
                        rA[i] = v; rb[j] = u;
                        loads[a] += cs[v].demand - cs[u].demand; loads[b] += cs[u].demand - cs[v].demand;
                        cost += delta;
                    }
                }
            }
            if (fresh && !accepted) { routes.pop_back(); loads.pop_back(); }
            else if (routes[a].size() == 2) { routes.erase(routes.begin() + a); loads.erase(loads.begin() + a); }
        }
        if (cost < best_cost - 1e-9) { best_cost = cost; best = routes; }
    }
    int count = 0;
    for (auto& r : best) if (r.size() > 2) count++;
    std::printf("%d\n", count);
    for (auto& r : best) {
        if (r.size() <= 2) continue;
        std::printf("%d", (int)r.size() - 2);
        for (size_t k = 1; k + 1 < r.size(); k++) std::printf(" %d", r[k]);
        std::printf("\n");
    }
    return 0;
}
