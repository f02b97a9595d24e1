"""FastAPI dependencies the routes declare in their signatures (`state: ApiStateDep`).

As in the FastAPI full-stack template: a route says what it needs, FastAPI hands it
over, and a test can override one with `app.dependency_overrides`. Each provider reads
only the request, so none of them adds a parameter to the OpenAPI document. They are
`async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, a
hop that would cost more than the lookup itself on every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import Engine
from starlette.requests import Request

from etl.api.state import ApiState
from etl.config import Settings


async def get_state(request: Request) -> ApiState:
    """The ApiState `create_app` stored on the application."""
    return request.app.state.api  # type: ignore[no-any-return]


ApiStateDep = Annotated[ApiState, Depends(get_state)]


# Each reads the request itself rather than depending on get_state: one dependency to
# solve per parameter instead of two, on the hot read paths.
async def get_engine(request: Request) -> Engine:
    return request.app.state.api.engine  # type: ignore[no-any-return]


async def get_settings(request: Request) -> Settings:
    return request.app.state.api.settings  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
