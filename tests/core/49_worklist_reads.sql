-- What the nurse's worklist reads and renders once instead of per row
-- (issue 18 item 3).
-- (a) reason_text() and action_text() keep, per backend, the reason data of
--     each details value and its text per language: a kept text equals a
--     fresh rendering (the same details with other bytes: a key the renderer
--     does not read), in every language and whatever the order languages are
--     asked in; a reader who switches careflags.language gets the new
--     language at once; a flag whose details change shows its new text;
--     more distinct details than the cache keeps, in one statement, are all
--     right (the cache is emptied while the statement runs).
-- (b) The worklist reads the rule tables once per query for a nurse (no
--     rescan per rule: careflags.rule and rule_text are each scanned once),
--     and a title changed in careflags.rule_text, or a language without a
--     title there, shows at the reader's next query in the same session.
-- (c) The worklist is sorted once, on rows whose first columns are the sort
--     keys, before the texts are rendered; its order is still severity,
--     due_at, flag_id, for a nurse and for a superuser reading one unit.
BEGIN;
\ir fixtures.psql
SELECT plan(18);

SELECT cft.at('2026-03-10 12:00+01');
CREATE ROLE cfw_nurse LOGIN IN ROLE careflags_nurse;
CREATE TEMP TABLE pw AS
SELECT cft.patient('nursing_home_long_term', ('2026-03-0' || i || ' 10:00+01')::timestamptz, '1940-01-01', 'fw-a') AS id
  FROM generate_series(1, 4) i;
INSERT INTO careflags.unit_access (unit_id, role) VALUES ('fw-a', 'cfw_nurse');
SELECT cft.weight(id, '2025-09-01 10:00+02', 70.0) FROM pw;
SELECT cft.weight(id, '2026-03-06 10:00+01', 61.0) FROM pw;
SELECT cft.medicine(id, a, '2026-03-02 10:00+01') FROM pw, unnest(ARRAY['N05AH04', 'N06AB04', 'G04CA02']) a;
GRANT SELECT ON pw TO PUBLIC;

-- the open flags of the unit with their reason data, and the same details
-- with a key no renderer reads (other bytes, so never the cached entry)
CREATE TEMP TABLE fl AS
SELECT f.flag_id, f.rule_id, f.reason, f.details, f.details || '{"zz_unread": 1}'::jsonb AS fresh
  FROM careflags.flag f WHERE f.unit_id = 'fw-a' AND f.resolved_at IS NULL AND f.details IS NOT NULL;
GRANT SELECT ON fl TO PUBLIC;
SELECT cmp_ok((SELECT count(DISTINCT rule_id) FROM fl), '>=', 3::bigint,
              'the unit has open flags of at least three rules, with reason data');

-- ---- (a) reason texts kept per backend ----
CREATE TEMP TABLE first_pass AS
SELECT fl.flag_id, l.lang, l.ord, careflags.reason_text(fl.details, fl.reason, l.lang) AS txt
  FROM fl, (VALUES ('nb', 1), ('en', 2), ('nn', 3)) l(lang, ord)
 ORDER BY l.ord, fl.flag_id;
SELECT is((SELECT count(*) FROM first_pass p JOIN fl USING (flag_id)
            WHERE p.txt IS DISTINCT FROM careflags.reason_text(fl.fresh, fl.reason, p.lang)), 0::bigint,
          'a kept reason text equals a fresh rendering of the same reason data, in nb, en and nn');
SELECT is((SELECT count(*) FROM first_pass p JOIN fl USING (flag_id)
            WHERE p.txt IS DISTINCT FROM careflags.reason_text(fl.details, fl.reason, p.lang)), 0::bigint,
          '... and asked again (now from the cache) in another order, each flag and language keeps its own text');
SELECT is((SELECT count(*) FROM (SELECT flag_id FROM first_pass GROUP BY flag_id HAVING count(DISTINCT txt) = 3) x),
          (SELECT count(*) FROM fl),
          '... three different texts per flag: one per language, none answered for another');

