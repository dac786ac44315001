#include "orbit/ot/exact.hpp"
#include "orbit/ot/sinkhorn.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "orbit/core/error.hpp"
#include "orbit/ot/solver.hpp"

namespace orbit::ot {
namespace {

void check_cost(const Matrix& cost, const char* who, bool forbidden_ok = false) {
    require(cost.rows() > 0 && cost.cols() > 0,
            std::string(who) + ": expected a non-empty cost matrix, found " + std::to_string(cost.rows()) + "x" +
                std::to_string(cost.cols()));
    if (forbidden_ok) return detail::check_forbidden_pairs(cost);
    require(cost.allFinite(), std::string(who) + ": the cost matrix contains NaN or infinite values");
}

// <cost, P> over the support of P (forbidden pairs carry no mass).
double plan_cost(const Matrix& P, const Matrix& cost) {
    double s = 0;
    for (Eigen::Index t = 0; t < P.size(); ++t)
        if (P.data()[t] > 0) s += P.data()[t] * cost.data()[t];
    return s;
}

}  // namespace

std::vector<int> assignment(const Matrix& cost) {
    check_cost(cost, "assignment");
    require(cost.rows() == cost.cols(), "assignment: expected a square cost matrix, found " +
                                            std::to_string(cost.rows()) + "x" + std::to_string(cost.cols()));
    const int n = static_cast<int>(cost.rows());
    // Row-major copy: the inner loop runs along a row.
    std::vector<double> c(static_cast<std::size_t>(n) * n);
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) c[static_cast<std::size_t>(i) * n + j] = cost(i, j);
    const double INF = std::numeric_limits<double>::infinity();
    // Hungarian method with row potentials u and column potentials v (1-based,
    // column 0 is a virtual column holding the row being inserted).
    std::vector<double> u(n + 1, 0.0), v(n + 1, 0.0), minv(n + 1);
    std::vector<int> p(n + 1, 0), way(n + 1, 0);
    std::vector<char> used(n + 1);
    for (int i = 1; i <= n; ++i) {
        p[0] = i;
        int j0 = 0;
        std::fill(minv.begin(), minv.end(), INF);
        std::fill(used.begin(), used.end(), 0);
        do {
            used[j0] = 1;
            const int i0 = p[j0];
            double delta = INF;
            int j1 = 0;
            const double* row = &c[static_cast<std::size_t>(i0 - 1) * n];
            for (int j = 1; j <= n; ++j) {
                if (used[j]) continue;
                const double cur = row[j - 1] - u[i0] - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (int j = 0; j <= n; ++j) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            const int j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0 != 0);
    }
    std::vector<int> perm(n, -1);
    for (int j = 1; j <= n; ++j) perm[p[j] - 1] = j - 1;
    return perm;
}

Matrix emd(const Vector& a, const Vector& b, const Matrix& cost, Vector* f, Vector* g) {
    check_cost(cost, "emd", true);
    const int N = static_cast<int>(a.size()), M = static_cast<int>(b.size());
    require(cost.rows() == N && cost.cols() == M, "emd: expected a cost matrix of " + std::to_string(N) + "x" +
                                                      std::to_string(M) + ", found " + std::to_string(cost.rows()) +
                                                      "x" + std::to_string(cost.cols()));
    require(a.allFinite() && b.allFinite() && a.minCoeff() >= 0 && b.minCoeff() >= 0,
            "emd: expected finite non-negative weights");
    const double sa = a.sum(), sb = b.sum();
    require(sa > 0 && sb > 0, "emd: expected weights with a positive sum");
    require(std::abs(sa - sb) <= 1e-9 * std::max(sa, sb),
            "emd: expected marginals with equal mass, found " + std::to_string(sa) + " and " + std::to_string(sb));

    // Successive shortest paths on the bipartite network source -> rows -> cols -> sink.
    // Nodes: rows 0..N-1, cols N..N+M-1, sink N+M. Row->col arcs have unlimited
    // capacity; col->row arcs exist where the flow is positive (cost -C).
    // Potentials keep reduced costs non-negative so Dijkstra applies.
    const double INF = std::numeric_limits<double>::infinity();
    const double zero = 1e-14 * sa;  // masses below this count as exhausted
    Vector supply = a, demand = b * (sa / sb);
    Matrix flow = Matrix::Zero(N, M);
    std::vector<std::vector<int>> rows_of_col(M);  // rows with positive flow into each column
    const int V = N + M + 1, T = N + M;
    std::vector<double> pi(V, 0.0), dist(V);
    std::vector<int> pred(V);
    std::vector<char> done(V);
    for (int j = 0; j < M; ++j) pi[N + j] = cost.col(j).minCoeff();
    pi[T] = *std::min_element(pi.begin() + N, pi.begin() + N + M);

    long guard = 0;
    const long max_aug = 20L * (N + M) * (N + M) + 1000;
    for (;;) {
        require(++guard < max_aug, "emd: the exact solver did not terminate (degenerate input?)");
        std::fill(dist.begin(), dist.end(), INF);
        std::fill(done.begin(), done.end(), 0);
        std::fill(pred.begin(), pred.end(), -1);
        bool any_source = false;
        for (int i = 0; i < N; ++i)
            if (supply[i] > zero) dist[i] = 0, any_source = true;
        if (!any_source) break;
        // Dense Dijkstra: O(V^2 + arcs).
        for (;;) {
            int u = -1;
            double best = INF;
            for (int k = 0; k < V; ++k)
                if (!done[k] && dist[k] < best) best = dist[k], u = k;
            if (u < 0 || u == T) break;
            done[u] = 1;
            if (u < N) {
                for (int j = 0; j < M; ++j) {
                    const int w = N + j;
                    if (done[w]) continue;
                    const double rc = std::max(0.0, cost(u, j) + pi[u] - pi[w]);
                    if (dist[u] + rc < dist[w]) dist[w] = dist[u] + rc, pred[w] = u;
                }
            } else {
                const int j = u - N;
                for (int i : rows_of_col[j]) {
                    if (done[i]) continue;
                    const double rc = std::max(0.0, -cost(i, j) + pi[u] - pi[i]);
                    if (dist[u] + rc < dist[i]) dist[i] = dist[u] + rc, pred[i] = u;
                }
                if (demand[j] > zero) {
                    const double rc = std::max(0.0, pi[u] - pi[T]);
                    if (dist[u] + rc < dist[T]) dist[T] = dist[u] + rc, pred[T] = u;
                }
            }
        }
        if (!(dist[T] < INF)) {
            // Only rounding residue can be left once every column is full.
            require(supply.sum() <= 1e-9 * sa,
                    "emd: no feasible plan (the forbidden pairs leave some mass with nowhere to go)");
            break;
        }
        // Bottleneck along the path.
        const int last = pred[T];
        double delta = demand[last - N];
        int w = last;
        while (true) {
            const int u = pred[w];
            if (u < 0) break;
            if (u >= N) delta = std::min(delta, flow(w, u - N));  // reverse arc col u -> row w
            w = u;
        }
        delta = std::min(delta, supply[w]);  // w is the starting row
        const int start = w;
        // Augment.
        w = last;
        while (true) {
            const int u = pred[w];
            if (u < 0) break;
            if (u < N) {  // forward arc row u -> col w
                const int j = w - N;
                if (flow(u, j) <= 0) rows_of_col[j].push_back(u);
                flow(u, j) += delta;
            } else {  // reverse arc col u -> row w
                const int j = u - N;
                flow(w, j) -= delta;
                if (flow(w, j) <= zero) {
                    flow(w, j) = 0;
                    auto& r = rows_of_col[j];
                    r.erase(std::find(r.begin(), r.end(), w));
                }
            }
            w = u;
        }
        supply[start] -= delta;
        demand[last - N] -= delta;
        // Johnson's update keeps reduced costs non-negative.
        const double D = dist[T];
        for (int k = 0; k < V; ++k) pi[k] += std::min(dist[k], D);
    }
    if (f && g) {
        // The potentials keep every reduced cost C_ij + pi_i - pi_j >= 0, with
        // equality on the support: f = -pi (rows), g = pi (columns) is an
        // optimal dual, centered as POT's center_ot_dual does.
        f->resize(N), g->resize(M);
        for (int i = 0; i < N; ++i) (*f)[i] = -pi[i];
        for (int j = 0; j < M; ++j) (*g)[j] = pi[N + j];
        const double c = (g->dot(b) - f->dot(a)) / (a.sum() + b.sum());
        f->array() += c, g->array() -= c;
    }
    return flow;
}

double emd_cost(const Vector& a, const Vector& b, const Matrix& cost) { return plan_cost(emd(a, b, cost), cost); }

Matrix cost_matrix(const Points& x, const Points& y, const CostSpec& spec) {
    require(x.cols() == y.cols(), "point sets of different dimensions");
    Matrix c(x.rows(), y.rows());
    const double factor = spec.half ? 0.5 : 1.0;
    for (Eigen::Index i = 0; i < c.rows(); ++i)
        for (Eigen::Index j = 0; j < c.cols(); ++j) {
            const double d2 = (x.row(i) - y.row(j)).squaredNorm();
            c(i, j) = factor * (spec.p == 1 ? std::sqrt(d2) : d2);
        }
    return c;
}

namespace detail {

SinkhornResult exact_result(const Matrix& P, const Matrix& cost, Vector f, Vector g, double dual,
                            const SinkhornOptions& opt) {
    SinkhornResult r;
    r.f = std::move(f);
    r.g = std::move(g);
    r.cost = r.primal = plan_cost(P, cost);
    r.dual = dual;
    r.mass = P.sum();
    r.converged = true;
    r.storage = "exact";
    r.row_marginal = P.rowwise().sum();
    r.col_marginal = P.colwise().sum().transpose();
    if (opt.plan == PlanKind::Dense) r.plan = P;
    if (opt.plan == PlanKind::Sparse) {
        SparsePlan sp;
        sp.rows = P.rows();
        sp.cols = P.cols();
        sp.indptr.push_back(0);
        for (Eigen::Index i = 0; i < P.rows(); ++i) {
            for (Eigen::Index j = 0; j < P.cols(); ++j)
                if (P(i, j) > 0 && P(i, j) >= opt.plan_threshold) {
                    sp.data.push_back(P(i, j));
                    sp.indices.push_back(j);
                }
            sp.indptr.push_back(static_cast<std::int64_t>(sp.data.size()));
        }
        r.sparse_plan = std::move(sp);
    }
    return r;
}

}  // namespace detail

SinkhornResult exact_transport(const Matrix& cost, const Vector& a, const Vector& b, const SinkhornOptions& opt) {
    Vector f, g;
    const Matrix P = emd(a, b, cost, &f, &g);
    const double dual = f.dot(a) + g.dot(b);
    return detail::exact_result(P, cost, std::move(f), std::move(g), dual, opt);
}

}  // namespace orbit::ot
