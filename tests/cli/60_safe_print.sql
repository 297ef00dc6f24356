-- tests/cli/60_safe_print.sql - control characters in data never reach the
-- terminal raw: every command's text output escapes them visibly.
--
-- A medicine whose name carries ESC[2J (clear screen), an OSC title sequence
-- and BEL is given to a new resident with a high fall-risk score: the flag
-- "Medication review: fall-risk-increasing drugs" names it in its reason.
-- watch prints that reason; check prints it when the stored reason differs
-- from the expected one; report echoes a --unit argument with the sequence.
\set esc_name `printf 'Zopiclone \033[2J\033]0;owned\007 7.5 mg'`
\! s=$(tests/cli/cf.sh state); rm -f "$s/watch60.out"; (tests/cli/cf.sh watch --events raised --count 20 --timeout 8 >"$s/watch60.out" 2>"$s/watch60.err" &)
\set listening `for i in $(seq 1 100); do n=$(tests/cli/cf.sh psql -Atc "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'careflags' AND query = 'LISTEN careflags'"); [ "$n" -ge 1 ] && break; sleep 0.2; done; echo "$n"`
\set p60 `tests/cli/cf.sh psql -Atc "BEGIN" -c "INSERT INTO careflags.patient (source_system, source_key, display_name, birth_date) VALUES ('demo', 'esc-60', 'Escape Sixty', current_date - interval '84 years')" -c "INSERT INTO careflags.episode (patient_id, setting, unit_id, started_at) SELECT patient_id, 'nursing_home_long_term', 'LT-A', now() - interval '2 days' FROM careflags.patient WHERE source_key = 'esc-60'" -c "INSERT INTO careflags.medication (patient_id, atc, name, started_at) SELECT patient_id, 'N05CF01', :'esc_name', now() - interval '1 day' FROM careflags.patient WHERE source_key = 'esc-60'" -c "INSERT INTO careflags.assessment (patient_id, instrument, assessed_at, total) SELECT patient_id, 'morse', now() - interval '1 hour', 70 FROM careflags.patient WHERE source_key = 'esc-60'" -c "COMMIT" -c "SELECT patient_id FROM careflags.patient WHERE source_key = 'esc-60'"`
\set reason `tests/cli/cf.sh psql -Atc "SELECT reason FROM careflags.flag WHERE patient_id = :p60 AND rule_id = 'medication_review.fall_risk_drugs' AND resolved_at IS NULL"`
\set watched `sleep 9; cat "$(tests/cli/cf.sh state)/watch60.out"`
-- check: the stored reason changed behind the extension's back, so check quotes the expected one
\set tamper `tests/cli/cf.sh psql -Atc "SET session_replication_role = replica" -c "UPDATE careflags.flag SET reason = 'changed' WHERE patient_id = :p60 AND rule_id = 'medication_review.fall_risk_drugs' AND resolved_at IS NULL RETURNING 'tampered'"`
\set check `tests/cli/cf.sh check 2>&1`
\set repair `tests/cli/cf.sh psql -Atc "SELECT careflags.recompute_patient(:p60) > 0" -c "SELECT count(*) FROM careflags.check_consistency()"`
\set report `tests/cli/cf.sh report --unit "$(printf 'LT-A\033[2J')" 2>&1`
\set report_err `tests/cli/cf.sh report --format "$(printf 'pdf\033[2J')" 2>&1`

BEGIN;
SELECT plan(9);

SELECT ok(:'reason' ~ E'\x1b\\[2J' AND :'reason' ~ 'Zopiclone', 'the flag''s reason holds the medicine name with ESC[2J (the data is there, raw)');
SELECT is(:listening::int, 1, 'watch is listening');
SELECT ok(:'watched' ~ ('pasient ' || :'p60' || ' +medication_review\.fall_risk_drugs .*Zopiclone \\x1B\[2J\\x1B\]0;owned\\x07 7\.5 mg'),
          'watch prints the reason with the control characters escaped (\x1B[2J, \x1B]0;owned\x07)');
SELECT ok(:'watched' !~ E'[\\x01-\\x09\\x0b-\\x1f\\x7f]', 'watch''s output holds no raw control character');
SELECT is(:'tamper'::text, 'tampered', 'the stored reason was changed behind the extension''s back');
SELECT ok(:'check' ~ 'FAIL +consistency .*expected "[^"]*Zopiclone \\x1B\[2J\\x1B\]0;owned\\x07 7\.5 mg',
          'check quotes the expected reason with the control characters escaped');
SELECT ok(:'check' !~ E'[\\x01-\\x09\\x0b-\\x1f\\x7f]', 'check''s output holds no raw control character');
SELECT ok(:'report' ~ 'enhet: LT-A\\x1B\[2J' AND :'report' !~ E'[\\x01-\\x09\\x0b-\\x1f\\x7f]'
          AND :'report_err' ~ 'unknown format "pdf\\x1B\[2J"' AND :'report_err' !~ E'[\\x01-\\x09\\x0b-\\x1f\\x7f]',
          'report: a --unit or --format with control characters is echoed escaped');
SELECT is(:'repair'::text, E't\n0', 'repaired: the flag recomputed, check_consistency() empty');

SELECT * FROM finish();
ROLLBACK;
