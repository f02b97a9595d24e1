"""Customers → `customers` rows: the country from the address, else the default card's.

Customer references elsewhere stay Stripe ids (`stripe_customer_id`); the writer maps
them to integer `customers.id`, set-based.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etl.normalize.fields import Row, as_mapping, json_text, required, ts


def _card_country(src: Any) -> str | None:
    src = as_mapping(src)
    if not src:
        return None
    for candidate in (
        src.get("country"),
        as_mapping(src.get("card")).get("country"),
        src.get("address_country"),
        as_mapping(as_mapping(src.get("billing_details")).get("address")).get("country"),
        as_mapping(as_mapping(src.get("owner")).get("address")).get("country"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def customer_country(obj: Mapping[str, Any]) -> str | None:
    """The address's country, else the default card's (or default source's) country."""
    country = as_mapping(obj.get("address")).get("country")
    if country:
        return str(country).upper()[:2]
    default = obj.get("default_source")
    candidates: list[Any] = [default]
    if isinstance(default, str):
        sources = as_mapping(obj.get("sources")).get("data") or []
        candidates = [s for s in sources if as_mapping(s).get("id") == default]
    candidates.append(as_mapping(obj.get("invoice_settings")).get("default_payment_method"))
    for c in candidates:
        found = _card_country(c)
        if found:
            return found.upper()[:2]
    return None


def normalize_customer(obj: Mapping[str, Any], extra_id_key: str = "extra_id") -> Row:
    sid = required(obj, "id")
    if obj.get("deleted"):
        return {"stripe_id": sid, "deleted": True}
    country = customer_country(obj)
    state = as_mapping(obj.get("address")).get("state") if country == "US" else None
    metadata = as_mapping(obj.get("metadata"))
    extra = metadata.get(extra_id_key)
    email = obj.get("email") or None
    currency = obj.get("currency")
    return {
        "stripe_id": sid,
        "extra_id": str(extra) if extra not in (None, "") else None,
        "email": email,
        "name": obj.get("name") or None,
        "currency": currency.lower() if isinstance(currency, str) else None,
        "country": country,
        "state": state or None,
        "metadata_json": json_text(metadata),
        "deleted": False,
        "created": ts(obj.get("created")),
    }
