"""Inference networks: PF-AFN's warping module (CWM/AFWM) and generator (IGM/ResUnet)."""
