module codingagentbench/retry

go 1.19
