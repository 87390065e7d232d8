module codingagentbench/lrucache

go 1.19
