"""Shared infrastructure of the console: storage addressing, S3, image intake, HTTP and pagination helpers."""
