"""`automation_condition_sensor`: evaluates every asset's `AutomationCondition` (the warehouse rebuild, the
eager ML assets), running by default.

Dagster's implicit `default_automation_condition_sensor` starts stopped, so on a fresh instance nothing
with an automation condition ever ran until someone switched it on in the UI.
"""

import dagster as dg

automation_condition_sensor = dg.AutomationConditionSensorDefinition(
    "automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Requests the runs the assets' automation conditions ask for (warehouse, ML).",
)