-- the reader switches language: the worklist follows at once
SET LOCAL ROLE cfw_nurse;
CREATE TEMP TABLE seen_nb AS SELECT flag_id, reason_text, title_text FROM careflags.worklist;
SET LOCAL careflags.language = 'en';
CREATE TEMP TABLE seen_en AS SELECT flag_id, reason_text, title_text FROM careflags.worklist;
RESET careflags.language;
RESET ROLE;
SELECT is((SELECT count(*) FROM seen_en s JOIN fl USING (flag_id)
            WHERE s.reason_text IS DISTINCT FROM careflags.reason_text(fl.fresh, fl.reason, 'en')), 0::bigint,
          'a nurse who switches careflags.language to en reads the worklist''s reasons in English at once');
SELECT is((SELECT count(*) FROM seen_nb s JOIN seen_en e USING (flag_id) WHERE s.reason_text = e.reason_text), 0::bigint,
          '... none of them the bokmål text read just before');

-- a flag whose reason data change shows the new text
UPDATE careflags.flag f SET details = jsonb_set(f.details, '{due}', '"2026-04-30"')
 WHERE f.flag_id = (SELECT min(flag_id) FROM fl WHERE details ? 'due');
SET LOCAL ROLE cfw_nurse;
SELECT is((SELECT w.reason_text FROM careflags.worklist w WHERE w.flag_id = (SELECT min(flag_id) FROM fl WHERE details ? 'due')),
          (SELECT careflags.reason_text(jsonb_set(fl.fresh, '{due}', '"2026-04-30"'), fl.reason, 'nb') FROM fl
            WHERE fl.flag_id = (SELECT min(flag_id) FROM fl WHERE details ? 'due')),
          'a flag whose reason data changed shows its new text');
RESET ROLE;
SELECT matches((SELECT w.reason_text FROM careflags.worklist w WHERE w.flag_id = (SELECT min(flag_id) FROM fl WHERE details ? 'due')),
               '30\. april 2026', '... with the new deadline');

-- more distinct details than the cache keeps, in one statement
SELECT is((SELECT count(*) FROM fl, generate_series(1, 1500) i,
                  LATERAL (SELECT jsonb_set(fl.details, '{due}', to_jsonb(to_char(date '2026-01-01' + i, 'YYYY-MM-DD'))) AS d) v
            WHERE careflags.reason_text(v.d, fl.reason, 'nn')
                  IS DISTINCT FROM careflags.reason_text(v.d || '{"zz_unread": 1}'::jsonb, fl.reason, 'nn')),
          0::bigint,
          format('%s distinct reason data in one statement (the cache emptied as it ran): every text equals its fresh rendering',
                 (SELECT count(*) * 1500 FROM fl)));
SELECT is((SELECT careflags.action_text('medication_review', array_agg(fl.details ORDER BY fl.flag_id), '2026-03-20 12:00+01', 'en')
             FROM fl WHERE fl.rule_id LIKE 'medication_review.%'),
          (SELECT careflags.action_text('medication_review', array_agg(fl.fresh ORDER BY fl.flag_id), '2026-03-20 12:00+01', 'en')
             FROM fl WHERE fl.rule_id LIKE 'medication_review.%'),
          'action_text() from the kept reason data equals a fresh reading');

-- ---- (b) the rule tables once per query ----
CREATE FUNCTION pg_temp.rule_scans(q text) RETURNS TABLE (relation text, loops numeric)
LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) ' || q INTO plan;
    RETURN QUERY
    WITH RECURSIVE n(node) AS (SELECT plan -> 0 -> 'Plan'
                               UNION ALL SELECT c FROM n, json_array_elements(n.node -> 'Plans') c)
    SELECT node ->> 'Relation Name', (node ->> 'Actual Loops')::numeric FROM n
     WHERE node ->> 'Relation Name' IN ('rule', 'rule_text');
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.rule_scans(text) TO cfw_nurse;
SET LOCAL ROLE cfw_nurse;
CREATE TEMP TABLE scans AS SELECT * FROM pg_temp.rule_scans('SELECT * FROM careflags.worklist');
CREATE TEMP TABLE nurse_rules AS SELECT count(DISTINCT rule_id) AS n FROM careflags.worklist;
RESET ROLE;
SELECT cmp_ok((SELECT n FROM nurse_rules), '>=', 3::bigint, 'the nurse''s worklist shows flags of at least three rules');
SELECT is((SELECT array_agg(relation || ' x' || loops ORDER BY relation) FROM scans), ARRAY['rule x1', 'rule_text x1'],
          '... and her query scans careflags.rule and careflags.rule_text once each, not once per rule');

