"""Try-on data: VITON-layout reader and the procedural synthetic generator."""
