"""eventkit.db.named: :name placeholders become asyncpg's $n, casts (::type) stay as they are."""

import pytest

from eventkit.db import named


def test_names_are_numbered_in_first_use_order_and_repeats_share_a_number():
    sql, args = named("SELECT :b::text, x::int, :a, :b FROM t WHERE y = :a::uuid[]", a=1, b=2)
    assert sql == "SELECT $1::text, x::int, $2, $1 FROM t WHERE y = $2::uuid[]"
    assert args == [2, 1]


def test_a_missing_or_an_extra_parameter_is_an_error():
    with pytest.raises(KeyError):
        named("SELECT :a, :b", a=1)
    with pytest.raises(KeyError):
        named("SELECT :a", a=1, b=2)


def test_text_that_only_looks_like_a_name_is_left_alone():
    sql, args = named("SELECT 'a:b', now()::timestamptz, :x", x=3)
    assert sql == "SELECT 'a:b', now()::timestamptz, $1" and args == [3]
