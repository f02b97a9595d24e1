"""The example objects of FirstOfficer's V2 API documentation (shared/seeds/003_…), verbatim.

They feed the OpenAPI document, and tests hold them against the response models.
"""

from __future__ import annotations

from typing import Any

CUSTOMER: dict[str, Any] = {
    "id": 1340573,
    "stripe_id": "cus_1234ABCD",
    "extra_id": None,
    "email": "tester@example.com",
    "name": "John Doe",
    "total_contract_value": 629100,
    "current_mrr": 69900,
    "current_subscription_count": 1,
    "currency": "usd",
    "country": "US",
    "state": "OH",
}

CUSTOMER_UPDATED: dict[str, Any] = {**CUSTOMER, "extra_id": "Team X"}

CUSTOMER_LIST: dict[str, Any] = {
    "object": "list",
    "has_more": False,
    "data": [
        {**CUSTOMER, "extra_id": "Team X"},
        {
            "id": 1340574,
            "stripe_id": "cus_1234ABCE",
            "extra_id": "Team Y",
            "email": "tester2@example.com",
            "name": "Jane Doe",
            "total_contract_value": 629100,
            "current_mrr": 69900,
            "current_subscription_count": 1,
            "currency": "usd",
            "country": "US",
            "state": "OH",
        },
    ],
}

MRR: dict[str, Any] = {
    "object": "mrr",
    "month": "2016-04-01",
    "mrr": 15317,
    "subscriptions": 20,
    "change_in_mrr": 0,
    "upgrade_mrr": 0,
    "downgrade_mrr": 0,
    "new_mrr": 0,
    "new_customers": 0,
    "lost_mrr": 0,
    "lost_customers": 0,
    "currency": "usd",
    "waiting_mrr": 1617110,
    "waiting_subscriptions": 204,
}


def _mrr_row(month: str, mrr: int, subs: int, new_mrr: int, new_customers: int) -> dict[str, Any]:
    return {
        "object": "mrr",
        "month": month,
        "mrr": mrr,
        "subscriptions": subs,
        "expansion_mrr": 0,
        "contraction_mrr": 0,
        "upgrade_mrr": 0,
        "downgrade_mrr": 0,
        "new_mrr": new_mrr,
        "new_customers": new_customers,
        "lost_mrr": 0,
        "lost_customers": 0,
        "currency": "usd",
    }


MRR_LIST: dict[str, Any] = {
    "data": [
        _mrr_row("2014-05-01", 33700, 3, 33700, 3),
        _mrr_row("2014-06-01", 61400, 7, 25700, 4),
    ]
}


def _by_plan(total: int, eid: str) -> dict[str, Any]:
    return {
        "month": "2019-02-01T00:00:00.000Z",
        "total_mrr": total,
        "total_customers": 1,
        "end_of_term_customers": 1,
        "lost_customers": 0,
        "end_of_term_mrr": total,
        "lost_mrr": 0,
        "new_mrr": 0,
        "beginning_mrr": 0,
        "upgrade_mrr": 0,
        "downgrade_mrr": 0,
        "moved_in_mrr": 0,
        "moved_out_mrr": 0,
        "waiting_mrr": 0,
        "plan_name": None,
        "plan_eid": eid,
    }


MRR_BY_PLAN: list[dict[str, Any]] = [
    _by_plan(24900, "business monthly"),
    _by_plan(24950, "enterprise_2_monthly_1501"),
]


def _invoice(id_: str, customer: str = "cus_ABCD") -> dict[str, Any]:
    return {
        "id": id_,
        "object": "invoice",
        "amount_paid": 2900,
        "discount": 0,
        "amount": 2900,
        "currency": "usd",
        "customer": customer,
        "plan": "hobby_monthly",
        "date_paid": "2016-05-05T10:26:26+00:00",
        "date": "2016-05-05T10:26:26+00:00",
        "quantity": 1,
        "period_start": "2016-05-05T10:26:26+00:00",
        "period_end": "2016-06-05T10:26:26+00:00",
        "description": "",
    }


INVOICE_OBJECT: dict[str, Any] = {
    **_invoice("1462443986"),
    "subscription_id": "sub_man_2313372_1462443986",
}
INVOICE_CREATED: dict[str, Any] = _invoice("sub_man_2313372_1462443986")
INVOICE: dict[str, Any] = _invoice("in_123456")
INVOICE_LIST: dict[str, Any] = {
    "object": "list",
    "has_more": False,
    "data": [_invoice("in_1", "cus_A"), _invoice("in_2", "cus_B")],
}
INVOICE_DELETED: dict[str, Any] = {"deleted": True, "id": "in_123456"}

PLAN: dict[str, Any] = {
    "id": "test",
    "object": "plan",
    "amount": 0,
    "currency": "usd",
    "interval": "month",
    "interval_count": 1,
    "name": "Test Plan",
}
PLAN_LIST: dict[str, Any] = {
    "object": "list",
    "has_more": False,
    "data": [PLAN, {**PLAN, "id": "test_2", "name": "Test Plan 2"}],
}

ERROR: dict[str, Any] = {
    "error": {"type": "invalid_request_error", "message": "Invalid API Key provided."}
}

# Every response example of the seed, with the response model it must satisfy.
RESPONSE_EXAMPLES: dict[str, tuple[str, Any]] = {
    "customer object": ("Customer", CUSTOMER),
    "customer updated": ("Customer", CUSTOMER_UPDATED),
    "customer list": ("CustomerList", CUSTOMER_LIST),
    "mrr object": ("Mrr", MRR),
    "mrr list": ("MrrList", MRR_LIST),
    "mrr by plan": ("MrrByPlan[]", MRR_BY_PLAN),
    "invoice object": ("Invoice", INVOICE_OBJECT),
    "invoice created": ("Invoice", INVOICE_CREATED),
    "invoice retrieved": ("Invoice", INVOICE),
    "invoice list": ("InvoiceList", INVOICE_LIST),
    "invoice deleted": ("DeletedInvoice", INVOICE_DELETED),
    "plan object": ("Plan", PLAN),
    "plan list": ("PlanList", PLAN_LIST),
    "error": ("ErrorBody", ERROR),
}
