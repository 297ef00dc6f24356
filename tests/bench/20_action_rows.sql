-- tests/bench/20_action_rows.sql - issue 15 item 2 at the benchmark's scale:
-- every action row (one per patient and action, clinical-rules.md §7.18) of
-- the generated municipality (bench/generate.sql, 2,000 patients, with real
-- product names of fall-risk-increasing drugs) is at most 140 characters in
-- bokmål, nynorsk and English, ends with its whole deadline, and says the
-- same in the three languages (same action, same deadline).
\c careflags_bench_test
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(7);

CREATE TEMP TABLE groups AS
SELECT f.patient_id, careflags.action_of(f.domain, r.anchor) AS action,
       array_agg(f.details ORDER BY f.due_at, f.flag_id) AS details, min(f.due_at) AS due_at,
       count(*) AS flags
  FROM careflags.flag f JOIN careflags.rule r USING (rule_id)
 WHERE f.resolved_at IS NULL
 GROUP BY 1, 2;
CREATE TEMP TABLE action_rows AS
SELECT l.lang, g.patient_id, g.action, g.flags, careflags.action_text(g.action, g.details, g.due_at, l.lang) AS why
  FROM groups g CROSS JOIN (VALUES ('nb'), ('nn'), ('en')) l(lang);

SELECT cmp_ok((SELECT count(*)::int FROM groups), '>', 500, 'the benchmark population has action rows (every open flag)');
SELECT cmp_ok((SELECT count(*)::int FROM groups WHERE flags > 1), '>', 0, 'some of them stand for several rules');
SELECT is((SELECT count(*)::int FROM careflags.flag WHERE resolved_at IS NULL AND (details IS NULL OR details = '{}')), 0,
          'every open flag keeps its reason as data');
SELECT is((SELECT count(*)::int FROM action_rows WHERE char_length(why) > 140), 0,
          'every action row is at most 140 characters in bokmål, nynorsk and English');
SELECT is((SELECT count(*)::int FROM action_rows
            WHERE why !~ (CASE lang WHEN 'en' THEN ' Due [0-9]{1,2} [A-Z][a-z]{2}\.$' ELSE ' Frist [0-9]{1,2}\. [a-zæøå]+\.$' END)), 0,
          'every row ends with its whole deadline ("Frist 12. des." / "Due 12 Dec."), also when rules were left out ("(+N)")');
SELECT is((SELECT count(*)::int FROM (
              SELECT patient_id, action,
                     count(DISTINCT substring(why FROM ' (?:Frist|Due) ([0-9]{1,2})[. ]')) AS days,
                     bool_and(starts_with(why, careflags.action_label(action, lang) || ': ')) AS labelled
                FROM action_rows GROUP BY 1, 2) x
            WHERE days <> 1 OR NOT labelled), 0,
          'the same facts give the same rows in the three languages: each row names its action in the language and the same deadline');
SELECT is((SELECT count(*)::int FROM action_rows WHERE why LIKE '%Legemiddelgjennomgang: %bruker %' AND lang = 'nb') > 0, true,
          'rows with a fall-risk-increasing drug by name are among them');

SELECT * FROM finish();
ROLLBACK;
