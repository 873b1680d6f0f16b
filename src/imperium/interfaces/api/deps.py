"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from imperium.runtime import Imperium


def get_runtime(request: Request) -> Imperium:
    runtime: Imperium = request.app.state.runtime
    return runtime


Runtime = Annotated[Imperium, Depends(get_runtime)]
