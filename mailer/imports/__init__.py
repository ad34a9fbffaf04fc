"""Subscribers in and out in bulk: import files checked and merged a chunk at a time, exports."""
