"""Every test here belongs to the security suite (`pytest -m security`), with the probes that
live beside the services they need (the SQL endpoint's, the workbench's)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.security)
