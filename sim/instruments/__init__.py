"""Follower instruments the scenes' tool can be: `rcm` (a surgical instrument through a
fixed entry point)."""
