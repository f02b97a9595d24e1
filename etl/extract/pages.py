"""What makes a list page from Stripe whole, checked before anything is written from it.

Stripe's list endpoints answer `{"object": "list", "data": [...], "has_more": bool}`.
A page without its `data` list, with something other than objects (each with an id)
in it, or one that says `has_more` without moving past the last page, is not a page the
sync may write or infer from: taken at face value, an empty customers page makes every
stored customer look deleted, and a page that repeats itself makes the paging loop
forever (holding the sync lock). Such a page stops the run with `MalformedPageError`, which
names the endpoint; nothing of it is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from etl.errors import EtlError


class MalformedPageError(EtlError):
    """Stripe answered a list request with a page that is not whole; nothing was written."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"Stripe's answer to GET {path} is not a whole list page: {problem}; "
            "the run stops and nothing of that page is written or inferred from it"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (MalformedPageError, (self.path, self.problem))


def list_page_problem(body: Any) -> str | None:  # noqa: PLR0911 - one return per defect, in the order they are checked
    """What is wrong with a list page (None when it is whole). Pure: runs in workers too."""
    if not isinstance(body, Mapping):
        return f"the body is a JSON {type(body).__name__}, not an object"
    kind = body.get("object")
    if kind is not None and kind not in ("list", "search_result"):
        return f'its "object" is {kind!r}, not "list"'
    if "data" not in body:
        return 'it has no "data" list'
    data = body["data"]
    if not isinstance(data, list):
        return f'its "data" is a {type(data).__name__}, not a list'
    has_more = body.get("has_more", False)
    if not isinstance(has_more, bool):
        return f'its "has_more" is {has_more!r}, not true or false'
    for i, obj in enumerate(data):
        if not isinstance(obj, Mapping):
            return f"data[{i}] is a {type(obj).__name__}, not an object"
        if not isinstance(obj.get("id"), str) or not obj["id"]:
            return f"data[{i}] has no id"
    if has_more and not data:
        return '"has_more" is true on an empty page (paging cannot move on)'
    return None


def check_list_page(path: str, body: Any) -> dict[str, Any]:
    """The page, when whole; else `MalformedPageError` naming `path`."""
    problem = list_page_problem(body)
    if problem is not None:
        raise MalformedPageError(path, problem)
    return dict(body)


class PagingGuard:
    """One listing's progress: each page must end on an id not seen as a page end before
    (a server answering `has_more` with the same page again would be paged forever)."""

    def __init__(self, path: str, start: str | None = None) -> None:
        self.path = path
        self._ends: set[str] = {start} if start else set()

    def advance(self, edge_id: str | None, has_more: bool) -> None:
        """Record the id paging continues from; raise when it was already reached."""
        if not has_more or edge_id is None:
            return
        if edge_id in self._ends:
            raise MalformedPageError(
                self.path,
                f'"has_more" is true but the page ends on {edge_id}, where paging already '
                "was (the same page again: no progress)",
            )
        self._ends.add(edge_id)
