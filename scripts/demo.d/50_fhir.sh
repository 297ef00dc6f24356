#!/bin/sh
# Demo step: careflags_fhir on real Synthea data, in its own database.
# Loads the six Synthea bundles in data/ into a FHIR store (one table per
# resource type), admits the elderly to a nursing home with an
# EpisodeOfCare, and shows the flags careflags raises and writes back as
# FHIR Flag resources.
set -eu
cd "${ROOT:-.}"
echo
echo "=== careflags_fhir: Synthea patients in a FHIR store ==="
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS careflags_fhir_demo" -c "CREATE DATABASE careflags_fhir_demo" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -P pager=off -d careflags_fhir_demo <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION careflags_fhir CASCADE;
SELECT resource_type, action FROM careflags_fhir.setup('tables', 'public');
\set b1 `zcat data/synthea-bundles/Annmarie_Doyle_b1756d32-c4c4-4fd2-9023-ff241b55bae0.json.gz`
\set b2 `zcat data/synthea-bundles/Gayla_Ferry_259bc6c6-9c1d-43e9-bd25-7539cf07f8ac.json.gz`
\set b3 `zcat data/synthea-bundles/Lavelle_Kuvalis_9f0fb46c-c9f5-4c50-a983-9f87bf591ce9.json.gz`
\set b4 `zcat data/synthea-bundles/Max_Dicki_d9f8849f-e4a7-4ced-b057-c618db16a117.json.gz`
\set b5 `zcat data/synthea-bundles/Trey_Berge_99153850-84f1-4de6-9e19-3e0d6eeedeb2.json.gz`
\set b6 `zcat data/synthea-bundles/Willia_Runolfsdottir_074c3873-c476-40e3-8046-f67372eb5e05.json.gz`
\echo '--- loading six Synthea transaction bundles (outcome per resource)'
SELECT o.outcome, sum(o.resources) AS resources
FROM unnest(ARRAY[:'b1', :'b2', :'b3', :'b4', :'b5', :'b6']::jsonb[]) AS b, careflags_fhir.load_bundle(b) AS o
GROUP BY 1 ORDER BY 1;
\echo '--- the site maps its nursing-home EpisodeOfCare type; each resident is admitted 30 days ago'
INSERT INTO careflags.unit (unit_id, name, setting) VALUES ('ward-2', 'Ward 2 (FHIR demo)', 'nursing_home_long_term')
    ON CONFLICT DO NOTHING;
INSERT INTO careflags_fhir.setting_map (resource_type, match_kind, system, code, setting, unit_id)
VALUES ('EpisodeOfCare', 'type', 'https://example.org/episode-type', 'long-term', 'nursing_home_long_term', 'ward-2');
INSERT INTO public."EpisodeOfCare" (id, content)
SELECT e.id, jsonb_build_object('resourceType', 'EpisodeOfCare', 'id', e.id, 'status', 'active',
           'type', jsonb_build_array(jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
               'system', 'https://example.org/episode-type', 'code', 'long-term')))),
           'patient', jsonb_build_object('reference', e.source_key),
           'period', jsonb_build_object('start', careflags_fhir.fhir_instant(now() - interval '30 days')))::text
FROM (SELECT gen_random_uuid() AS id, p.source_key FROM careflags.patient AS p WHERE p.source_system = 'fhir') AS e;
\echo '--- careflags flags (open)'
SELECT p.display_name, f.rule_id, f.reason
FROM careflags.flag AS f JOIN careflags.patient AS p USING (patient_id)
WHERE f.resolved_at IS NULL ORDER BY 1, 2;
\echo '--- the same flags as FHIR R4 Flag resources in public."Flag" (one shown)'
SELECT jsonb_pretty(content::jsonb) FROM public."Flag" WHERE NOT deleted ORDER BY id LIMIT 1;
SQL
