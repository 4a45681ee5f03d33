"""Markdown tables from the benchmark results (medians, spreads, ratios)."""

import statistics

MB = 1024.0**2


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_t(xs):
    """``median (min–max)`` in seconds, or just the value for a single run."""
    if not xs:
        return "n/a"
    m = med(xs)
    if len(xs) == 1:
        return _s(m)
    return f"{_s(m)} ({_s(min(xs))}–{_s(max(xs))})"


def _s(t):
    if t >= 100:
        return f"{t:.0f}"
    if t >= 10:
        return f"{t:.1f}"
    if t >= 0.1:
        return f"{t:.2f}"
    return f"{t:.3f}"


def _x(r):
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"


def ratio(a, b):
    if not a or not b or med(b) <= 0:
        return "n/a"
    r = med(a) / med(b)
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"


def _shape_label(r):
    p = r["p"]
    dens = r["nnz"] / (r["n"] * p)
    tag = f" ({dens:.1%} nnz)" if dens < 1 else ""
    return f"{r['shape']} {r['n']}×{p}{tag}"


def write_report(meta, results, paper_rif, paper_fit):
    rate = med(meta["rates"]) * 1e9
    lines = [
        "# skrif benchmark results",
        "",
        f"Run {meta['date']}: `.venv/bin/python {meta['command'].strip()}`",
        "",
        f"**Machine:** {meta['machine']}.",
        "",
        "Cells are `median (min–max)` seconds over the repeats shown; the machine is shared",
        "with other jobs, so read the ratios (measured in the same run) rather than the",
        "absolute times. Synthetic planted-logistic data of the paper's shapes",
        "(`benchmarks/_data.py`); LogisticRegression uses `C = 1/(λ n)` with the paper's λ,",
        "Ridge `alpha = λ n` on a linear target.",
        "",
    ]
    main = [r for r in results if r["model"] != "glm" and "error" not in r]
    glm = [r for r in results if r["model"] == "glm" and "error" not in r]
    errors = [r for r in results if "error" in r]

    if main:
        lines += [
            "## Fit: wrapped estimator vs skrif's overhead",
            "",
            "skrif overhead = `InfluenceEstimator.fit` minus the wrapped estimator's own fit",
            "inside it (objective, optimality check, Newton polishing when the wrapped fit is",
            "not at the optimum, Hessian factorization, leverages). Target: ≤ 1× the default fit.",
            "",
            "| shape | model | reps | sklearn default fit | sklearn tight fit | skrif overhead (default inner) | ÷ default fit | polish steps / factorizations | skrif overhead (tight inner) | ÷ default fit |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in main:
            lines.append(
                f"| {_shape_label(r)} | {r['model']} | {r['repeats']} | {fmt_t(r['est_default'])} | "
                f"{fmt_t(r.get('est_tight'))} | {fmt_t(r['skrif_fit_default_overhead'])} | "
                f"{ratio(r['skrif_fit_default_overhead'], r['est_default'])} | "
                f"{r['skrif_fit_default_polish_steps']} / {r['skrif_fit_default_n_factor']} | "
                f"{fmt_t(r.get('skrif_fit_tight_overhead'))} | "
                f"{ratio(r.get('skrif_fit_tight_overhead'), r['est_default'])} |"
            )
        lines += [
            "",
            "## Attribution stages (after fit)",
            "",
            "*all-n RIF* = *factor + leverages* (a fresh Hessian factorization at θ̂ and",
            "every row's leverage) + *self-influence* (`InfluenceEstimator.self_influence()`,",
            "every row's RIF effect on its own loss). *floor*: the flop count of factor +",
            "leverages in the cheaper dense form (primal `2np̃² + p̃³/3`, dual `n²p̃ + 2n³/3`)",
            "÷ the matmul rate measured in the same process just before. *paper*: the published implementation's all-n RIF vectors on this",
            "machine (BENCHMARKS.md). *scores*: (n × 100) RIF effects on 100 evaluation rows.",
            "*newton* / *refit*: one removal set of 5% of n. *naive LOO*: exact refits of the",
            "wrapped estimator (tight solver where available) on 3 rows, **extrapolated** × n.",
            "",
            "| shape | model | form | factor + leverages | self-influence | all-n RIF | floor | ÷ floor | paper | paper ÷ skrif | scores (100 eval) | newton 5% | refit 5% | naive LOO (extrapolated) | naive ÷ all-n RIF |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in main:
            dense = r["nnz"] == r["n"] * r["p"]
            floor = r["floor_flops"] / (r.get("rate", rate / 1e9) * 1e9) if dense else None
            paper = paper_rif.get(r["shape"]) if r["model"] == "logistic" else None
            naive = med(r["naive_loo_per_row"]) * r["n"]
            lines.append(
                f"| {_shape_label(r)} | {r['model']} | {r['form'].replace('Curvature', '').lower()} | "
                f"{fmt_t(r['factor_leverages'])} | {fmt_t(r['self_influence'])} | {fmt_t(r['all_n_rif'])} | "
                + (f"{_s(floor)} ({r['floor_flops'] / 1e9:.1f} GFLOP) | {_x(med(r['all_n_rif']) / floor)} | " if floor else "— | — | ")
                + (f"{paper} s | {_x(paper / med(r['all_n_rif']))} | " if paper else "— | — | ")
                + f"{fmt_t(r['influence_scores_100'])} | {fmt_t(r['newton_5pct'])} | {fmt_t(r['refit_5pct'])} | "
                f"{_s(naive)} ({r['naive_loo_estimator']}) | {_x(naive / med(r['all_n_rif']))} |"
            )
        mem = [r for r in main if isinstance(r.get("memory"), dict) and "error" not in r["memory"]]
        if mem:
            lines += [
                "",
                "## Peak memory",
                "",
                "One fresh process per shape: data generated in place, the wrapped estimator",
                "fitted (scikit-learn's own memory), then skrif run on that fitted model",
                "(`InfluenceEstimator(FrozenEstimator(fitted)).fit`, polishing included) and each",
                "attribution stage once, as a user would. *skrif peak*: the most memory skrif",
                "held at any point (tracemalloc), plus X. *budget* = size of X +",
                "3·min(n, p)²·8 bytes + 100 MB. *process peak*: RSS high-water mark above the",
                "RSS after imports, including the wrapped fit (sklearn's Ridge copies X to",
                "centre it, for instance). Stage columns: peak allocated during the stage",
                "beyond what was live before it.",
                "",
                "| shape | model | X | skrif peak | budget | within | process peak (incl. wrapped fit) | fit | self-influence | scores | newton 5% | refit 5% |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            for r in mem:
                m = r["memory"]
                peak = m["X_bytes"] + m["skrif_peak"]
                proc = m["peak_rss"] - m["base_rss"]
                budget = m["X_bytes"] + 3 * min(r["n"], r["p"]) ** 2 * 8 + 100 * MB
                st = m["stage_peak_alloc"]
                lines.append(
                    f"| {_shape_label(r)} | {r['model']} | {m['X_bytes'] / MB:.0f} MB | {peak / MB:.0f} MB | "
                    f"{budget / MB:.0f} MB | {'yes' if peak <= budget else f'no ({peak / budget:.2f}×)'} | {proc / MB:.0f} MB | "
                    + " | ".join(f"{st[k] / MB:.0f} MB" for k in ("skrif_fit", "self_influence", "influence_scores_100", "newton_5pct", "refit_5pct"))
                    + " |"
                )
    if glm:
        lines += [
            "",
            "## All-row one-step leave-one-out parameters vs statsmodels",
            "",
            "Unpenalised binary logistic regression (p < n). statsmodels: `GLM(...).fit()` then",
            "`get_influence().d_params` (n × p). skrif: from the fitted model, a Hessian",
            "factorization with leverages and every row's RIF parameter vector (n × p̃), which",
            "equal statsmodels' one-step `d_params` up to sign (relative difference shown).",
            "",
            "| shape | reps | statsmodels d_params | skrif factor + all-row params | statsmodels ÷ skrif | skrif all-n RIF (leverages + self-influence) | statsmodels ÷ that | rel. difference |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in glm:
            lines.append(
                f"| {r['shape']} | {r['repeats']} | {fmt_t(r['sm_d_params'])} | {fmt_t(r['skrif_all_row_params'])} | "
                f"{ratio(r['sm_d_params'], r['skrif_all_row_params'])} | {fmt_t(r['skrif_all_n_rif'])} | "
                f"{ratio(r['sm_d_params'], r['skrif_all_n_rif'])} | {r['agreement_rel']:.1e} |"
            )
    if errors:
        lines += ["", "## Failed runs", ""]
        for r in errors:
            lines.append(f"* {r['shape']} / {r['model']}: `{' '.join(r['error'])}`")
    return "\n".join(lines) + "\n"
