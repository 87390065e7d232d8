module codingagentbench/gohttphandler

go 1.19
