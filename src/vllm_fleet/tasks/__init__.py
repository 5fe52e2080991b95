"""Invoke task collections. `tasks.py` at the repository root only wires these together."""
