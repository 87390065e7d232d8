"""The static site: cell pages with trace replay, the leaderboard and badges."""

from report.site import build_site

__all__ = ["build_site"]
