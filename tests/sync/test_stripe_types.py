"""The one list of Stripe object types, and what the sync derives from it: every type
has a normalizer, a list endpoint, events within Stripe's limits and real tables."""

from __future__ import annotations

from collections import Counter

import pytest

from etl.db import tables
from etl.extract import fetch
from etl.extract.types import (
    MAX_EVENT_TYPES,
    OBJECT_TYPES,
    STRIPE_TYPES,
    carries_discount_ids,
    event_streams,
    normalized_tables,
)
from etl.normalize.fields import Malformed
from etl.normalize.page import ADDERS, PageBatch, PageResult, normalize_into


def test_every_type_has_a_normalizer_and_nothing_else_does() -> None:
    assert set(ADDERS) == set(OBJECT_TYPES)


def test_an_unknown_type_is_malformed() -> None:
    with pytest.raises(Malformed):
        normalize_into(PageBatch(), {"id": "x_1", "object": "charge"}, "extra_id", PageResult())


def test_each_type_is_listed_once_in_dependency_order() -> None:
    assert [r.name for r in fetch.RESOURCES] == [t.resource for t in STRIPE_TYPES]
    assert OBJECT_TYPES.index("customer") < OBJECT_TYPES.index("subscription")
    assert OBJECT_TYPES.index("price") < OBJECT_TYPES.index("invoice")
    assert fetch.RESOURCE_BY_NAME["subscriptions"].params == {
        "status": "all",
        "expand": ["data.discounts"],
    }


def test_event_streams_fit_one_request_each_and_name_their_types() -> None:
    streams = event_streams()
    assert streams == fetch.EVENT_STREAMS
    assert all(len(types) <= MAX_EVENT_TYPES for types in streams.values())
    every = [e for types in streams.values() for e in types]
    assert not [e for e, k in Counter(every).items() if k > 1]
    for t in STRIPE_TYPES:
        prefix = "customer.subscription" if t.object == "subscription" else t.object
        assert all(e.rsplit(".", 1)[0] == prefix for e in t.events), t.object


def test_tables_exist_and_discount_ids_are_resolved_where_expanded() -> None:
    for name in normalized_tables():
        assert getattr(tables, name).name == name
    assert {t for t in OBJECT_TYPES if carries_discount_ids(t)} == {"subscription", "invoice"}
    assert not carries_discount_ids("charge")
