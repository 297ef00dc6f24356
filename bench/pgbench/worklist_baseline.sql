-- the same question answered by the hand-written SQL
-- (run with pgbench -M prepared: the variables are bound as parameters)
SELECT * FROM baseline.worklist WHERE unit_id = :unit;
