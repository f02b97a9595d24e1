"""etl.currency: the one check of a currency code."""

from __future__ import annotations

import pytest

from etl.currency import currency_shape, iso_currency


def test_stored_values_must_be_iso_4217_codes() -> None:
    assert iso_currency(" EUR ") == "eur"
    with pytest.raises(ValueError, match="not an ISO 4217"):
        iso_currency("xyz")
    with pytest.raises(ValueError, match="3-letter"):
        iso_currency("euro")


def test_filters_need_only_the_shape() -> None:
    assert currency_shape("XYZ") == "xyz"
    for bad in ("eu", "euro", "e1r", ""):
        with pytest.raises(ValueError, match="3-letter"):
            currency_shape(bad)
