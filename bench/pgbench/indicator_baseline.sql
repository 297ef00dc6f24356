-- one national indicator by hand-written SQL
-- (run with pgbench -M prepared: the variables are bound as parameters)
SELECT * FROM baseline.indicator(:indicator, :period_end::date);
