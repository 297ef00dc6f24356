-- the cost of a round trip alone: what any query pays
SELECT 1;
