"""Column helpers and SQL types shared by every table (money, ids, timestamps, rates).

Every column is declared through `column()`, which insists on a SQL type and a
user-facing comment: `schema.sql`, generated from the models, is the users' reference.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Numeric,
    String,
    Text,
    text,
)
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata


def column(
    comment: str,
    sa_type: Any = None,
    *,
    pk: bool = False,
    fk: str | None = None,
    ondelete: str | None = None,
    index: bool = False,
    unique: bool = False,
    nullable: bool | None = None,
    default: Any = None,
    autoincrement: bool | str = "auto",
    server_default: str | None = None,
) -> Any:
    """A column with its user-facing comment (kept short: it goes into schema.sql)."""
    kwargs: dict[str, Any] = {"comment": comment}
    if server_default is not None:
        kwargs["server_default"] = text(server_default)
    if pk:
        kwargs["autoincrement"] = autoincrement
    args: list[Any] = []
    if fk:
        args.append(ForeignKey(fk, ondelete=ondelete))
    if sa_type is None:
        raise TypeError("every column names its SQL type")
    col = Column(
        sa_type,
        *args,
        primary_key=pk,
        nullable=False if nullable is None else nullable,
        index=index,
        unique=unique,
        **kwargs,
    )
    return Field(default=default, sa_column=col)


MONEY = BigInteger
TEXT = Text
ID = String(255)
CUR = String(3)
TS = DateTime(timezone=False)
RATE = Numeric(20, 10)
