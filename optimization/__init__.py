"""Torch-side toolkit: PF-AFN networks, data, training, compression and export (`optimize` extra)."""
