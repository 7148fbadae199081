"""Gold OEE against the simulated plant's ground truth: the test that the KPIs are right."""

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import functions as F

from lakehouse.lake import Lake


@dataclass(frozen=True)
class TruthComparison:
    """Largest absolute differences (percentage points) over the complete shifts compared."""

    shifts: int
    max_availability_pp: float
    max_performance_pp: float
    max_quality_pp: float
    max_oee_pp: float

    def __str__(self) -> str:
        return (
            f"{self.shifts} equipment × shifts compared; largest difference: availability "
            f"{self.max_availability_pp:.3f} pp, performance {self.max_performance_pp:.3f} pp, "
            f"quality {self.max_quality_pp:.3f} pp, OEE {self.max_oee_pp:.3f} pp"
        )


def compare_with_truth(lake: Lake, truth_shifts: Path | str) -> TruthComparison:
    """Compare gold.oee_shift with the plant's `truth/shifts.parquet`, equipment × shift.

    Only shifts the truth covers whole are compared (the truth cuts the last one at the end of
    the simulated horizon, gold at the end of the data).
    """
    truth = lake.spark.read.parquet(str(truth_shifts)).select(
        "equipment_id",
        "shift_id",
        (F.col("run_s") / F.col("planned_busy_s")).alias("ta"),
        (F.col("ideal_time_s") / F.col("run_s")).alias("tp"),
        (F.col("good") / F.col("produced")).alias("tq"),
        "planned_s",
    )
    gold = lake.read("gold.oee_shift").where("is_complete")
    gold = gold.withColumnRenamed("planned_s", "gold_planned_s")
    joined = truth.join(gold, ["equipment_id", "shift_id"]).where(
        F.col("planned_s") == F.col("gold_planned_s")
    )
    diff = lambda a, b: F.abs(F.coalesce(F.col(a), F.lit(0.0)) - F.coalesce(F.col(b), F.lit(0.0)))  # noqa: E731
    row = joined.agg(
        F.count("*").alias("n"),
        F.max(diff("ta", "availability")).alias("a"),
        F.max(diff("tp", "performance")).alias("p"),
        F.max(diff("tq", "quality")).alias("q"),
        F.max(
            F.abs(
                F.coalesce(F.col("ta") * F.col("tp") * F.col("tq"), F.lit(0.0))
                - F.coalesce("oee", F.lit(0.0))
            )
        ).alias("o"),
    ).first()
    pp = lambda v: 100.0 * (v or 0.0)  # noqa: E731
    return TruthComparison(row.n, pp(row.a), pp(row.p), pp(row.q), pp(row.o))
