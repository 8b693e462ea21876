"""Desktop virtual try-on that runs PF-AFN through OpenVINO on an ordinary CPU (no torch)."""

__version__ = "0.1.0"
