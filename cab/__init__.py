"""`cab`: the command line, one module per subcommand, thin over proxy, runner, scorer and report."""
