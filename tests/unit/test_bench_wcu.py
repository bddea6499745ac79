"""The benchmark's item-size and write-unit calculator (bench/aws_model.py) against the
examples of DynamoDB's documentation on capacity units and item sizes."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from bench.aws_model import (
    IndexShape,
    call_ms,
    hottest,
    item_size,
    units,
    value_size,
    write_cost,
)

GSI1 = IndexShape(name="gsi1", partition_key="gsi1pk", sort_key="gsi1sk")
KEYS_ONLY = IndexShape(name="k", partition_key="gsi1pk", sort_key="gsi1sk", projection="KEYS_ONLY")


def s(text: str) -> dict[str, str]:
    return {"S": text}


def test_strings_count_their_utf8_bytes_and_names_count_too() -> None:
    assert item_size({"pk": s("abc")}) == 2 + 3
    assert item_size({"name": s("é")}) == 4 + 2  # two bytes in UTF-8
    assert item_size({}) == 0
    assert item_size(None) == 0


def test_numbers_are_one_byte_per_two_significant_digits_plus_one() -> None:
    assert value_size({"N": "123"}) == 3  # ceil(3 / 2) + 1
    assert value_size({"N": "1234"}) == 3
    assert value_size({"N": "100"}) == 2  # trailing zeros trimmed
    assert value_size({"N": "-0.0015"}) == 2  # leading zeros and the sign do not count
    assert value_size({"N": "0"}) == 2
    assert value_size({"N": "12345678901234567890123456789012345678"}) == 20  # 38 digits


def test_binary_bool_null_and_sets() -> None:
    assert value_size({"B": b"\x00\x01\x02"}) == 3
    assert value_size({"B": "AAEC"}) == 3  # base64 on the wire
    assert value_size({"BOOL": True}) == 1
    assert value_size({"NULL": True}) == 1
    assert value_size({"SS": ["ab", "c"]}) == 3
    assert value_size({"NS": ["1", "22"]}) == 2 + 2


def test_lists_and_maps_cost_3_bytes_plus_1_per_element() -> None:
    assert value_size({"L": []}) == 3
    assert value_size({"M": {}}) == 3
    assert value_size({"L": [s("ab"), {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"a": s("xy")}}) == 3 + 1 + 1 + 2
    nested = {"M": {"lots": {"L": [{"M": {"p": {"N": "10"}}}]}}}
    assert value_size(nested) == 3 + 1 + 4 + (3 + 1 + (3 + 1 + 1 + 2))


def test_units_round_up_per_kilobyte() -> None:
    assert units(0) == 1
    assert units(1) == 1
    assert units(1024) == 1
    assert units(1025) == 2
    assert units(3500) == 4  # the documentation's 3.5 KB item: 4 write units


def big(n: int, **extra: dict[str, str]) -> dict[str, dict[str, str]]:
    """An item of exactly n bytes (pk + sk + filler), plus `extra` attributes."""
    base = {"pk": s("P"), "sk": s("S"), **extra}
    filler = n - item_size(base) - len("data")
    return {**base, "data": s("x" * filler)}


def test_a_new_item_without_index_keys_costs_its_table_write_only() -> None:
    cost = write_cost(None, big(1500), indexes=[GSI1])
    assert (cost.table_units, cost.index_units, cost.total) == (2, {}, 2)
    assert cost.partitions == {"P": 2}


def test_an_all_projection_copies_the_whole_item_into_the_index() -> None:
    item = big(1500, gsi1pk=s("G"), gsi1sk=s("k"))
    cost = write_cost(None, item, indexes=[GSI1])
    assert (cost.table_units, cost.index_units) == (2, {"gsi1": 2})
    assert cost.partitions == {"P": 2, "gsi1:G": 2}


def test_transactions_double_the_table_write_not_the_index_copy() -> None:
    item = big(1500, gsi1pk=s("G"), gsi1sk=s("k"))
    cost = write_cost(None, item, indexes=[GSI1], transactional=True)
    assert (cost.table_units, cost.index_units["gsi1"], cost.total) == (4, 2, 6)


def test_an_update_costs_the_larger_of_before_and_after() -> None:
    before, after = big(3000), big(900)
    assert write_cost(before, after).table_units == 3
    assert write_cost(after, before).table_units == 3
    assert write_cost(before, None).table_units == 3  # a delete: the item it removes


def test_keys_only_index_is_not_written_when_only_other_attributes_change() -> None:
    before = big(900, gsi1pk=s("G"), gsi1sk=s("k"))
    after = big(2000, gsi1pk=s("G"), gsi1sk=s("k"))
    assert write_cost(before, after, indexes=[KEYS_ONLY]).index_units == {}
    assert write_cost(before, after, indexes=[GSI1]).index_units == {"gsi1": 2}
    assert write_cost(before, before, indexes=[GSI1]).index_units == {}  # same item: no index write


def test_changing_an_index_key_is_a_delete_plus_a_put_in_the_index() -> None:
    before = big(1500, gsi1pk=s("G1"), gsi1sk=s("k"))
    after = big(1500, gsi1pk=s("G2"), gsi1sk=s("k"))
    cost = write_cost(before, after, indexes=[GSI1])
    assert cost.index_units == {"gsi1": 4}
    assert cost.partitions == {"P": 2, "gsi1:G1": 2, "gsi1:G2": 2}
    gone = write_cost(before, big(1500), indexes=[GSI1])  # the index keys removed: a delete
    assert gone.index_units == {"gsi1": 2}


def test_include_projection_keeps_keys_and_named_attributes() -> None:
    index = IndexShape(
        name="i", partition_key="gsi1pk", sort_key="gsi1sk", projection="INCLUDE", included=("a",)
    )
    item = {"pk": s("P"), "sk": s("S"), "gsi1pk": s("G"), "gsi1sk": s("k"), "a": s("1"), "b": s("x" * 5000)}
    assert index.entry(item, ("pk", "sk")) == {k: v for k, v in item.items() if k != "b"}
    assert write_cost(None, item, indexes=[index]).index_units == {"i": 1}


def test_hottest_partition_and_latencies() -> None:
    assert hottest({"a": 10, "b": 30}, 2.0) == {"key": "b", "units": 30, "wcu_s": 15.0}
    assert hottest({}, 1.0)["wcu_s"] == 0.0
    assert call_ms("Query", 500) == 100.0
    assert call_ms("Query", 0) == 5.0
    assert call_ms("PutItem") == 5.0
    assert call_ms("SomethingElse") == 5.0


@given(
    st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=5), st.text(max_size=50), max_size=8)
)
def test_size_is_the_sum_of_names_and_values_and_units_cover_it(values: dict[str, str]) -> None:
    item = {k: s(v) for k, v in values.items()}
    size = item_size(item)
    assert size == sum(len(k.encode()) + len(v.encode()) for k, v in values.items())
    assert (units(size) - 1) * 1024 < max(size, 1) <= units(size) * 1024
