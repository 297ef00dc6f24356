-- a nurse's worklist: RLS shows the flags of the units mapped to the role
SELECT * FROM careflags.worklist;
