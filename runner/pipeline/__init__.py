"""The cell pipeline: named stages over one state object.

`runner.cell.run_cell` opens a `CellState` (state.py), runs the stages of stages.py in
order (prepare workspace -> run agent -> collect changes -> run tests), and in a
`finally` cleans up and writes the record (finish.py), whatever happened: a crashed agent,
a hang or Ctrl-C still leave a complete, honest `cell.json`.
"""
