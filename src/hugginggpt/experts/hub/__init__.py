"""Helpers of the hub model backends: where weights are on disk, device and dtype choice, task runners, errors."""
