"""Run wordstats.py on each data/*.txt and compare with data/*.expected; write the reward."""

import json
import pathlib
import subprocess
import sys

data, script = pathlib.Path(sys.argv[1]), sys.argv[2]
cases = sorted(data.glob("*.txt"))
passed = 0
for case in cases:
    want = case.with_suffix(".expected").read_text()
    got = subprocess.run([sys.executable, script, str(case)], capture_output=True, text=True)
    ok = got.returncode == 0 and got.stdout == want
    passed += ok
    print(f"{'PASS' if ok else 'FAIL'} {case.name}")
reward = 1 if passed == len(cases) else 0
pathlib.Path("/logs/verifier/reward.json").write_text(json.dumps({"reward": reward}))
print(f"{passed} passed, {len(cases) - passed} failed")
