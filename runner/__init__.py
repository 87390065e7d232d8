"""Runs agent CLIs on tasks in sandboxes, through the proxy: cells, sweeps, the `cab` CLI."""
