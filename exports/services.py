"""Exports: downloads too large for a request, written by the worker."""
