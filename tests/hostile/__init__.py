"""A hostile server of our own (``server``), its fault catalog (``catalog``) and the fault
matrix (``python -m tests.hostile.matrix`` prints it)."""
