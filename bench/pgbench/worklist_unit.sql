-- the worklist of one unit, asked by a superuser
-- (run with pgbench -M prepared: the variables are bound as parameters)
SELECT * FROM careflags.worklist WHERE unit_id = :unit;
