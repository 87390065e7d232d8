"""The runner's errors: each names the file, field or thing at fault and what to do."""


class RunnerError(Exception):
    """Base of the runner's errors."""


class TaskSpecError(RunnerError):
    """A task.toml (or its folder) is broken. The message names the file and the field."""

    def __init__(self, path: object, field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.path}: field '{field}': {problem}")


class ConfigError(RunnerError):
    """A config file (sweep, models, scoring) is broken. Names the file and the field."""

    def __init__(self, path: object, field: str, problem: str) -> None:
        self.path = str(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.path}: field '{field}': {problem}")


class SandboxError(RunnerError):
    """The sandbox could not run a command (engine unreachable, image missing, ...)."""


class UnknownNameError(RunnerError):
    """An unknown task id, agent (tui) or model name was asked for."""
