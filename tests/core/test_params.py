"""The one whole-number parser of query strings, form posts and bodies (apps.core.params)."""

from __future__ import annotations

import pytest

from apps.core.errors import ApplicationError
from apps.core.params import MAX_ID, int_param, int_param_or_none


@pytest.mark.parametrize(
    "value, expected", [(None, None), ("", None), ("0", 0), ("42", 42), (7, 7), (str(MAX_ID), MAX_ID)]
)
def test_whole_numbers_in_range_are_read(value, expected):
    assert int_param(value, name="channel") == expected


@pytest.mark.parametrize("value", ["abc", "1.5", "-1", str(MAX_ID + 1), True, [], "٣x"])
def test_anything_else_is_a_400_naming_the_field(value):
    with pytest.raises(ApplicationError) as exc:
        int_param(value, name="channel")
    assert exc.value.code == "invalid_filter" and "channel" in str(exc.value.message)
    assert int_param_or_none(value) is None


def test_bounds_are_the_callers():
    assert int_param("-3", name="offset", minimum=-5) == -3
    with pytest.raises(ApplicationError):
        int_param("11", name="limit", maximum=10)
