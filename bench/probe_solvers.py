"""Each probe's solver in scikit-learn vs the hand-written one it replaced, on compare's problems.

``--probe logistic`` (the default): LogisticRegressionCV vs the hand-written L-BFGS path, on the
default compare's classification problem: ``rotten-tomatoes`` sampled like ``hiddenpool compare
--limit 4000 --seed 0``, embedded with the default MiniLM and ``mean``. ``--probe ridge``:
RidgeCV vs the hand-written SVD leave-one-out, on the default compare's own dataset
(``vader-movies``), ``mean`` (384 dims) and ``cls@concat(-4:)`` (1,536, the widest default).
Vectors are not normalised, as compare embeds them; 5 folds from ``make_folds``.

Both contenders run inside ``evaluate_features`` exactly as compare runs them (its thread pool,
one BLAS thread), rounds interleaved, medians of wall and CPU seconds reported, with what each
chose and scored, which should agree. The retired solvers are kept here as they were, so the
figures in bench/README.md can be measured again.

    python bench/probe_solvers.py --vectors /tmp/rt.npz                 # embeds once, caches
    python bench/probe_solvers.py --probe ridge --vectors /tmp/vader.npz

Writes bench/results/probe_solvers_<probe>.json (``--out``) with bench/provenance.py's record.

Not part of the package.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import hiddenpool.evaluate.compare as compare_module
from hiddenpool.evaluate import CompareResult, evaluate_features, make_folds
from hiddenpool.evaluate.folds import Fold
from hiddenpool.evaluate.logistic import DEFAULT_CS, LogisticFold, inner_splits
from hiddenpool.evaluate.ridge import DEFAULT_ALPHAS, RidgeFold

sys.path.insert(0, str(Path(__file__).parent))
from embed_common import spread
from provenance import provenance, write_results


@dataclass(frozen=True)
class Labels:
    labels: np.ndarray
    task: str


Params = tuple[np.ndarray, np.ndarray]  # W (d, K') and b (K'); K' = 1 for two classes


def _logits(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    z = x @ w + b
    return np.hstack([np.zeros((len(z), 1)), z]) if w.shape[1] == 1 else z


def _predict_proba(x: np.ndarray, params: Params) -> np.ndarray:
    z = _logits(x, *params)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _fit_logistic(
    x: np.ndarray, y: np.ndarray, n_classes: int, C: float, max_iter: int, init: Params | None
) -> Params:
    """Minimise ``sum_i CE_i + ||W||^2 / (2 C)`` (sklearn's objective) with scipy's L-BFGS."""
    from scipy.optimize import minimize

    n, d = x.shape
    width = 1 if n_classes == 2 else n_classes
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y] = 1.0

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: d * width].reshape(d, width), theta[d * width :]
        z = _logits(x, w, b)
        z = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        loss = float(np.sum(log_norm - np.sum(onehot * z, axis=1)))
        residual = np.exp(z - log_norm[:, None]) - onehot  # (n, K) dLoss/dlogits
        if width == 1:
            residual = residual[:, 1:]
        grad_w = x.T @ residual + w / C
        grad_b = residual.sum(axis=0)
        value = (loss + 0.5 * float(np.sum(w * w)) / C) / n
        return value, np.concatenate([grad_w.ravel(), grad_b]) / n

    theta0 = (
        np.zeros(d * width + width) if init is None else np.concatenate([init[0].ravel(), init[1]])
    )
    options = {"maxiter": max_iter, "gtol": 1e-4, "ftol": 64 * np.finfo(float).eps, "maxls": 50}
    theta = minimize(objective, theta0, jac=True, method="L-BFGS-B", options=options).x
    return theta[: d * width].reshape(d, width), theta[d * width :]


def hand_logistic_fold(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    n_classes: int,
    Cs: Sequence[float] = DEFAULT_CS,
    inner_folds: int = 3,
    seed: int = 0,
    max_iter: int = 200,
) -> LogisticFold:
    """The retired probe: the C path from strong to weak regularisation, each inner fold
    warm-started from its previous solution, stopping once the pooled inner log-loss has not
    improved for two steps; refit on all rows from the folds' mean solution."""
    from sklearn.preprocessing import StandardScaler

    grid = sorted(float(c) for c in Cs)
    x = np.asarray(x_train, dtype=np.float64)
    scaler = StandardScaler().fit(x)
    xs, xt = scaler.transform(x), scaler.transform(np.asarray(x_test, dtype=np.float64))
    y = np.asarray(y_train, dtype=np.int64)
    splits = inner_splits(y, inner_folds, seed)
    warm: list[Params | None] = [None] * len(splits)
    best_loss, best_c = np.inf, grid[0]
    best_oof = np.full((len(y), n_classes), 1.0 / n_classes)
    best_warm: list[Params] = []
    stale = 0
    for C in grid:
        oof = np.zeros((len(y), n_classes))
        fitted: list[Params] = []
        for i, (fit_rows, val_rows) in enumerate(splits):
            params = _fit_logistic(xs[fit_rows], y[fit_rows], n_classes, C, max_iter, warm[i])
            warm[i] = params
            fitted.append(params)
            oof[val_rows] = _predict_proba(xs[val_rows], params)
        loss = float(-np.mean(np.log(np.clip(oof[np.arange(len(y)), y], 1e-15, None))))
        if loss < best_loss:
            best_loss, best_c, best_oof, best_warm, stale = loss, C, oof, fitted, 0
        else:
            stale += 1
            if stale >= 2:
                break
    init = (
        np.mean([p[0] for p in best_warm], axis=0),
        np.mean([p[1] for p in best_warm], axis=0),
    )
    final = _fit_logistic(xs, y, n_classes, best_c, max_iter, init)
    return LogisticFold(C=best_c, test_proba=_predict_proba(xt, final), inner_proba=best_oof)


def hand_ridge_fold(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> RidgeFold:
    """The retired ridge probe: one eigendecomposition of the smaller Gram matrix of the
    standardised training rows, then exact leave-one-out residuals for every alpha in O(n r)."""
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x_train, dtype=np.float64)
    scaler = StandardScaler().fit(x)
    xs, xt = scaler.transform(x), scaler.transform(np.asarray(x_test, dtype=np.float64))
    y = np.asarray(y_train, dtype=np.float64).reshape(len(xs), -1)  # (n, k)
    y_mean = y.mean(axis=0)
    yc = y - y_mean
    n, d = xs.shape
    gram = xs.T @ xs if d <= n else xs @ xs.T
    lam, vectors = np.linalg.eigh(gram)
    keep = lam > max(float(lam[-1]), 0.0) * 1e-12  # drop null directions
    lam, vectors = lam[keep], vectors[:, keep]
    if d <= n:
        v, u = vectors, (xs @ vectors) / np.sqrt(lam)
    else:
        u, v = vectors, (xs.T @ vectors) / np.sqrt(lam)
    uy = u.T @ yc  # (r, k)
    u2 = u * u  # (n, r)
    grid = np.asarray(alphas, dtype=np.float64)
    errors = np.empty((len(grid), y.shape[1]))
    loo = np.empty((len(grid), *y.shape))
    for i, alpha in enumerate(grid):
        shrink = lam / (lam + alpha)  # (r,)
        leverage = np.minimum(1.0 / n + u2 @ shrink, 1.0 - 1e-12)  # (n,); 1/n: the intercept
        resid = (yc - u @ (shrink[:, None] * uy)) / (1.0 - leverage)[:, None]
        errors[i] = np.mean(resid**2, axis=0)
        loo[i] = y - resid
    best = np.argmin(errors, axis=0)  # (k,)
    chosen = grid[best]
    coef = (np.sqrt(lam)[:, None] / (lam[:, None] + chosen[None, :])) * uy  # (r, k)
    test_pred = (xt @ v) @ coef + y_mean
    inner_pred = loo[best, :, np.arange(y.shape[1])].T  # (n, k)
    return RidgeFold(alphas=chosen, test_pred=test_pred, inner_pred=inner_pred)


@dataclass(frozen=True)
class Problem:
    """Labelled vectors for ``evaluate_features``: one feature set per strategy."""

    features: dict[str, np.ndarray]
    labels: np.ndarray
    task: str


def load_problem(
    path: Path | None, dataset: str, specs: list[str], limit: int, seed: int
) -> Problem:
    """Embed a registered dataset like ``hiddenpool compare`` (sampled with ``seed``, default
    MiniLM, not normalised), or read the ``.npz`` cache at ``path`` (written when missing)."""
    from hiddenpool.data import get_dataset_info

    task = get_dataset_info(dataset).task
    if path is not None and path.exists():
        cached = np.load(path)
        return Problem({s: cached[f"x{i}"] for i, s in enumerate(specs)}, cached["labels"], task)
    from hiddenpool import Encoder
    from hiddenpool.compare import subsample
    from hiddenpool.data import load_dataset

    data = subsample(load_dataset(dataset), limit, seed)
    start = time.perf_counter()
    features = Encoder(normalize=False).encode_many(data.texts, specs)
    print(f"embedded {len(data.texts)} texts in {time.perf_counter() - start:.0f} s", flush=True)
    labels = np.asarray(data.labels)
    if path is not None:
        arrays = {f"x{i}": features[s] for i, s in enumerate(specs)}
        np.savez(path, labels=labels, **arrays)  # type: ignore[arg-type]
    return Problem(dict(features), labels, task)


def run(
    probe: str, solver: Callable[..., object], problem: Problem, folds: list[Fold]
) -> tuple[float, float, CompareResult]:
    """Wall seconds, CPU seconds (all threads) and the result of compare's probing with
    ``solver`` in place of hiddenpool's ``probe`` solver."""
    name = f"{probe}_fold"
    original = getattr(compare_module, name)
    setattr(compare_module, name, solver)  # evaluate_features looks it up at call time
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        result = evaluate_features(problem.features, Labels(problem.labels, problem.task), folds)
        return time.perf_counter() - wall, time.process_time() - cpu, result
    finally:
        setattr(compare_module, name, original)


PROBES = {  # probe -> default dataset, strategies, (retired solver, hiddenpool's solver)
    "logistic": ("rotten-tomatoes", ["mean"], ("hand-written", "LogisticRegressionCV")),
    "ridge": ("vader-movies", ["mean", "cls@concat(-4:)"], ("hand-written", "RidgeCV")),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", choices=sorted(PROBES), default="logistic")
    parser.add_argument("--dataset", default=None, help="default: by probe (see PROBES)")
    parser.add_argument("--limit", type=int, default=4000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--vectors", type=Path, default=None, help="an .npz cache of the vectors")
    parser.add_argument("--out", default=None, help="results file (probe_solvers_<probe>.json)")
    args = parser.parse_args()
    started = provenance()

    dataset, specs, names = PROBES[args.probe]
    problem = load_problem(args.vectors, args.dataset or dataset, specs, args.limit, args.seed)
    n = len(problem.labels)
    folds = make_folds(n, args.folds, args.seed, labels=problem.labels, task=problem.task)
    dims = ", ".join(f"{s} {x.shape[1]}" for s, x in problem.features.items())
    print(f"{args.dataset or dataset}: {n} rows ({dims} dims), {args.folds} folds")
    retired = hand_logistic_fold if args.probe == "logistic" else hand_ridge_fold
    contenders = {names[0]: retired, names[1]: getattr(compare_module, f"{args.probe}_fold")}
    scores: dict[str, dict[str, float]] = {name: {} for name in contenders}
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    for round_ in range(args.repeats):
        for name, solver in contenders.items():
            took, used, result = run(args.probe, solver, problem, folds)
            wall[name].append(took)
            cpu[name].append(used)
            shown = []
            for strategy in result.strategies:
                metric = strategy.metrics[result.primary_metric]
                chosen = ",".join(f"{v:g}" for p in strategy.params for v in p)
                scores[name][strategy.name] = round(float(metric.mean), 4)
                shown.append(
                    f"{strategy.name} ({strategy.seconds:.1f} s wall): "
                    f"{result.primary_metric} {metric.mean:.4f} "
                    f"(folds {' '.join(f'{v:.4f}' for v in metric.folds)}) "
                    f"{strategy.param_name} {chosen}"
                )
            print(
                f"round {round_ + 1} {name}: {took:.2f} s wall, {used:.2f} s CPU; "
                + "; ".join(shown),
                flush=True,
            )
    summary: dict[str, dict[str, object]] = {}
    for kind, seconds in (("wall", wall), ("CPU", cpu)):
        old, new = (seconds[name] for name in names)
        ratios = [b / a for a, b in zip(old, new, strict=True)]
        summary[kind] = {
            names[0]: spread(old, 2),
            names[1]: spread(new, 2),
            "ratio_of_medians": round(statistics.median(new) / statistics.median(old), 2),
        }
        print(
            f"{kind}: median {names[0]} {statistics.median(old):.2f} s, "
            f"{names[1]} {statistics.median(new):.2f} s; "
            f"ratio of medians {statistics.median(new) / statistics.median(old):.2f}x, "
            f"median of per-round ratios {statistics.median(ratios):.2f}x"
        )
    payload = {
        "probe": args.probe,
        "dataset": args.dataset or dataset,
        "rows": n,
        "strategies": {s: int(x.shape[1]) for s, x in problem.features.items()},
        "folds": args.folds,
        "repeats": args.repeats,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "summary": summary,
        "primary_metric_mean": scores,
        "same_scores": scores[names[0]] == scores[names[1]],
    }
    write_results(args.out or f"probe_solvers_{args.probe}", payload, started)


if __name__ == "__main__":
    main()