-- a title changed, or missing in a language, shows at the next query
UPDATE careflags.rule_text SET title = 'Legemiddelgjennomgang (endret)'
 WHERE language = 'nb' AND rule_id = (SELECT min(rule_id) FROM fl WHERE rule_id LIKE 'medication_review.%');
SET LOCAL ROLE cfw_nurse;
CREATE TEMP TABLE seen_after AS SELECT rule_id, title, title_text FROM careflags.worklist;
SET LOCAL careflags.language = 'en';
CREATE TEMP TABLE seen_after_en AS SELECT rule_id, title, title_text FROM careflags.worklist;
RESET careflags.language;
RESET ROLE;
SELECT is((SELECT array_agg(DISTINCT title_text) FROM seen_after
            WHERE rule_id = (SELECT min(rule_id) FROM fl WHERE rule_id LIKE 'medication_review.%')),
          ARRAY['Legemiddelgjennomgang (endret)'],
          'a rule title changed in careflags.rule_text shows at the nurse''s next query in the same session');
SELECT is((SELECT count(*) FROM seen_after_en a
            WHERE a.title_text IS DISTINCT FROM COALESCE((SELECT t.title FROM careflags.rule_text t
                                                          WHERE t.rule_id = a.rule_id AND t.language = 'en'), a.title)),
          0::bigint,
          'in English each row shows the rule''s English title, or careflags.rule.title where careflags.rule_text has none');

-- ---- (c) sorted once, before the texts are rendered ----
CREATE FUNCTION pg_temp.sorts(q text) RETURNS TABLE (keys text, outputs text)
LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF, FORMAT JSON) ' || q INTO plan;
    RETURN QUERY
    WITH RECURSIVE n(node) AS (SELECT plan -> 0 -> 'Plan'
                               UNION ALL SELECT c FROM n, json_array_elements(n.node -> 'Plans') c)
    SELECT (node -> 'Sort Key')::text, (node -> 'Output')::text FROM n WHERE node ->> 'Node Type' = 'Sort';
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.sorts(text) TO cfw_nurse;
SET LOCAL ROLE cfw_nurse;
CREATE TEMP TABLE nurse_sorts AS SELECT * FROM pg_temp.sorts('SELECT * FROM careflags.worklist');
CREATE TEMP TABLE nurse_order AS SELECT row_number() OVER () AS pos, flag_id, severity, due_at FROM careflags.worklist;
RESET ROLE;
SELECT is((SELECT count(*) FROM nurse_sorts), 1::bigint, 'the nurse''s worklist is sorted once');
SELECT ok((SELECT outputs NOT LIKE '%reason_text%' AND outputs NOT LIKE '%state_text%' AND outputs ~ '^\["[a-z_]+\.severity", "[a-z_]+\.due_at", "[a-z_]+\.flag_id",'
             FROM nurse_sorts),
          '... on rows that begin with severity, due_at and flag_id, before reason_text and state_text are rendered');
SELECT is((SELECT array_agg(flag_id ORDER BY pos) FROM nurse_order),
          (SELECT array_agg(flag_id ORDER BY severity, due_at, flag_id) FROM nurse_order),
          'the nurse''s worklist comes in order of severity, due_at, flag_id');
SELECT is((SELECT array_agg(w.flag_id) FROM (SELECT flag_id FROM careflags.worklist WHERE unit_id = 'fw-a') w),
          (SELECT array_agg(flag_id ORDER BY severity, due_at, flag_id) FROM careflags.worklist WHERE unit_id = 'fw-a'),
          '... and so does a superuser''s read of the unit');

SELECT * FROM finish();
ROLLBACK;
