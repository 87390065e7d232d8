"""A fake OpenAI-compatible provider for tests, benchmarks and the embedded demo.

Behaviour is chosen statelessly by the request's model name (see docs/proxy.md), so
one fake serves a whole concurrent sweep.
"""
