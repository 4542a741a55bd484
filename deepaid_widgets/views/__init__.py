"""Widgets: they receive arrays and results, never import torch."""
