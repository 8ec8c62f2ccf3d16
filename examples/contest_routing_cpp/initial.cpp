// Delivery routing (CVRP) in C++: the baseline, a nearest-neighbour tour builder.
// Input (stdin):  n Q / depot_x depot_y / n lines "x y demand".
// Output (stdout): R, then R lines "k c_1 ... c_k" (0-based customer indices).
#include <cmath>
#include <cstdio>
#include <vector>

struct Customer { double x, y; int demand; };

// EVOLVE-BLOCK-START
std::vector<std::vector<int>> solve(const std::vector<Customer>& cs, double dx, double dy,
                                    int capacity) {
    int n = (int)cs.size();
    std::vector<bool> done(n, false);
    std::vector<std::vector<int>> routes;
    int left = n;
    while (left > 0) {
        std::vector<int> route;
        int load = 0;
        double hx = dx, hy = dy;
        while (true) {
            int best = -1;
            double best_d = 1e18;
            for (int c = 0; c < n; c++) {
                if (done[c] || load + cs[c].demand > capacity) continue;
                double d = std::hypot(cs[c].x - hx, cs[c].y - hy);
                if (d < best_d) { best_d = d; best = c; }
            }
            if (best < 0) break;
            done[best] = true;
            left--;
            load += cs[best].demand;
            hx = cs[best].x;
            hy = cs[best].y;
            route.push_back(best);
        }
        routes.push_back(route);
    }
    return routes;
}
// EVOLVE-BLOCK-END

int main() {
    int n, capacity;
    double dx, dy;
    if (std::scanf("%d %d %lf %lf", &n, &capacity, &dx, &dy) != 4) return 1;
    std::vector<Customer> cs(n);
    for (auto& c : cs)
        if (std::scanf("%lf %lf %d", &c.x, &c.y, &c.demand) != 3) return 1;
    auto routes = solve(cs, dx, dy, capacity);
    std::printf("%d\n", (int)routes.size());
    for (auto& r : routes) {
        std::printf("%d", (int)r.size());
        for (int c : r) std::printf(" %d", c);
        std::printf("\n");
    }
    return 0;
}
