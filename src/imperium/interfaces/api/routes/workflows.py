"""/api/v1 routes: workflows."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["workflows"])
