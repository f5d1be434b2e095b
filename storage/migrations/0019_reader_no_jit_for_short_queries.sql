-- Dashboard and alert queries run in milliseconds, but the planner's cost estimate of a
-- per-station lookup (LATERAL … LIMIT 1 on a primary key, repeated for every station)
-- easily passes PostgreSQL's default jit_above_cost of 100 000: compiling the query then
-- took 250 ms of a 100-ms budget (bench/grafana_queries.py, docs/benchmarks.md). Only a
-- query estimated ten times dearer is compiled for aqm_reader; the annual report's
-- year-long aggregations are far above that and keep JIT.
ALTER ROLE aqm_reader SET jit_above_cost = 1000000;
