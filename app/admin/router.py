"""Placeholder router; the feature fills it in."""

from fastapi import APIRouter

router = APIRouter()
