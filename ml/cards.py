"""Model cards: what a registered version predicts, from which data, how it did on its holdout
beside the baselines, what the gate decided and what it cannot do. Written from the training's
own facts (columns, time unit, split, table versions), so a card is true for any table."""

from __future__ import annotations

import numpy as np

from ml.registry import Decision
from ml.train import Trained


def _f(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if x is not None and np.isfinite(x) else "n/a"


def _data(t: Trained, source: str, versions: dict | None) -> str:
    s, p = t.split, t.problem
    where = f"{source} (unit `{p.id_col}`, time `{p.time_col}` in {s.axis.unit})"
    tables = ", ".join(f"{n} v{v}" for n, v in (versions or {}).items())
    held = {
        "time": f"holdout {s.axis.show(s.test_start)} – {s.axis.show(s.test_end)}",
        "group": f"holdout: {s.test_units} whole units",
        "given": "holdout: a test table given by the caller",
    }[s.kind]
    return (
        f"**Data**: {where}; trained on {t.train_rows} rows of {s.train_units} units "
        f"({s.axis.show(s.train_start)} – {s.axis.show(s.train_end)}), {held} "
        f"({len(t.holdout)} rows)" + (f"; {tables}" if tables else "") + "."
    )


def _features(t: Trained) -> str:
    cats = [c for c in t.problem.feature_cols if c in t.problem.categorical_cols]
    return f"**Features** ({len(t.problem.feature_cols)}): " + ", ".join(
        f"`{c}`" + (" (categorical)" if c in cats else "") for c in t.problem.feature_cols
    )


def classifier_card(
    t: Trained,
    *,
    predicts: str,
    source: str,
    decision: Decision,
    versions: dict | None = None,
    lead: dict | None = None,
    limits: str = "",
) -> str:
    m = t.metrics
    lines = [
        f"**Predicts** {predicts}",
        _data(t, source, versions),
        _features(t),
        f"**Holdout**: PR-AUC {_f(m['pr_auc'])}, ROC-AUC {_f(m['roc_auc'])}, Brier "
        f"{_f(m['brier'], 4)}, precision {_f(m['precision'], 2)} / recall "
        f"{_f(m['recall'], 2)} at threshold {_f(t.threshold)}; "
        + ", ".join(
            f"baseline {k}: PR-AUC {_f(v['pr_auc'])}" for k, v in t.baseline_metrics.items()
        ),
    ]
    if lead:
        lines.append(
            f"**Failures in the holdout**: {lead.get('failures', 0)}, caught "
            f"{lead.get('failures_caught', 0)}, median lead time "
            f"{_f(lead.get('lead_time_median', np.nan), 1)} {t.axis.unit}."
        )
    lines.append(f"**Gate** (PR-AUC on the same holdout): {decision.reason}.")
    if limits:
        lines.append(f"**Limits**: {limits}")
    return "\n\n".join(lines)


def regressor_card(
    t: Trained,
    *,
    predicts: str,
    source: str,
    decision: Decision,
    versions: dict | None = None,
    limits: str = "",
) -> str:
    m, base, u = t.metrics, t.baseline_metrics["train_mean"], t.axis.unit
    lines = [
        f"**Predicts** {predicts}",
        _data(t, source, versions),
        _features(t),
        f"**Holdout**, per row: RMSE {_f(m['rmse'], 1)} {u}, MAE {_f(m['mae'], 1)} {u} "
        f"(training mean: RMSE {_f(base['rmse'], 1)} {u}).",
    ]
    if t.last:
        lm, lb = t.last["model"], t.last["train_mean"]
        lines.append(
            f"**Each held-out unit at its last observed time** ({lm['rows']} units): RMSE "
            f"{_f(lm['rmse'], 1)} {u}, score {_f(lm['score'], 1)} (training mean: RMSE "
            f"{_f(lb['rmse'], 1)}, score {_f(lb['score'], 1)})."
        )
    if t.interval is not None:
        lines.append(
            f"**Interval**: {t.interval.coverage:.0%} split-conformal, covering "
            f"{_f(m['interval_coverage'] * 100, 1)} % of the holdout, mean width "
            f"{_f(m['interval_width'], 1)} {u}. Its widths are the validation residuals of "
            "the model fit before the validation slice; the registered model, refit on every "
            "training row, uses them unchanged, so the measured coverage is the figure to trust."
        )
    lines.append(f"**Gate** (RMSE on the same holdout): {decision.reason}.")
    if limits:
        lines.append(f"**Limits**: {limits}")
    return "\n\n".join(lines)
