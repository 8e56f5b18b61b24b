"""The SQL layer: plain functions that take a cursor and return dicts. No Flask, no HTTP."""
