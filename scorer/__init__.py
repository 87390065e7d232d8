"""Pure per-axis scores, the composite and the infra verdict."""
