"""The workbench (`plantlake up` / `plantlake down`): Mosquitto, PostgreSQL, the live plant,
ingestion, Dagster, MLflow, JupyterLab and the SQL endpoint on 127.0.0.1, detached, each with
its own log under `<lake>/_workbench/logs/` and its PID in `<lake>/_workbench/state.json`."""
