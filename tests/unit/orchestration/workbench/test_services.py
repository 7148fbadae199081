"""The SQL endpoint's `analyst` account: made by the lake's first `plantlake up` alone, so a
removed or replaced account stays so, and the table never shows a password that no longer logs
in."""

from __future__ import annotations

import functools

import pytest

from lakehouse import sql_users
from lakehouse.sql_users import add_user, list_users, remove_user, users_file
from orchestration.workbench.services import sql_credentials

SHOWN = "analyst / first-pw (more: plantlake users add)"


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    """Few PBKDF2 rounds: the rounds are not what is tested here (test_sql_users.py)."""
    fast = functools.partial(sql_users.hash_password, iterations=1000)
    monkeypatch.setattr(sql_users, "hash_password", fast)


def test_the_first_up_makes_the_analyst_and_shows_its_password(tmp_path):
    users = users_file(tmp_path)
    assert sql_credentials(users, "first-pw") == SHOWN
    assert list_users(users) == [("analyst", "analyst")]
    made = users.read_bytes()
    assert sql_credentials(users, "first-pw") == SHOWN
    assert users.read_bytes() == made  # a second `up` leaves the file alone


def test_a_removed_analyst_is_not_made_again(tmp_path):
    users = users_file(tmp_path)
    sql_credentials(users, "first-pw")
    remove_user(users, "analyst")  # `plantlake users remove analyst`: its password leaked
    assert sql_credentials(users, "first-pw") == "see plantlake users list"
    assert list_users(users) == []


def test_a_replaced_analyst_password_is_not_shown(tmp_path):
    users = users_file(tmp_path)
    sql_credentials(users, "first-pw")
    add_user(users, "analyst", "analyst", "new-pw", replace=True)
    assert sql_credentials(users, "first-pw") == "see plantlake users list"
    assert sql_users.logs_in(users, "analyst", "new-pw")
    assert not sql_users.logs_in(users, "analyst", "first-pw")


def test_users_added_before_the_first_up_get_no_analyst_beside_them(tmp_path):
    users = users_file(tmp_path)
    add_user(users, "bob", "engineer", "bob-pw")
    assert sql_credentials(users, "first-pw") == "see plantlake users list"
    assert list_users(users) == [("bob", "engineer")]
