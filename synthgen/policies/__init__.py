"""Packaged gate policies (TOML), read with importlib.resources by synthgen.gate."""
