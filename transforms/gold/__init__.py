"""Gold: KPIs, features and asset state as pure functions of silver DataFrames."""
