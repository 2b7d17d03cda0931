"""A local production topology with the real programs (no Docker): see cluster.py."""
