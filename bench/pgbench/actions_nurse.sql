-- a nurse's actions (one row per patient and action): RLS shows her units
SELECT * FROM careflags.actions;
