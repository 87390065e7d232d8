"""The recording OpenAI-compatible proxy: passes model calls through and records each one."""
