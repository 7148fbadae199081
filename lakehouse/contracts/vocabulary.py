"""The words plantlake's machine states and stop reasons are written in, from the simulated plant
to silver.equipment_states and the reliability KPIs: declared once, imported everywhere else."""

from __future__ import annotations

# The machine-state vocabulary of silver.equipment_states.
STATES = ("running", "idle", "planned_stop", "unplanned_stop", "changeover")

# The reasons a machine gives for each kind of stop.
UNPLANNED_REASONS = ("breakdown", "electrical_fault", "jam", "material_shortage", "quality_hold")
IDLE_REASONS = ("starved", "blocked")
PLANNED_REASONS = ("break", "planned_maintenance", "not_scheduled")

# The unplanned stops that are failures (need a repair): MTBF and MTTR count these, a jam or a
# shortage is a stop but not a failure.
FAILURE_REASONS = ("breakdown", "electrical_fault")
