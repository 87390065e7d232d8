"""The results store of a sweep: SQLite rows beside the artifacts, and the leaderboard."""

from runner.store.db import DB_NAME, ResultsStore
from runner.store.leaderboard import LeaderRow, leaderboard, wilson

__all__ = ["DB_NAME", "LeaderRow", "ResultsStore", "leaderboard", "wilson"]
