"""/api/v1 routes: tasks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["tasks"])
