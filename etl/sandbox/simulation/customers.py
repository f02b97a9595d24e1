"""The simulated customers: who signs up (names, addresses, tax), their later edits, deletion.

Every function takes the account and draws from its one seeded RNG, in the order the
queue calls them; the customer's mutable state is a `CustomerState`, its Stripe object
is re-rendered or updated copy-on-write through the account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl.sandbox.simulation.records import CustomerState
from etl.sandbox.simulation.render import customer_obj
from etl.sandbox.simulation.util import weighted

if TYPE_CHECKING:
    from etl.sandbox.simulation.account import Account

Obj = dict[str, Any]

_FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Donald",
    "Hedy",
    "Tim",
    "Sophie",
    "Karen",
    "John",
    "Mary",
    "Guido",
    "Bjarne",
    "Anita",
    "Leslie",
    "Shafi",
    "Whitfield",
    "Claude",
    "Niklaus",
]
_LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Lamarr",
    "Berners-Lee",
    "Wilson",
    "Jones",
    "McCarthy",
    "Shaw",
    "Rossum",
    "Stroustrup",
    "Borg",
    "Lamport",
    "Goldwasser",
    "Diffie",
    "Shannon",
    "Wirth",
]
_COMPANY = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "piedpiper",
    "vandelay",
    "stark",
    "wayne",
    "cyberdyne",
    "tyrell",
    "soylent",
    "wonka",
    "gringotts",
    "oscorp",
    "aperture",
    "blackmesa",
    "monarch",
    "dunder",
    "prestige",
]
_US_STATES = ("CA", "NY", "TX", "WA", "MA", "IL", "FL", "CO", "OR", "GA", "NC", "PA")
_CITIES = {
    "US": ("San Francisco", "New York", "Austin", "Seattle", "Boston", "Chicago"),
    "CA": ("Toronto", "Vancouver", "Montreal"),
    "AU": ("Sydney", "Melbourne"),
    "DE": ("Berlin", "Munich", "Hamburg"),
    "FR": ("Paris", "Lyon"),
    "NL": ("Amsterdam", "Utrecht"),
    "ES": ("Madrid", "Barcelona"),
    "IT": ("Milan", "Rome"),
    "IE": ("Dublin", "Cork"),
    "GB": ("London", "Manchester", "Edinburgh"),
}
_COUNTRIES = {
    "usd": (("US", 80), ("CA", 12), ("AU", 8)),
    "eur": (("DE", 35), ("FR", 25), ("NL", 15), ("ES", 10), ("IT", 10), ("IE", 5)),
    "gbp": (("GB", 100),),
}


def new_customer(acct: Account, t: int) -> CustomerState:
    """A new customer at `t`: drawn, stored and announced (customer.created)."""
    r = acct.rng
    idx = len(acct.customer_states)
    cur = weighted(r, (("usd", 65), ("eur", 22), ("gbp", 13)))
    country = weighted(r, _COUNTRIES[cur])
    first, last = r.choice(_FIRST), r.choice(_LAST)
    company = r.choice(_COMPANY)
    email = f"{first}.{last}.{idx + 1}@{company}.example".lower()
    state = r.choice(_US_STATES) if country == "US" else None
    address = {
        "city": r.choice(_CITIES[country]),
        "country": country,
        "line1": f"{r.randint(1, 999)} {r.choice(_LAST)} Street",
        "line2": None,
        "postal_code": f"{r.randint(10000, 99999)}",
        "state": state,
    }
    metadata: Obj = {}
    if r.random() < 0.4:
        metadata = {"extra_id": f"acct-{idx + 1:06d}"}
    tax = acct.catalog.tax_rates.get(country) if r.random() < 0.3 else None
    cid = acct.ids.new("cus")
    c = CustomerState(
        cid,
        idx,
        cur,
        country,
        tax,
        email,
        f"{first} {last}",
        f"+1555{r.randint(1000000, 9999999)}" if r.random() < 0.5 else None,
        address,
        metadata,
        cid[4:11].upper(),
        t,
    )
    acct.customer_states.append(c)
    obj = customer_object(c)
    acct.put("customer", obj)
    acct.emit(t, "customer.created", obj)
    return c


def customer_object(c: CustomerState) -> Obj:
    return customer_obj(
        c.id,
        c.created,
        c.email,
        c.name,
        c.phone,
        c.address,
        c.currency,
        c.metadata,
        c.prefix,
        c.balance,
        c.seq,
        "none",
    )


def edit_customer(acct: Account, t: int, c: CustomerState) -> None:
    """One edit of a live customer: its name, metadata or phone (customer.updated)."""
    if c.deleted:
        return
    r = acct.rng
    what = r.random()
    if what < 0.4:
        c.name = c.name + " Jr." if not c.name.endswith("Jr.") else c.name[:-4]
        acct.update(t, "customer", c.id, "customer.updated", name=c.name)
    elif what < 0.7:
        c.metadata = {**c.metadata, "extra_id": f"crm-{c.idx + 1:06d}"}
        acct.update(t, "customer", c.id, "customer.updated", metadata=c.metadata)
    else:
        c.phone = f"+1555{r.randint(1000000, 9999999)}"
        acct.update(t, "customer", c.id, "customer.updated", phone=c.phone)


def delete_customer(acct: Account, t: int, c: CustomerState) -> None:
    """Delete a customer with no live subscription (kept, marked `_deleted`)."""
    if c.deleted or c.active_subs > 0:
        return
    c.deleted = True
    obj = dict(acct.objects["customer"][c.id])
    obj["_deleted"] = True
    acct.objects["customer"][c.id] = obj
    # Stripe's customer.deleted event carries the customer as it was.
    public = {k: v for k, v in obj.items() if not k.startswith("_")}
    acct.emit(t, "customer.deleted", public)


def set_customer_fields(acct: Account, t: int, c: CustomerState, **changes: Any) -> None:
    """Silent bookkeeping changes of the customer (balance, invoice sequence)."""
    acct.update(t, "customer", c.id, None, **changes)
