"""`shared.queue.json_input`, the depth and NUL checks the HTTP function and the CLI share.

Real: the checker on JSON text, as both callers hand it over. Nothing faked; no database.
"""

from __future__ import annotations

import pytest

from shared.queue.json_input import MAX_DEPTH, JsonRefused, load_json


def refusal(text: str, root: str = "", level: int = 1) -> JsonRefused:
    with pytest.raises(JsonRefused) as refused:
        load_json(text, root, level)
    return refused.value


def test_a_nul_inside_arrays_is_named_by_its_indices() -> None:
    refused = refusal('{"a": [1, [{"b": "x\\u0000"}]]}', "payload")
    assert refused.field == "payload.a.1.0.b"
    assert str(refused).startswith("payload.a.1.0.b: the string contains \\u0000 (NUL); allowed: ")


def test_a_field_name_keeps_its_non_ascii_letters_and_shows_a_nul_as_its_escape() -> None:
    assert refusal('{"Grüße": {"k\\u0000": 1}}').field == "Grüße.k\\u0000"


def test_a_nul_at_the_top_level_has_no_field() -> None:
    refused = refusal('"\\u0000"')
    assert refused.field is None
    assert str(refused).startswith("the string contains \\u0000 (NUL)")


def test_the_path_to_a_too_deep_spot_is_cut_to_a_readable_length() -> None:
    refused = refusal('{"abcdefgh": ' * MAX_DEPTH + "{}" + "}" * MAX_DEPTH)
    assert refused.field is not None
    assert len(refused.field) == 200
    assert refused.field.endswith("...")


def test_the_level_of_the_root_counts_toward_the_depth() -> None:
    text = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert load_json(text) == load_json(text, level=1)
    assert refusal(text, "payload", level=2).field == "payload" + ".0" * (MAX_DEPTH - 1)


def test_text_that_is_not_json_is_still_a_plain_value_error() -> None:
    with pytest.raises(ValueError) as raised:
        load_json("{nope")
    assert not isinstance(raised.value, JsonRefused)
