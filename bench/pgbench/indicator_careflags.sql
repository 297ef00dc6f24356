-- one national indicator through careflags
-- (run with pgbench -M prepared: the variables are bound as parameters)
SELECT * FROM careflags.indicator(:indicator, :period_end::date);
