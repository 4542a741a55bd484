"""Solvers and detectors: torch and numpy only, no widget library."""
