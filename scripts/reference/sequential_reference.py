#!/usr/bin/env python3
# TEST-ONLY reference generator. Not used at runtime; nothing in src/ imports it.
#
# Produces reference numbers from the PyPI package `confseq` (Howard,
# Waudby-Smith, Ramdas) for the TypeScript unit tests of the anytime-valid
# gates. Its output is committed as test/fixtures/sequential-reference.json;
# regenerate only when the cases below change.
#
# How to run (confseq 0.0.11 ships no wheels; its sdist needs Boost headers and
# pins pybind11~=2.6, which cannot build on Python 3.11, so build it without
# build isolation against a newer pybind11):
#
#   apt-get install -y libboost-dev
#   python3 -m venv ~/.cache/model-rollout/stats-venv
#   V=~/.cache/model-rollout/stats-venv/bin
#   $V/pip install setuptools wheel "pybind11>=2.10,<3" cmake scikit-build numpy scipy
#   $V/pip install --no-build-isolation confseq==0.0.11
#   $V/python scripts/reference/sequential_reference.py > test/fixtures/sequential-reference.json
#
# Works with numpy 1.26 and numpy 2.x (confseq 0.0.11 refers to np.float_ in
# type annotations only; a shim below restores that alias under numpy 2).

import json
import math
import re
import sys

import numpy as np

if not hasattr(np, "float_"):  # numpy >= 2 removed the alias; confseq uses it in annotations
    np.float_ = np.float64

from importlib.metadata import version

from scipy.special import expit, logit

from confseq import boundaries
from confseq.betting import betting_mart, diversified_betting_mart

THETAS = [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2]
CHECKPOINTS = [10, 50, 100, 200, 500, 1000]

# trunc_scale=1 with m_trunc=True caps positive-side bets at 1/m. Our bets are
# lambda = (p1 - p0) / (p0 (1 - p0)) < 1/p0 for any p1 < 1, so the cap never
# binds (asserted below). confseq's default trunc_scale=1/2 WOULD bind in case C.
TRUNC_SCALE = 1.0

CASES = [
    {"name": "A", "p0": 0.015, "true_rate": 0.03, "n": 1000, "seed": 20240101},
    {"name": "B", "p0": 0.015, "true_rate": 0.01, "n": 1000, "seed": 20240102},
    {"name": "C", "p0": 0.7, "true_rate": 0.75, "n": 1000, "seed": 20240103},
]


def bernoulli_sequence(rate, n, seed):
    rng = np.random.default_rng(seed)
    return (rng.random(n) < rate).astype(np.int64)


def constant_bet(lam):
    # confseq expects bivariate functions (x, m) -> array of bets, one per x_i.
    return lambda x, m, lam=lam: np.full(len(x), lam, dtype=float)


def run_case(case):
    p0 = case["p0"]
    n = case["n"]
    x = bernoulli_sequence(case["true_rate"], n, case["seed"])
    xf = x.astype(float)

    p1s = [float(expit(logit(p0) + th)) for th in THETAS]
    lambdas = [(p1 - p0) / (p0 * (1 - p0)) for p1 in p1s]
    for lam in lambdas:
        assert 0 < lam < TRUNC_SCALE / p0, "bet would be truncated by confseq"
    K = len(lambdas)
    weights = [1.0 / K] * K
    fns = [constant_bet(lam) for lam in lambdas]

    # theta=1: positive (H1: mean > m) capital process only; result is the
    # raw (not log) mixture wealth sum_k w_k prod_i (1 + lambda_k (x_i - m)).
    mart = diversified_betting_mart(
        xf,
        p0,
        lambdas_fns_positive=fns,
        lambdas_weights=np.array(weights),
        theta=1,
        trunc_scale=TRUNC_SCALE,
        m_trunc=True,
    )
    assert np.all(mart > 0) and np.all(np.isfinite(mart))
    log_m = np.log(mart)

    # Sanity check of the semantics we report (not part of the output):
    # log-sum-exp over per-bet log wealth must match confseq's result.
    per_bet_log = np.array(
        [np.cumsum(np.log1p(lam * (xf - p0))) for lam in lambdas]
    )
    direct = np.log(np.sum(np.array(weights)[:, None] * np.exp(per_bet_log), axis=0))
    assert np.allclose(direct, log_m, rtol=1e-9, atol=1e-9), "unexpected confseq semantics"

    per_bet_final = [
        float(np.log(betting_mart(xf, p0, lambdas_fn_positive=f, theta=1,
                                  trunc_scale=TRUNC_SCALE, m_trunc=True)[-1]))
        for f in fns
    ]

    ts = sorted(set([t for t in CHECKPOINTS if t <= n] + [n]))
    return {
        "name": case["name"],
        "p0": p0,
        "true_rate": case["true_rate"],
        "n": n,
        "seed": case["seed"],
        "thetas": THETAS,
        "p1s": p1s,
        "lambdas": lambdas,
        "weights": weights,
        "successes": int(x.sum()),
        "x": [int(v) for v in x],
        "log_M": {str(t): float(log_m[t - 1]) for t in ts},
        "max_log_M": float(np.max(log_m)),
        "log_wealth_per_bet_final": per_bet_final,
    }


def best_rho_two_sided(v, alpha):
    # Mirrors TwoSidedNormalMixture::best_rho in confseq's uniform_boundaries.h
    # (documentation only; the bounds below come from confseq itself).
    return v / (2 * math.log(1 / alpha) + math.log(1 + 2 * math.log(1 / alpha)))


def normal_mixture():
    vs = [10.0, 100.0, 1000.0, 10000.0]
    alpha, v_opt = 0.01, 1000.0
    out = []
    for alpha_opt in (0.01, 0.05):  # 0.05 is confseq's default alpha_opt
        for one_sided in (True, False):
            bounds = boundaries.normal_mixture_bound(
                v=np.array(vs), alpha=alpha, v_opt=v_opt,
                alpha_opt=alpha_opt, is_one_sided=one_sided,
            )
            rho = best_rho_two_sided(v_opt, 2 * alpha_opt if one_sided else alpha_opt)
            for v, b in zip(vs, bounds):
                lm = float(boundaries.normal_log_mixture(
                    s=b, v=v, v_opt=v_opt, alpha_opt=alpha_opt, is_one_sided=one_sided))
                assert abs(lm - math.log(1 / alpha)) < 1e-6
                out.append({
                    "v": v, "alpha": alpha, "v_opt": v_opt, "alpha_opt": alpha_opt,
                    "is_one_sided": one_sided, "bound": float(b), "rho": rho,
                })
    return out


def main():
    result = {
        "generator": "scripts/reference/sequential_reference.py",
        "confseq_version": version("confseq"),
        "numpy_version": np.__version__,
        "semantics": (
            "log_M[t] = log(sum_k w_k prod_{i<=t} (1 + lambda_k (x_i - p0))), from "
            "confseq.betting.diversified_betting_mart(theta=1, trunc_scale=1, m_trunc=True); "
            "t is 1-indexed; lambda_k = (p1_k - p0)/(p0 (1 - p0)), p1_k = expit(logit(p0) + theta_k)"
        ),
        "cases": [run_case(c) for c in CASES],
        "normal_mixture": normal_mixture(),
    }
    text = json.dumps(result, indent=1, allow_nan=False)
    # keep numeric arrays (notably the 1000-long x) on one line each
    text = re.sub(r"\[\s*([-+0-9.eE,\s]+?)\s*\]",
                  lambda mt: "[" + ",".join(mt.group(1).split()).replace(",,", ",") + "]", text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
