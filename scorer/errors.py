"""The scorer's errors. The scorer imports nothing of the runner's, so it has its own."""


class ScoringConfigError(ValueError):
    """A scoring config (config/scoring.toml or `--weights FILE`) is broken.

    The message names the file and the field, as the runner's ConfigError does.
    """

    def __init__(self, path: object, field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.path}: field '{field}': {problem}")
