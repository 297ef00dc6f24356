-- careflags_fhir: RxNorm -> ATC (issue 14, item 7 e).  Every RxNorm code
-- found anywhere in data/ (all the outside data) (extracted here from the raw files,
-- independently of the plugin) has a row in rxnorm_atc: an ATC code, or
-- explicitly none with the reason.  The rows name their source; a site adds
-- its own rows (kept by pg_dump) and they are used.
\c careflags_fhir_test
\set QUIET 1
\set alldata `for f in data/synthea-bundles/*.json.gz; do zcat "$f" | tr -d '\n'; echo; done; zcat data/synthea-bulk-10/*.ndjson.gz; for f in data/fhir-r4-examples/*.json; do tr -d '\n' < "$f"; echo; done`

BEGIN;
SET LOCAL client_min_messages = error;
SELECT plan(10);

CREATE TEMP TABLE data_rxnorm AS
    SELECT DISTINCT c ->> 'code' AS rxcui, c ->> 'display' AS display
    FROM regexp_split_to_table(:'alldata', E'\n') AS l,
         jsonb_path_query(l::jsonb, 'strict $.**.coding[*] ? (@.system == "http://www.nlm.nih.gov/research/umls/rxnorm")') AS c
    WHERE btrim(l) <> '';

SELECT ok((SELECT count(DISTINCT rxcui) FROM data_rxnorm) >= 50, 'the shared data codes medicines in RxNorm (at least 50 concepts)');
SELECT is_empty($$SELECT rxcui, display FROM data_rxnorm WHERE rxcui NOT IN (SELECT rxcui FROM careflags_fhir.rxnorm_atc)$$,
                'every RxNorm code in data/ has a row in rxnorm_atc');
SELECT is_empty($$SELECT * FROM careflags_fhir.rxnorm_atc WHERE atc IS NULL AND coalesce(note, '') = ''$$,
                'a row without an ATC code says why (explicitly no ATC)');
SELECT is_empty($$SELECT * FROM careflags_fhir.rxnorm_atc WHERE origin = 'default' AND atc !~ '^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$'$$,
                'every shipped ATC code is a substance (level 5)');
SELECT is_empty($$SELECT * FROM careflags_fhir.rxnorm_atc WHERE origin = 'default' AND source NOT LIKE '%WHO ATC index 2026-04-25%'$$,
                'every shipped row names its source and the index date');
SELECT results_eq($$SELECT rxcui, atc FROM careflags_fhir.rxnorm_atc
                    WHERE rxcui IN ('197591', '901813', '209387', '315266', '1599803') ORDER BY rxcui::int$$,
                  $$VALUES ('197591'::text, 'N05BA01'::text), ('209387', 'N02BE01'), ('315266', 'N02BE01'),
                           ('901813', 'R06AA02'), ('1599803', 'N06DA52')$$,
                  'diazepam, paracetamol (brand and plain), diphenhydramine and donepezil + memantine have their ATC codes');

-- A site adds a concept its records use (furosemide 40 MG Oral Tablet).
SELECT ok((SELECT extcondition[array_position(extconfig, 'careflags_fhir.rxnorm_atc'::regclass)] FROM pg_extension
            WHERE extname = 'careflags_fhir') LIKE '%site%', 'site rows of rxnorm_atc are kept by pg_dump');
SELECT lives_ok($$INSERT INTO careflags_fhir.rxnorm_atc (rxcui, atc, name, source)
                  VALUES ('315971', 'C03CA01', 'furosemide 40 MG Oral Tablet', 'our pharmacy')$$, 'a site adds a row');
SELECT lives_ok($$SELECT careflags_fhir.setup('tables', 'public')$$, 'setup: per-type tables');
INSERT INTO public."MedicationRequest" (id, content) VALUES ('c9e00000-0000-4000-8000-000000000001',
    '{"resourceType": "MedicationRequest", "id": "c9e00000-0000-4000-8000-000000000001", "status": "active", "intent": "order",
      "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "315971"}]},
      "subject": {"reference": "Patient/c9e00000-0000-4000-8000-0000000000a1"}, "authoredOn": "2021-03-01"}');
SELECT results_eq($$SELECT atc, code FROM careflags.medication WHERE source_key = 'MedicationRequest/c9e00000-0000-4000-8000-000000000001'$$,
                  $$VALUES ('C03CA01'::text, 'rxnorm:315971'::text)$$, 'a MedicationRequest with that code gets its ATC code');

SELECT * FROM finish();
ROLLBACK;
