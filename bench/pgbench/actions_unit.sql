-- the actions of one unit, asked by a superuser (the same rows as the nurse's)
-- (run with pgbench -M prepared: the variables are bound as parameters)
SELECT * FROM careflags.actions WHERE unit_id = :unit;
