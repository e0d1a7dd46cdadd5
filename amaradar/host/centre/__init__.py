"""The joint centre: several sites' ASTERIX track reports fused into system tracks."""

from .run import run_centre

__all__ = ["run_centre"]
