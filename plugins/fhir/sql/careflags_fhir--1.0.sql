-- careflags_fhir: FHIR R4 resources stored in PostgreSQL -> careflags facts,
-- careflags flags -> FHIR Flag resources.
--
-- Two stores ("layouts"), chosen with careflags_fhir.setup():
--   'tables'   one table per resource type ("Patient", "Observation", ...),
--              each (id uuid, content text, "lastUpdated" timestamptz,
--              deleted boolean) -- the shape Medplum uses;
--   'resource' one table careflags_fhir.resource for every type, filled by
--              the bulk loaders load_bundle() and load_ndjson().
-- A row trigger on the store maps each written resource onto careflags'
-- canonical facts (source_system 'fhir', source_key '<Type>/<id>'), using
-- the site-editable tables code_map, setting_map, unit_conversion and
-- rxnorm_atc, and records the outcome (mapped / ignored / quarantined /
-- deleted) in resource_map.  A row trigger on careflags.flag mirrors every
-- flag of a FHIR patient as a FHIR R4 Flag into the store's "Flag".
--
-- The trigger functions run inside the record system's transaction as the
-- role that writes the store: they are SECURITY DEFINER with a pinned
-- search_path, and never raise -- a resource that cannot be mapped goes to
-- careflags.quarantine with its reason -- unless careflags.strict is on.
\echo Use "CREATE EXTENSION careflags_fhir" to load this file. \quit

-----------------------------------------------------------------------------
-- Configuration and mapping tables (site data)
-----------------------------------------------------------------------------

CREATE TABLE @extschema@.config (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    layout          text NOT NULL CHECK (layout OPERATOR(pg_catalog.=) ANY (ARRAY['tables', 'resource'])),
    store_schema    name,
    resource_types  text[] NOT NULL,
    configured_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    configured_by   name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE @extschema@.config IS
    'the FHIR store careflags_fhir maps (one row, written by careflags_fhir.setup()): layout, schema of the per-type tables, resource types with a mapping trigger';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.config', '');

CREATE TABLE @extschema@.code_map (
    system              text NOT NULL CHECK (system OPERATOR(pg_catalog.<>) ''),
    code                text NOT NULL CHECK (code OPERATOR(pg_catalog.<>) ''),
    match               text NOT NULL DEFAULT 'exact' CHECK (match OPERATOR(pg_catalog.=) ANY (ARRAY['exact', 'prefix'])),
    fact                text NOT NULL CHECK (fact OPERATOR(pg_catalog.=) ANY (ARRAY['measurement', 'assessment', 'medication_review', 'fall', 'care_plan'])),
    measurement_kind    careflags.measurement_kind,
    instrument          careflags.instrument,
    plan_kind           careflags.plan_kind,
    dated_by            text NOT NULL DEFAULT 'event' CHECK (dated_by OPERATOR(pg_catalog.=) ANY (ARRAY['event', 'recorded'])),
    description         text NOT NULL,
    origin              text NOT NULL DEFAULT 'site' CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['default', 'site'])),
    PRIMARY KEY (system, code, match),
    CONSTRAINT code_map_fact_detail CHECK (
        (measurement_kind IS NOT NULL) OPERATOR(pg_catalog.=) (fact OPERATOR(pg_catalog.=) 'measurement')
        AND (instrument IS NOT NULL) OPERATOR(pg_catalog.=) (fact OPERATOR(pg_catalog.=) 'assessment')
        AND (plan_kind IS NOT NULL) OPERATOR(pg_catalog.=) (fact OPERATOR(pg_catalog.=) 'care_plan'))
);
COMMENT ON TABLE @extschema@.code_map IS
    'codes (LOINC, SNOMED CT, ICD-10, site codes) in Observation/Procedure/Condition/CarePlan that become careflags facts; match ''prefix'' matches codes starting with code (ICD-10 W00-W19); dated_by ''recorded'' dates the fact by recordedDate (history of fall); edit freely, then careflags_fhir.remap()';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.code_map', $$WHERE origin OPERATOR(pg_catalog.=) 'site'$$);

-- clinical-rules.md §6; all codes there marked confirmed, plus the MNA-SF
-- total and the MUST codes it lists as seen in examples / to verify.
INSERT INTO @extschema@.code_map (system, code, match, fact, measurement_kind, instrument, plan_kind, dated_by, description, origin) VALUES
    ('http://loinc.org', '29463-7', 'exact', 'measurement', 'weight', NULL, NULL, 'event', 'Body weight', 'default'),
    ('http://loinc.org', '3141-9', 'exact', 'measurement', 'weight', NULL, NULL, 'event', 'Body weight Measured', 'default'),
    ('http://loinc.org', '8302-2', 'exact', 'measurement', 'height', NULL, NULL, 'event', 'Body height', 'default'),
    ('http://loinc.org', '39156-5', 'exact', 'measurement', 'bmi', NULL, NULL, 'event', 'Body mass index (BMI)', 'default'),
    ('http://loinc.org', '59460-6', 'exact', 'assessment', NULL, 'morse', NULL, 'event', 'Morse Fall Scale total (Synthea: in panel 59453-1)', 'default'),
    ('http://loinc.org', '107114-1', 'exact', 'assessment', NULL, 'mna_sf', NULL, 'event', 'MNA-SF total score (seen in HL7 US Core examples)', 'default'),
    ('http://loinc.org', '101789-6', 'exact', 'assessment', NULL, 'must', NULL, 'event', 'MUST score (two secondary sources; verify)', 'default'),
    ('http://snomed.info/sct', '444297006', 'exact', 'assessment', NULL, 'must', NULL, 'event', 'MUST score (one national value set)', 'default'),
    ('http://snomed.info/sct', '762993000', 'exact', 'assessment', NULL, 'fall_risk_unspecified', NULL, 'event', 'Assessment using Morse Fall Scale (procedure; carries no score)', 'default'),
    ('http://snomed.info/sct', '414191008', 'exact', 'assessment', NULL, 'fall_risk_unspecified', NULL, 'event', 'Fall risk assessment (procedure)', 'default'),
    ('http://snomed.info/sct', '182836005', 'exact', 'medication_review', NULL, NULL, NULL, 'event', 'Review of medication (procedure)', 'default'),
    ('http://snomed.info/sct', '430193006', 'exact', 'medication_review', NULL, NULL, NULL, 'event', 'Medication reconciliation (procedure)', 'default'),
    ('http://snomed.info/sct', '1912002', 'exact', 'fall', NULL, NULL, NULL, 'event', 'Fall', 'default'),
    ('http://snomed.info/sct', '217082002', 'exact', 'fall', NULL, NULL, NULL, 'event', 'Accidental fall', 'default'),
    ('http://snomed.info/sct', '428942009', 'exact', 'fall', NULL, NULL, NULL, 'recorded', 'History of fall (dated when recorded)', 'default');
INSERT INTO @extschema@.code_map (system, code, match, fact, description, origin)
    SELECT s.system, 'W' OPERATOR(pg_catalog.||) pg_catalog.lpad(n::text, 2, '0'), 'prefix', 'fall',
           'ICD-10 external cause: falls (W00-W19)', 'default'
    FROM pg_catalog.generate_series(0, 19) AS n,
         (VALUES ('http://hl7.org/fhir/sid/icd-10'), ('http://hl7.org/fhir/sid/icd-10-cm')) AS s(system);

CREATE TABLE @extschema@.unit_conversion (
    kind        careflags.measurement_kind NOT NULL,
    unit        text NOT NULL,
    factor      numeric NOT NULL CHECK (factor OPERATOR(pg_catalog.>) 0),
    origin      text NOT NULL DEFAULT 'site' CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['default', 'site'])),
    PRIMARY KEY (kind, unit)
);
COMMENT ON TABLE @extschema@.unit_conversion IS
    'Quantity units (UCUM code, else the unit text) accepted for each measurement kind, with the factor to careflags'' unit (kg, cm, kg/m2); any other unit is quarantined';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.unit_conversion', $$WHERE origin OPERATOR(pg_catalog.=) 'site'$$);
-- Factors: UCUM definitions ([lb_av] = 0.45359237 kg, [in_i] = 2.54 cm).
INSERT INTO @extschema@.unit_conversion (kind, unit, factor, origin) VALUES
    ('weight', 'kg', 1, 'default'),
    ('weight', 'g', 0.001, 'default'),
    ('weight', '[lb_av]', 0.45359237, 'default'),
    ('weight', 'lb', 0.45359237, 'default'),
    ('weight', 'lbs', 0.45359237, 'default'),
    ('height', 'cm', 1, 'default'),
    ('height', 'm', 100, 'default'),
    ('height', 'mm', 0.1, 'default'),
    ('height', '[in_i]', 2.54, 'default'),
    ('height', 'in', 2.54, 'default'),
    ('bmi', 'kg/m2', 1, 'default'),
    ('bmi', 'kg/m^2', 1, 'default'),
    ('calf_circumference', 'cm', 1, 'default'),
    ('calf_circumference', '[in_i]', 2.54, 'default');

CREATE TABLE @extschema@.rxnorm_atc (
    rxcui       text PRIMARY KEY CHECK (rxcui OPERATOR(pg_catalog.~) '^[0-9]+$'),
    atc         text NOT NULL CHECK (atc OPERATOR(pg_catalog.~) '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$'),
    name        text NOT NULL,
    source      text NOT NULL,
    origin      text NOT NULL DEFAULT 'site' CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['default', 'site']))
);
COMMENT ON TABLE @extschema@.rxnorm_atc IS
    'RxNorm concept -> ATC code, for medicines coded in RxNorm only (US data, Synthea); an RxNorm code not here is still a medicine (atc NULL, code rxnorm:<code>)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rxnorm_atc', $$WHERE origin OPERATOR(pg_catalog.=) 'site'$$);

-- Source of these rows: the RxNorm concepts that occur in the shared Synthea
-- data (synthea-bundles, synthea-bulk-10), each assigned by hand to the ATC
-- code of its single active ingredient (or its fixed combination) in the WHO
-- Collaborating Centre for Drug Statistics Methodology's ATC classification
-- (ATC/DDD Index).  The ingredient was read from the RxNorm display text in
-- the data; the assignments were made from the index as known to the author
-- and were not re-checked against the online index from this machine (no
-- network).  Concepts whose ATC code was not certain (multi-ingredient cold
-- remedies, some combined contraceptives, donepezil + memantine) are left
-- out and stay atc NULL.  Review before clinical use.
INSERT INTO @extschema@.rxnorm_atc (rxcui, atc, name, source, origin)
SELECT r.rxcui, r.atc, r.name, 'WHO ATC/DDD Index, by ingredient, assigned by hand (see extension script)', 'default'
FROM (VALUES
    ('106892', 'A10AD01', 'insulin isophane, human 70 / insulin regular, human 30 [Humulin]'),
    ('108515', 'L04AD02', 'tacrolimus 5 MG/ML injection'),
    ('1664463', 'L04AD02', 'tacrolimus 1 MG extended release oral tablet'),
    ('1094107', 'G04BX06', 'phenazopyridine 100 MG oral tablet'),
    ('1367439', 'G02BB01', 'NuvaRing (etonogestrel / ethinylestradiol vaginal ring)'),
    ('1736854', 'L01XA01', 'cisplatin 50 MG injection'),
    ('1804799', 'B01AD02', 'alteplase 100 MG injection'),
    ('1856546', 'G02BA03', 'Kyleena (levonorgestrel intrauterine system)'),
    ('807283', 'G02BA03', 'Mirena (levonorgestrel intrauterine system)'),
    ('1870230', 'C01CA24', 'epinephrine 1 MG/ML auto-injector'),
    ('197361', 'C08CA01', 'amlodipine 5 MG oral tablet'),
    ('197591', 'N05BA01', 'diazepam 5 MG oral tablet'),
    ('197604', 'C01AA05', 'digoxin 0.125 MG oral tablet'),
    ('198405', 'M01AE01', 'ibuprofen 100 MG oral tablet'),
    ('206905', 'M01AE01', 'ibuprofen 400 MG oral tablet [Ibu]'),
    ('310965', 'M01AE01', 'ibuprofen 200 MG oral tablet'),
    ('2001499', 'B03BA01', 'vitamin B12 (cyanocobalamin) 5 MG/ML injection'),
    ('205923', 'B03XA01', 'epoetin alfa 4000 UNT/ML injection [Epogen]'),
    ('209387', 'N02BE01', 'acetaminophen (paracetamol) 325 MG oral tablet [Tylenol]'),
    ('313782', 'N02BE01', 'acetaminophen (paracetamol) 325 MG oral tablet'),
    ('243670', 'B01AC06', 'aspirin (acetylsalicylic acid) 81 MG oral tablet'),
    ('308192', 'J01CA04', 'amoxicillin 500 MG oral tablet'),
    ('562251', 'J01CR02', 'amoxicillin 250 MG / clavulanate 125 MG oral tablet'),
    ('309362', 'B01AC04', 'clopidogrel 75 MG oral tablet'),
    ('310325', 'B03AA07', 'ferrous sulfate 325 MG oral tablet'),
    ('310436', 'N06DA04', 'galantamine 4 MG oral tablet'),
    ('310798', 'C03AA03', 'hydrochlorothiazide 25 MG oral tablet'),
    ('316049', 'C03AA03', 'hydrochlorothiazide 25 MG'),
    ('311989', 'J01XE01', 'nitrofurantoin 5 MG/ML oral suspension'),
    ('311995', 'J01XE01', 'nitrofurantoin macrocrystals 50 MG oral capsule'),
    ('312961', 'C10AA01', 'simvastatin 20 MG oral tablet'),
    ('314231', 'C10AA01', 'simvastatin 10 MG oral tablet'),
    ('314076', 'C09AA03', 'lisinopril 10 MG oral tablet'),
    ('351109', 'R03BA02', 'budesonide 0.25 MG/ML inhalation suspension'),
    ('351137', 'R03AC02', 'albuterol (salbutamol) 0.21 MG/ML inhalation solution'),
    ('389221', 'G03AC08', 'etonogestrel 68 MG implant'),
    ('583214', 'L01CD01', 'paclitaxel 100 MG injection'),
    ('705129', 'C01DA02', 'nitroglycerin (glyceryl trinitrate) 0.4 MG/actuation spray'),
    ('748962', 'G03AC01', 'Camila (norethindrone 0.35 MG)'),
    ('831533', 'G03AC01', 'Errin (norethindrone 0.35 MG)'),
    ('834061', 'J01CE02', 'penicillin V potassium 250 MG oral tablet'),
    ('834102', 'J01CE02', 'penicillin V potassium 500 MG oral tablet'),
    ('849574', 'M01AE02', 'naproxen sodium 220 MG oral tablet'),
    ('855332', 'B01AA03', 'warfarin sodium 5 MG oral tablet'),
    ('860975', 'A10BA02', 'metformin 500 MG extended release oral tablet'),
    ('861467', 'N02AB02', 'meperidine (pethidine) 50 MG oral tablet'),
    ('866412', 'C07AB02', 'metoprolol succinate 100 MG extended release oral tablet'),
    ('897718', 'C08DA01', 'verapamil 40 MG'),
    ('904419', 'M05BA04', 'alendronic acid 10 MG oral tablet'),
    ('966222', 'H03AA01', 'levothyroxine sodium 0.075 MG oral tablet'),
    ('997488', 'R06AX26', 'fexofenadine 30 MG oral tablet')
) AS r(rxcui, atc, name);

CREATE TABLE @extschema@.setting_map (
    resource_type   text NOT NULL DEFAULT '*' CHECK (resource_type OPERATOR(pg_catalog.=) ANY (ARRAY['Encounter', 'EpisodeOfCare', '*'])),
    match_kind      text NOT NULL CHECK (match_kind OPERATOR(pg_catalog.=) ANY (ARRAY['type', 'class', 'location', 'organization'])),
    system          text NOT NULL DEFAULT '',
    code            text NOT NULL CHECK (code OPERATOR(pg_catalog.<>) ''),
    setting         careflags.care_setting NOT NULL,
    unit_id         text,
    description     text,
    PRIMARY KEY (resource_type, match_kind, system, code)
);
COMMENT ON TABLE @extschema@.setting_map IS
    'which Encounters / EpisodeOfCares are care episodes, in which setting and unit: by type or serviceType coding (system, code), class coding (system, code), location or managing organization / serviceProvider reference (system '''', code ''Location/<id>'' / ''Organization/<id>''); first match in the order type, location, organization, class; nothing shipped: the site decides';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.setting_map', '');

-- What became of every resource the store received.
CREATE TABLE @extschema@.resource_map (
    resource_type   text NOT NULL,
    resource_id     text NOT NULL,
    outcome         text NOT NULL CHECK (outcome OPERATOR(pg_catalog.=) ANY (ARRAY['mapped', 'ignored', 'quarantined', 'deleted'])),
    reason          text,
    patient_ref     text,
    facts           text[] NOT NULL DEFAULT '{}',
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (resource_type, resource_id),
    CONSTRAINT resource_map_reason CHECK (outcome OPERATOR(pg_catalog.=) 'mapped' OR reason IS NOT NULL)
);
COMMENT ON TABLE @extschema@.resource_map IS
    'outcome per FHIR resource: mapped (facts lists ''<careflags table>|<source_key>''), ignored (not used by careflags; reason), quarantined (reason; see careflags.quarantine), deleted';
CREATE INDEX resource_map_outcome ON @extschema@.resource_map (outcome, resource_type);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.resource_map', '');

CREATE VIEW @extschema@.outcome_counts AS
    SELECT resource_type, outcome, pg_catalog.count(*) AS resources
    FROM @extschema@.resource_map
    GROUP BY resource_type, outcome;
COMMENT ON VIEW @extschema@.outcome_counts IS 'resources per type and outcome (mapped, ignored, quarantined, deleted)';

-- The single-table store of the 'resource' layout.
CREATE TABLE @extschema@.resource (
    resource_type   text NOT NULL CHECK (resource_type OPERATOR(pg_catalog.~) '^[A-Z][A-Za-z]+$'),
    id              text NOT NULL CHECK (id OPERATOR(pg_catalog.~) '^[A-Za-z0-9.-]{1,64}$'),
    content         text NOT NULL,
    "lastUpdated"   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted         boolean NOT NULL DEFAULT false,
    PRIMARY KEY (resource_type, id)
);
COMMENT ON TABLE @extschema@.resource IS
    'FHIR store of the ''resource'' layout: every resource type in one table; content is the resource JSON as received (kept even when malformed)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.resource', '');

-----------------------------------------------------------------------------
-- Small helpers
-----------------------------------------------------------------------------

CREATE FUNCTION @extschema@.is_strict() RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    RETURN COALESCE(pg_catalog.current_setting('careflags.strict', true), 'off')
           OPERATOR(pg_catalog.=) ANY (ARRAY['on', 'true', '1', 'yes']);
COMMENT ON FUNCTION @extschema@.is_strict() IS 'careflags.strict: raise instead of quarantining';

-- FHIR date, dateTime or instant -> timestamptz.  A date without a time is
-- midnight in careflags.timezone (clinical-rules.md §7.15), not in the
-- writing session's TimeZone.
CREATE FUNCTION @extschema@.fhir_time(value text) RETURNS timestamptz
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    tz text := coalesce(nullif(current_setting('careflags.timezone', true), ''), 'Europe/Oslo');
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    ELSIF value ~ '^[0-9]{4}$' THEN
        RETURN (value || '-01-01')::date::timestamp AT TIME ZONE tz;
    ELSIF value ~ '^[0-9]{4}-[0-9]{2}$' THEN
        RETURN (value || '-01')::date::timestamp AT TIME ZONE tz;
    ELSIF value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
        RETURN value::date::timestamp AT TIME ZONE tz;
    ELSIF value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$' THEN
        RETURN value::timestamptz;
    END IF;
    RAISE EXCEPTION 'invalid FHIR date/time "%"', value USING ERRCODE = 'invalid_datetime_format';
END
$$;
COMMENT ON FUNCTION @extschema@.fhir_time(text) IS
    'FHIR date/dateTime/instant to timestamptz; partial dates are the start of the year/month/day in careflags.timezone';

-- The FHIR id of the Patient a reference points to; NULL for no reference.
-- 'Patient/x', 'https://host/fhir/Patient/x/_history/2', and 'urn:uuid:x'
-- (transaction bundles; the uuid is taken as the patient's id, which is how
-- Synthea and most generators write them).
CREATE FUNCTION @extschema@.patient_ref(ref jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r text;
    m text[];
BEGIN
    IF ref IS NULL OR jsonb_typeof(ref) <> 'object' THEN
        RETURN NULL;
    END IF;
    r := ref ->> 'reference';
    IF r IS NULL THEN
        RAISE EXCEPTION 'the subject has no literal reference (only %)',
            coalesce((SELECT string_agg(k, ', ') FROM jsonb_object_keys(ref) AS k), 'nothing')
            USING ERRCODE = 'CFF01', HINT = 'patient';
    END IF;
    r := regexp_replace(r, '/_history/[^/]*$', '');
    m := regexp_match(r, '^urn:uuid:([0-9A-Fa-f-]{36})$');
    IF m IS NOT NULL THEN
        RETURN lower(m[1]);
    END IF;
    m := regexp_match(r, '(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9.-]{1,64})$');
    IF m IS NULL THEN
        RAISE EXCEPTION 'cannot read the subject reference "%"', r USING ERRCODE = 'CFF01', HINT = 'patient';
    ELSIF m[1] <> 'Patient' THEN
        RAISE EXCEPTION 'the subject is a %, not a Patient', m[1] USING ERRCODE = 'CFF01', HINT = 'patient';
    END IF;
    RETURN m[2];
END
$$;
COMMENT ON FUNCTION @extschema@.patient_ref(jsonb) IS
    'FHIR id of the Patient in a Reference (relative, absolute, versioned or urn:uuid); raises CFF01 for a non-Patient or unreadable reference';

-- A reference normalised to 'Type/id' (or kept as given) for setting_map.
CREATE FUNCTION @extschema@.ref_key(ref jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    RETURN COALESCE(
        (pg_catalog.regexp_match(
            pg_catalog.regexp_replace(ref OPERATOR(pg_catalog.->>) 'reference', '/_history/[^/]*$', ''),
            '([A-Z][A-Za-z]+/[A-Za-z0-9.-]{1,64})$'))[1],
        ref OPERATOR(pg_catalog.->>) 'reference');
COMMENT ON FUNCTION @extschema@.ref_key(jsonb) IS 'a Reference as ''Type/id'' (or as written when it has no such form)';

-- Deterministic Flag id for a careflags flag: a name-based uuid (version 3
-- layout: md5 of a namespace string and the flag id).
CREATE FUNCTION @extschema@.flag_uuid(flag_id bigint) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT (pg_catalog.substr(h, 1, 12) OPERATOR(pg_catalog.||) '3' OPERATOR(pg_catalog.||) pg_catalog.substr(h, 14, 3)
                    OPERATOR(pg_catalog.||) pg_catalog.substr('89ab', (pg_catalog.strpos('0123456789abcdef', pg_catalog.substr(h, 17, 1))
                                                                       OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog.%) 4 OPERATOR(pg_catalog.+) 1, 1)
                    OPERATOR(pg_catalog.||) pg_catalog.substr(h, 18))::uuid
            FROM pg_catalog.md5('careflags_fhir:Flag:' OPERATOR(pg_catalog.||) flag_id::text) AS h);
COMMENT ON FUNCTION @extschema@.flag_uuid(bigint) IS
    'id of the FHIR Flag mirroring careflags flag flag_id: md5-based uuid (version 3 layout), the same on every run and in every database';

-- careflags.quarantine, as the plugin writes it.
CREATE FUNCTION @extschema@.quarantine(fact_table text, source_key text, patient_id bigint,
                                       reason text, payload jsonb) RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        INSERT INTO careflags.quarantine (fact_table, source_system, source_key, patient_id, reason, payload)
            VALUES (fact_table, 'fhir', source_key, patient_id, reason, payload);
    END;
COMMENT ON FUNCTION @extschema@.quarantine(text, text, bigint, text, jsonb) IS
    'records a FHIR resource careflags should use but cannot in careflags.quarantine (source_system fhir)';

CREATE FUNCTION @extschema@.default_fact_table(resource_type text) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    RETURN CASE resource_type
        WHEN 'Patient' THEN 'patient'
        WHEN 'Encounter' THEN 'episode'
        WHEN 'EpisodeOfCare' THEN 'episode'
        WHEN 'MedicationRequest' THEN 'medication'
        WHEN 'MedicationStatement' THEN 'medication'
        WHEN 'Observation' THEN 'measurement'
        WHEN 'Procedure' THEN 'assessment'
        WHEN 'Condition' THEN 'fall'
        WHEN 'CarePlan' THEN 'care_plan'
        WHEN 'NutritionOrder' THEN 'care_plan'
        ELSE 'unknown'
    END;
COMMENT ON FUNCTION @extschema@.default_fact_table(text) IS
    'the careflags table a resource of this type usually feeds (for quarantine rows written before the code is known)';

-- The careflags patient of a FHIR patient id, made as a placeholder
-- (birth_date NULL) when the Patient has not arrived yet.
CREATE FUNCTION @extschema@.patient_id(fhir_id text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    pid bigint;
BEGIN
    SELECT p.patient_id INTO pid FROM careflags.patient AS p
        WHERE p.source_system = 'fhir' AND p.source_key = 'Patient/' || fhir_id;
    IF pid IS NULL THEN
        INSERT INTO careflags.patient (source_system, source_key)
            VALUES ('fhir', 'Patient/' || fhir_id)
            ON CONFLICT (source_system, source_key) DO NOTHING
            RETURNING patient_id INTO pid;
        IF pid IS NULL THEN
            SELECT p.patient_id INTO pid FROM careflags.patient AS p
                WHERE p.source_system = 'fhir' AND p.source_key = 'Patient/' || fhir_id;
        END IF;
        IF pid IS NULL THEN
            RAISE EXCEPTION 'careflags did not accept a placeholder for Patient/%', fhir_id
                USING ERRCODE = 'CFF01', HINT = 'patient';
        END IF;
    END IF;
    RETURN pid;
END
$$;
COMMENT ON FUNCTION @extschema@.patient_id(text) IS
    'careflags patient_id for a FHIR Patient id; creates a placeholder patient (no birth date) until the Patient resource arrives';

-- The reason careflags' own guard gave for the latest rejected fact of a key.
CREATE FUNCTION @extschema@.guard_reason(fact_table text, source_key text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    RETURN COALESCE(
        (SELECT q.reason FROM careflags.quarantine AS q
          WHERE q.source_system OPERATOR(pg_catalog.=) 'fhir' AND q.source_key OPERATOR(pg_catalog.=) guard_reason.source_key
          ORDER BY q.quarantine_id DESC LIMIT 1),
        'careflags rejected the ' OPERATOR(pg_catalog.||) fact_table OPERATOR(pg_catalog.||) ' fact');
COMMENT ON FUNCTION @extschema@.guard_reason(text, text) IS
    'why careflags.fact_guard quarantined the fact with this source key (its latest quarantine row)';

-- Removes the facts in old that are not in keep ('<table>|<source_key>').
CREATE FUNCTION @extschema@.drop_facts(old text[], keep text[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    ref text;
    tbl text;
BEGIN
    FOREACH ref IN ARRAY coalesce(old, '{}') LOOP
        CONTINUE WHEN ref = ANY (coalesce(keep, '{}'));
        tbl := split_part(ref, '|', 1);
        IF tbl NOT IN ('patient', 'episode', 'assessment', 'measurement', 'medication',
                       'medication_review', 'care_plan', 'fall') THEN
            RAISE EXCEPTION 'unexpected fact reference "%"', ref;
        END IF;
        EXECUTE format('DELETE FROM careflags.%I WHERE source_system = $1 AND source_key = $2', tbl)
            USING 'fhir', substr(ref, length(tbl) + 2);
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.drop_facts(text[], text[]) IS
    'deletes the careflags facts listed in old and not in keep (a resource''s earlier facts)';

-- The first code_map row matching one of the codings (exact before prefix,
-- in coding order).
CREATE FUNCTION @extschema@.lookup_code(codings jsonb) RETURNS @extschema@.code_map
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT m.*
        FROM pg_catalog.jsonb_array_elements(
                 CASE WHEN pg_catalog.jsonb_typeof(codings) OPERATOR(pg_catalog.=) 'array' THEN codings ELSE '[]'::jsonb END)
                 WITH ORDINALITY AS c(coding, n)
        JOIN @extschema@.code_map AS m
          ON m.system OPERATOR(pg_catalog.=) (c.coding OPERATOR(pg_catalog.->>) 'system')
         AND ((m.match OPERATOR(pg_catalog.=) 'exact' AND m.code OPERATOR(pg_catalog.=) (c.coding OPERATOR(pg_catalog.->>) 'code'))
              OR (m.match OPERATOR(pg_catalog.=) 'prefix'
                  AND pg_catalog.starts_with(c.coding OPERATOR(pg_catalog.->>) 'code', m.code)))
        ORDER BY (m.match OPERATOR(pg_catalog.=) 'prefix'), c.n, pg_catalog.length(m.code) DESC
        LIMIT 1;
    END;
COMMENT ON FUNCTION @extschema@.lookup_code(jsonb) IS 'the code_map row for an array of Codings (exact matches first, then the longest prefix)';

-----------------------------------------------------------------------------
-- Mapping: one function per kind of resource, each returning a mapping.
-- A resource careflags should use but cannot raises SQLSTATE CFF01 with the
-- reason as message and the careflags table it would have fed as hint;
-- map_resource() turns that into a quarantine row.
-----------------------------------------------------------------------------

CREATE TYPE @extschema@.mapping AS (
    outcome     text,
    reason      text,
    patient_ref text,
    facts       text[]
);
COMMENT ON TYPE @extschema@.mapping IS 'result of mapping one resource: outcome, reason, FHIR patient id, facts written';

-- When a clinical resource happened.
CREATE FUNCTION @extschema@.event_time(doc jsonb) RETURNS timestamptz
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    RETURN @extschema@.fhir_time(COALESCE(
        doc OPERATOR(pg_catalog.->>) 'effectiveDateTime',
        doc OPERATOR(pg_catalog.->) 'effectivePeriod' OPERATOR(pg_catalog.->>) 'start',
        doc OPERATOR(pg_catalog.->>) 'effectiveInstant',
        doc OPERATOR(pg_catalog.->>) 'performedDateTime',
        doc OPERATOR(pg_catalog.->) 'performedPeriod' OPERATOR(pg_catalog.->>) 'start',
        doc OPERATOR(pg_catalog.->>) 'onsetDateTime',
        doc OPERATOR(pg_catalog.->) 'onsetPeriod' OPERATOR(pg_catalog.->>) 'start',
        doc OPERATOR(pg_catalog.->) 'period' OPERATOR(pg_catalog.->>) 'start',
        doc OPERATOR(pg_catalog.->>) 'issued',
        doc OPERATOR(pg_catalog.->>) 'recordedDate'));
COMMENT ON FUNCTION @extschema@.event_time(jsonb) IS
    'effective[x], performed[x], onset[x], period.start, issued or recordedDate of a resource, the first present';

CREATE FUNCTION @extschema@.map_patient(rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
    nm jsonb;
    display text;
    birth date;
    dead boolean;
    dead_at timestamptz;
    ok boolean;
    key text := 'Patient/' || rid;
BEGIN
    SELECT n INTO nm FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc -> 'name') = 'array' THEN doc -> 'name' ELSE '[]' END)
        WITH ORDINALITY AS x(n, i)
        ORDER BY (n ->> 'use' = 'official') IS NOT TRUE, i LIMIT 1;
    display := coalesce(nm ->> 'text',
                        nullif(concat_ws(' ', (SELECT string_agg(g, ' ') FROM jsonb_array_elements_text(
                                                   CASE WHEN jsonb_typeof(nm -> 'given') = 'array' THEN nm -> 'given' ELSE '[]' END) AS g),
                                         nm ->> 'family'), ''));
    BEGIN
        birth := @extschema@.fhir_time(doc ->> 'birthDate') AT TIME ZONE
                 coalesce(nullif(current_setting('careflags.timezone', true), ''), 'Europe/Oslo');
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
        RAISE EXCEPTION 'invalid birthDate "%"', doc ->> 'birthDate' USING ERRCODE = 'CFF01', HINT = 'patient';
    END;
    dead_at := @extschema@.fhir_time(doc ->> 'deceasedDateTime');
    dead := dead_at IS NOT NULL OR coalesce((doc ->> 'deceasedBoolean')::boolean, false);

    INSERT INTO careflags.patient AS p (source_system, source_key, display_name, birth_date, sex, deceased, deceased_at)
        VALUES ('fhir', key, display, birth,
                CASE doc ->> 'gender' WHEN 'male' THEN 'male' WHEN 'female' THEN 'female'
                                      WHEN 'other' THEN 'other' ELSE 'unknown' END::careflags.sex,
                dead, dead_at)
        ON CONFLICT (source_system, source_key) DO UPDATE
            SET display_name = EXCLUDED.display_name, birth_date = EXCLUDED.birth_date, sex = EXCLUDED.sex,
                deceased = EXCLUDED.deceased, deceased_at = EXCLUDED.deceased_at, updated_at = pg_catalog.now()
        RETURNING true INTO ok;
    res.patient_ref := rid;
    IF ok THEN
        res.outcome := 'mapped';
        res.facts := ARRAY['patient|' || key];
    ELSE
        res.outcome := 'quarantined';
        res.reason := @extschema@.guard_reason('patient', key);
        res.facts := '{}';
    END IF;
    RETURN res;
END
$$;
COMMENT ON FUNCTION @extschema@.map_patient(text, jsonb) IS
    'Patient -> careflags.patient (name, birthDate, gender, deceased[x]); fills in a placeholder made earlier';

CREATE FUNCTION @extschema@.map_episode(rtype text, rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
    st text := doc ->> 'status';
    sm record;
    pid bigint;
    t_start timestamptz;
    t_end timestamptz;
    ok boolean;
    key text := rtype || '/' || rid;
BEGIN
    res.facts := '{}';
    IF (rtype = 'EpisodeOfCare' AND NOT COALESCE(st = ANY (ARRAY['active', 'onhold', 'finished']), false))
       OR (rtype = 'Encounter' AND NOT COALESCE(st = ANY (ARRAY['arrived', 'triaged', 'in-progress', 'onleave', 'finished']), false)) THEN
        res.outcome := 'ignored';
        res.reason := format('status %s is not a care episode', coalesce(st, '(none)'));
        RETURN res;
    END IF;

    WITH c(kind, system, code) AS (
        SELECT 'type', coalesce(x ->> 'system', ''), x ->> 'code' FROM jsonb_path_query(doc, '$.type[*].coding[*]') AS x
        UNION ALL
        SELECT 'type', coalesce(x ->> 'system', ''), x ->> 'code' FROM jsonb_path_query(doc, '$.serviceType.coding[*]') AS x
        UNION ALL
        SELECT 'class', coalesce(x ->> 'system', ''), x ->> 'code' FROM jsonb_path_query(doc, '$.class') AS x
        UNION ALL
        SELECT 'location', '', @extschema@.ref_key(x) FROM jsonb_path_query(doc, '$.location[*].location') AS x
        UNION ALL
        SELECT 'organization', '', @extschema@.ref_key(x) FROM jsonb_path_query(doc, '$.managingOrganization') AS x
        UNION ALL
        SELECT 'organization', '', @extschema@.ref_key(x) FROM jsonb_path_query(doc, '$.serviceProvider') AS x)
    SELECT s.setting, s.unit_id INTO sm
        FROM c JOIN @extschema@.setting_map AS s
          ON s.match_kind = c.kind AND s.system = c.system AND s.code = c.code
         AND s.resource_type IN (rtype, '*')
        ORDER BY array_position(ARRAY['type', 'location', 'organization', 'class'], s.match_kind),
                 s.resource_type = '*'
        LIMIT 1;
    IF NOT FOUND THEN
        res.outcome := 'ignored';
        res.reason := 'no setting_map row matches its type, class, location or organization';
        RETURN res;
    END IF;

    res.patient_ref := @extschema@.patient_ref(doc -> CASE rtype WHEN 'EpisodeOfCare' THEN 'patient' ELSE 'subject' END);
    IF res.patient_ref IS NULL THEN
        RAISE EXCEPTION '% has no %', rtype, CASE rtype WHEN 'EpisodeOfCare' THEN 'patient' ELSE 'subject' END
            USING ERRCODE = 'CFF01', HINT = 'episode';
    END IF;
    t_start := @extschema@.fhir_time(doc -> 'period' ->> 'start');
    t_end := @extschema@.fhir_time(doc -> 'period' ->> 'end');
    IF t_start IS NULL THEN
        RAISE EXCEPTION '% has no period.start', rtype USING ERRCODE = 'CFF01', HINT = 'episode';
    END IF;
    pid := @extschema@.patient_id(res.patient_ref);

    INSERT INTO careflags.episode AS e (patient_id, source_system, source_key, setting, unit_id, started_at, ended_at)
        VALUES (pid, 'fhir', key, sm.setting, sm.unit_id, t_start, t_end)
        ON CONFLICT (source_system, source_key) DO UPDATE
            SET patient_id = EXCLUDED.patient_id, setting = EXCLUDED.setting, unit_id = EXCLUDED.unit_id,
                started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at
        RETURNING true INTO ok;
    IF ok THEN
        res.outcome := 'mapped';
        res.facts := ARRAY['episode|' || key];
    ELSE
        res.outcome := 'quarantined';
        res.reason := @extschema@.guard_reason('episode', key);
    END IF;
    RETURN res;
END
$$;
COMMENT ON FUNCTION @extschema@.map_episode(text, text, jsonb) IS
    'Encounter / EpisodeOfCare matched by careflags_fhir.setting_map -> careflags.episode (setting, unit, period)';

CREATE FUNCTION @extschema@.map_medication(rtype text, rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
    st text := doc ->> 'status';
    concept jsonb;
    ref text;
    atc_coding text;
    rx text;
    v_atc text;
    v_code text;
    v_name text;
    status careflags.medication_status;
    t_start timestamptz;
    t_stop timestamptz;
    prn boolean;
    pid bigint;
    ok boolean;
    key text := rtype || '/' || rid;
BEGIN
    res.facts := '{}';
    IF st IN ('draft', 'intended', 'not-taken') THEN
        res.outcome := 'ignored';
        res.reason := format('status %s: not a medicine in use', st);
        RETURN res;
    END IF;
    IF rtype = 'MedicationRequest' AND doc ->> 'intent' IN ('proposal', 'plan', 'option') THEN
        res.outcome := 'ignored';
        res.reason := format('intent %s: not an order', doc ->> 'intent');
        RETURN res;
    END IF;

    res.patient_ref := @extschema@.patient_ref(doc -> 'subject');
    IF res.patient_ref IS NULL THEN
        RAISE EXCEPTION '% has no subject', rtype USING ERRCODE = 'CFF01', HINT = 'medication';
    END IF;

    concept := doc -> 'medicationCodeableConcept';
    IF concept IS NULL AND doc ? 'medicationReference' THEN
        ref := doc -> 'medicationReference' ->> 'reference';
        IF ref LIKE '#%' THEN
            SELECT c -> 'code' INTO concept
                FROM jsonb_array_elements(CASE WHEN jsonb_typeof(doc -> 'contained') = 'array' THEN doc -> 'contained' ELSE '[]' END) AS c
                WHERE c ->> 'resourceType' = 'Medication' AND c ->> 'id' = substr(ref, 2);
        END IF;
        IF concept IS NULL THEN
            v_code := 'ref:' || coalesce(@extschema@.ref_key(doc -> 'medicationReference'), '');
            v_name := doc -> 'medicationReference' ->> 'display';
            IF ref IS NULL THEN
                v_code := NULL;
            END IF;
        END IF;
    END IF;
    IF concept IS NOT NULL THEN
        SELECT x ->> 'code' INTO atc_coding FROM jsonb_path_query(concept, '$.coding[*]') AS x
            WHERE x ->> 'system' = 'http://www.whocc.no/atc' LIMIT 1;
        SELECT x ->> 'code' INTO rx FROM jsonb_path_query(concept, '$.coding[*]') AS x
            WHERE x ->> 'system' = 'http://www.nlm.nih.gov/research/umls/rxnorm' LIMIT 1;
        IF atc_coding IS NOT NULL THEN
            IF atc_coding !~ '^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$' THEN
                RAISE EXCEPTION 'unknown ATC code "%"', atc_coding USING ERRCODE = 'CFF01', HINT = 'medication';
            END IF;
            v_atc := atc_coding;
        ELSIF rx IS NOT NULL THEN
            SELECT m.atc INTO v_atc FROM @extschema@.rxnorm_atc AS m WHERE m.rxcui = rx;
        END IF;
        v_code := CASE
            WHEN rx IS NOT NULL THEN 'rxnorm:' || rx
            WHEN atc_coding IS NOT NULL THEN 'atc:' || atc_coding
            ELSE (SELECT coalesce(x ->> 'system', '') || '|' || (x ->> 'code')
                    FROM jsonb_path_query(concept, '$.coding[*]') AS x WHERE x ->> 'code' IS NOT NULL LIMIT 1)
        END;
        v_name := coalesce(concept ->> 'text',
                           (SELECT x ->> 'display' FROM jsonb_path_query(concept, '$.coding[*]') AS x
                             WHERE x ->> 'display' IS NOT NULL LIMIT 1));
        IF v_code IS NULL AND v_name IS NOT NULL THEN
            v_code := 'text:' || lower(v_name);
        END IF;
    END IF;
    IF v_code IS NULL THEN
        RAISE EXCEPTION '% names no medication code', rtype USING ERRCODE = 'CFF01', HINT = 'medication';
    END IF;

    status := CASE st
        WHEN 'active' THEN 'active' WHEN 'on-hold' THEN 'on_hold' WHEN 'stopped' THEN 'stopped'
        WHEN 'completed' THEN 'completed' WHEN 'cancelled' THEN 'cancelled'
        WHEN 'entered-in-error' THEN 'entered_in_error' ELSE 'unknown' END::careflags.medication_status;
    IF rtype = 'MedicationRequest' THEN
        t_start := @extschema@.fhir_time(coalesce(doc ->> 'authoredOn',
                                                  doc -> 'dispenseRequest' -> 'validityPeriod' ->> 'start'));
        prn := jsonb_path_exists(doc, '$.dosageInstruction[*] ? (@.asNeededBoolean == true || exists(@.asNeededCodeableConcept))');
    ELSE
        t_start := @extschema@.fhir_time(coalesce(doc ->> 'effectiveDateTime', doc -> 'effectivePeriod' ->> 'start',
                                                  doc ->> 'dateAsserted'));
        t_stop := @extschema@.fhir_time(doc -> 'effectivePeriod' ->> 'end');
        prn := jsonb_path_exists(doc, '$.dosage[*] ? (@.asNeededBoolean == true || exists(@.asNeededCodeableConcept))');
    END IF;
    IF t_start IS NULL THEN
        RAISE EXCEPTION '% has no start time (authoredOn / effective[x])', rtype USING ERRCODE = 'CFF01', HINT = 'medication';
    END IF;
    pid := @extschema@.patient_id(res.patient_ref);

    INSERT INTO careflags.medication AS m (patient_id, source_system, source_key, atc, code, name,
                                           started_at, stopped_at, as_needed, status)
        VALUES (pid, 'fhir', key, v_atc, v_code, v_name, t_start, t_stop, prn, status)
        ON CONFLICT (source_system, source_key) DO UPDATE
            SET patient_id = EXCLUDED.patient_id, atc = EXCLUDED.atc, code = EXCLUDED.code, name = EXCLUDED.name,
                started_at = EXCLUDED.started_at, stopped_at = EXCLUDED.stopped_at,
                as_needed = EXCLUDED.as_needed, status = EXCLUDED.status
        RETURNING true INTO ok;
    IF ok THEN
        res.outcome := 'mapped';
        res.facts := ARRAY['medication|' || key];
    ELSE
        res.outcome := 'quarantined';
        res.reason := @extschema@.guard_reason('medication', key);
    END IF;
    RETURN res;
END
$$;
COMMENT ON FUNCTION @extschema@.map_medication(text, text, jsonb) IS
    'MedicationRequest / MedicationStatement -> careflags.medication: ATC coding used as is, RxNorm via rxnorm_atc (else atc NULL, code rxnorm:<code>), status, as-needed, start/stop';

CREATE FUNCTION @extschema@.map_nutrition_order(rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
    st text := doc ->> 'status';
    t_start timestamptz;
    pid bigint;
    ok boolean;
    key text := 'NutritionOrder/' || rid;
BEGIN
    res.facts := '{}';
    IF NOT COALESCE(st = ANY (ARRAY['active', 'on-hold', 'completed']), false) THEN
        res.outcome := 'ignored';
        res.reason := format('status %s is not a plan in force', coalesce(st, '(none)'));
        RETURN res;
    END IF;
    res.patient_ref := @extschema@.patient_ref(doc -> 'patient');
    IF res.patient_ref IS NULL THEN
        RAISE EXCEPTION 'NutritionOrder has no patient' USING ERRCODE = 'CFF01', HINT = 'care_plan';
    END IF;
    t_start := @extschema@.fhir_time(doc ->> 'dateTime');
    IF t_start IS NULL THEN
        RAISE EXCEPTION 'NutritionOrder has no dateTime' USING ERRCODE = 'CFF01', HINT = 'care_plan';
    END IF;
    pid := @extschema@.patient_id(res.patient_ref);
    INSERT INTO careflags.care_plan AS c (patient_id, source_system, source_key, kind, started_at)
        VALUES (pid, 'fhir', key, 'nutrition', t_start)
        ON CONFLICT (source_system, source_key) DO UPDATE
            SET patient_id = EXCLUDED.patient_id, kind = EXCLUDED.kind, started_at = EXCLUDED.started_at
        RETURNING true INTO ok;
    IF ok THEN
        res.outcome := 'mapped';
        res.facts := ARRAY['care_plan|' || key];
    ELSE
        res.outcome := 'quarantined';
        res.reason := @extschema@.guard_reason('care_plan', key);
    END IF;
    RETURN res;
END
$$;
COMMENT ON FUNCTION @extschema@.map_nutrition_order(text, jsonb) IS
    'NutritionOrder (active, on-hold, completed) -> careflags.care_plan of kind nutrition (clinical-rules.md §7.10)';

CREATE FUNCTION @extschema@.map_coded(rtype text, rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
    st text;
    cand record;
    m @extschema@.code_map;
    pid bigint;
    t timestamptz;
    key text;
    vq jsonb;
    v numeric;
    unit text;
    factor numeric;
    ok boolean;
    first_code text;
BEGIN
    res.facts := '{}';
    st := CASE rtype WHEN 'Condition' THEN doc -> 'verificationStatus' -> 'coding' -> 0 ->> 'code' ELSE doc ->> 'status' END;
    IF (rtype = 'Observation' AND st IN ('entered-in-error', 'cancelled'))
       OR (rtype = 'Procedure' AND st IS DISTINCT FROM 'completed')
       OR (rtype = 'Condition' AND st IN ('entered-in-error', 'refuted'))
       OR (rtype = 'CarePlan' AND st IN ('entered-in-error', 'draft')) THEN
        res.outcome := 'ignored';
        res.reason := format('status %s', coalesce(st, '(none)'));
        RETURN res;
    END IF;
    IF rtype <> 'CarePlan' AND NOT jsonb_path_exists(doc, '$.code.coding[*].code') THEN
        IF doc -> 'code' ->> 'text' IS NOT NULL THEN
            res.outcome := 'ignored';
            res.reason := 'code has text only, no coding';
            RETURN res;
        END IF;
        RAISE EXCEPTION '% has no code', rtype USING ERRCODE = 'CFF01', HINT = @extschema@.default_fact_table(rtype);
    END IF;

    FOR cand IN
        SELECT '' AS suffix,
               CASE WHEN rtype = 'CarePlan' THEN jsonb_path_query_array(doc, '$.category[*].coding[*]')
                    ELSE doc -> 'code' -> 'coding' END AS codings,
               doc AS holder
        UNION ALL
        SELECT '#' || coalesce(comp -> 'code' -> 'coding' -> 0 ->> 'code', n::text), comp -> 'code' -> 'coding', comp
          FROM jsonb_array_elements(CASE WHEN rtype = 'Observation' AND jsonb_typeof(doc -> 'component') = 'array'
                                         THEN doc -> 'component' ELSE '[]' END) WITH ORDINALITY AS x(comp, n)
    LOOP
        m := @extschema@.lookup_code(cand.codings);
        CONTINUE WHEN m.fact IS NULL;
        IF res.patient_ref IS NULL THEN
            res.patient_ref := @extschema@.patient_ref(doc -> 'subject');
            IF res.patient_ref IS NULL THEN
                RAISE EXCEPTION '% with code % has no subject', rtype, m.code USING ERRCODE = 'CFF01', HINT = m.fact;
            END IF;
            pid := @extschema@.patient_id(res.patient_ref);
        END IF;
        t := CASE WHEN m.dated_by = 'recorded' AND doc ? 'recordedDate'
                  THEN @extschema@.fhir_time(doc ->> 'recordedDate')
                  ELSE @extschema@.event_time(doc) END;
        IF t IS NULL THEN
            RAISE EXCEPTION '% with code % has no date', rtype, m.code USING ERRCODE = 'CFF01', HINT = m.fact;
        END IF;
        key := rtype || '/' || rid || cand.suffix;
        vq := cand.holder -> 'valueQuantity';
        v := NULL;
        IF jsonb_typeof(vq -> 'value') = 'number' THEN
            v := (vq ->> 'value')::numeric;
        ELSIF jsonb_typeof(cand.holder -> 'valueInteger') = 'number' THEN
            v := (cand.holder ->> 'valueInteger')::numeric;
        END IF;
        ok := NULL;

        IF m.fact = 'measurement' THEN
            IF v IS NULL THEN
                RAISE EXCEPTION '% % has no numeric valueQuantity', m.measurement_kind, key USING ERRCODE = 'CFF01', HINT = 'measurement';
            END IF;
            unit := coalesce(vq ->> 'code', vq ->> 'unit');
            SELECT u.factor INTO factor FROM @extschema@.unit_conversion AS u
                WHERE u.kind = m.measurement_kind AND u.unit = coalesce(vq ->> 'code', vq ->> 'unit');
            IF factor IS NULL AND vq ? 'code' THEN
                SELECT u.factor INTO factor FROM @extschema@.unit_conversion AS u
                    WHERE u.kind = m.measurement_kind AND u.unit = vq ->> 'unit';
            END IF;
            IF factor IS NULL THEN
                RAISE EXCEPTION 'unit "%" cannot be converted for %', coalesce(unit, '(none)'), m.measurement_kind
                    USING ERRCODE = 'CFF01', HINT = 'measurement';
            END IF;
            INSERT INTO careflags.measurement AS x (patient_id, source_system, source_key, kind, value, measured_at)
                VALUES (pid, 'fhir', key, m.measurement_kind, round(v * factor, 3), t)
                ON CONFLICT (source_system, source_key) DO UPDATE
                    SET patient_id = EXCLUDED.patient_id, kind = EXCLUDED.kind, value = EXCLUDED.value,
                        measured_at = EXCLUDED.measured_at
                RETURNING true INTO ok;
        ELSIF m.fact = 'assessment' THEN
            IF v IS NULL AND rtype = 'Observation' AND m.instrument::text NOT LIKE '%\_unspecified' THEN
                RAISE EXCEPTION '% score % has no numeric value', m.instrument, key USING ERRCODE = 'CFF01', HINT = 'assessment';
            END IF;
            INSERT INTO careflags.assessment AS x (patient_id, source_system, source_key, instrument, assessed_at, total)
                VALUES (pid, 'fhir', key, m.instrument, t, v)
                ON CONFLICT (source_system, source_key) DO UPDATE
                    SET patient_id = EXCLUDED.patient_id, instrument = EXCLUDED.instrument,
                        assessed_at = EXCLUDED.assessed_at, total = EXCLUDED.total, items = NULL
                RETURNING true INTO ok;
        ELSIF m.fact = 'medication_review' THEN
            INSERT INTO careflags.medication_review AS x (patient_id, source_system, source_key, reviewed_at, code)
                VALUES (pid, 'fhir', key, t, m.code)
                ON CONFLICT (source_system, source_key) DO UPDATE
                    SET patient_id = EXCLUDED.patient_id, reviewed_at = EXCLUDED.reviewed_at, code = EXCLUDED.code
                RETURNING true INTO ok;
        ELSIF m.fact = 'fall' THEN
            first_code := (SELECT c ->> 'code' FROM jsonb_array_elements(cand.codings) AS c
                            WHERE c ->> 'system' = m.system AND starts_with(c ->> 'code', m.code) LIMIT 1);
            INSERT INTO careflags.fall AS x (patient_id, source_system, source_key, fell_at, code)
                VALUES (pid, 'fhir', key, t, first_code)
                ON CONFLICT (source_system, source_key) DO UPDATE
                    SET patient_id = EXCLUDED.patient_id, fell_at = EXCLUDED.fell_at, code = EXCLUDED.code
                RETURNING true INTO ok;
        ELSIF m.fact = 'care_plan' THEN
            INSERT INTO careflags.care_plan AS x (patient_id, source_system, source_key, kind, started_at, ended_at)
                VALUES (pid, 'fhir', key, m.plan_kind, t, @extschema@.fhir_time(doc -> 'period' ->> 'end'))
                ON CONFLICT (source_system, source_key) DO UPDATE
                    SET patient_id = EXCLUDED.patient_id, kind = EXCLUDED.kind, started_at = EXCLUDED.started_at,
                        ended_at = EXCLUDED.ended_at
                RETURNING true INTO ok;
        END IF;

        IF ok THEN
            res.facts := res.facts || (m.fact || '|' || key);
        ELSE
            res.outcome := 'quarantined';
            res.reason := @extschema@.guard_reason(m.fact, key);
        END IF;
    END LOOP;

    IF res.outcome IS NULL THEN
        IF cardinality(res.facts) > 0 THEN
            res.outcome := 'mapped';
        ELSE
            res.outcome := 'ignored';
            res.reason := 'code not used by careflags: ' || coalesce(
                (SELECT string_agg(coalesce(c ->> 'system', '') || '|' || (c ->> 'code'), ', ')
                   FROM jsonb_path_query(doc, CASE WHEN rtype = 'CarePlan' THEN '$.category[*].coding[*]'
                                                   ELSE '$.code.coding[*]' END::jsonpath) AS c),
                '(none)');
        END IF;
    END IF;
    RETURN res;
END
$$;
COMMENT ON FUNCTION @extschema@.map_coded(text, text, jsonb) IS
    'Observation (and its components), Procedure, Condition, CarePlan -> the fact careflags_fhir.code_map names for its code: measurement (units converted), assessment, medication review, fall, care plan';

CREATE FUNCTION @extschema@.map_document(rtype text, rid text, doc jsonb) RETURNS @extschema@.mapping
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    res @extschema@.mapping;
BEGIN
    IF jsonb_typeof(doc) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'the content is JSON but not an object' USING ERRCODE = 'CFF01', HINT = @extschema@.default_fact_table(rtype);
    ELSIF doc ->> 'resourceType' IS DISTINCT FROM rtype THEN
        RAISE EXCEPTION 'resourceType "%" stored as %', coalesce(doc ->> 'resourceType', '(none)'), rtype
            USING ERRCODE = 'CFF01', HINT = @extschema@.default_fact_table(rtype);
    END IF;
    CASE
        WHEN rtype = 'Patient' THEN
            res := @extschema@.map_patient(rid, doc);
        WHEN rtype IN ('Encounter', 'EpisodeOfCare') THEN
            res := @extschema@.map_episode(rtype, rid, doc);
        WHEN rtype IN ('MedicationRequest', 'MedicationStatement') THEN
            res := @extschema@.map_medication(rtype, rid, doc);
        WHEN rtype = 'NutritionOrder' THEN
            res := @extschema@.map_nutrition_order(rid, doc);
        WHEN rtype IN ('Observation', 'Procedure', 'Condition', 'CarePlan') THEN
            res := @extschema@.map_coded(rtype, rid, doc);
        ELSE
            res := ROW('ignored', format('resource type %s is not used by careflags', rtype), NULL, '{}');
    END CASE;
    RETURN res;
END
$$;
COMMENT ON FUNCTION @extschema@.map_document(text, text, jsonb) IS 'maps one parsed resource by its type; raises CFF01 for what must be quarantined';

-- The entry point of every store trigger, loader and remap(): maps (or
-- unmaps, when deleted) one resource, records the outcome, never raises
-- unless careflags.strict.
CREATE FUNCTION @extschema@.map_resource(rtype text, rid text, content text, is_deleted boolean) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    old_facts text[];
    doc jsonb;
    res @extschema@.mapping;
    v_state text;
    v_msg text;
    v_hint text;
    v_table text;
    v_pid bigint;
    v_pref text;
BEGIN
    SELECT r.facts INTO old_facts FROM @extschema@.resource_map AS r
        WHERE r.resource_type = rtype AND r.resource_id = rid;

    IF is_deleted OR content IS NULL THEN
        res := ROW('deleted', 'the resource was deleted', NULL, '{}');
    ELSE
        BEGIN
            doc := content::jsonb;
            res := @extschema@.map_document(rtype, rid, doc);
            PERFORM @extschema@.drop_facts(old_facts, res.facts);
        EXCEPTION WHEN OTHERS THEN
            IF @extschema@.is_strict() THEN
                RAISE;
            END IF;
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT,
                                    v_hint = PG_EXCEPTION_HINT, v_table = TABLE_NAME;
            IF doc IS NULL THEN
                v_msg := 'malformed JSON: ' || v_msg;
                v_table := @extschema@.default_fact_table(rtype);
            ELSIF v_state = 'CFF01' THEN
                v_table := coalesce(nullif(v_hint, ''), @extschema@.default_fact_table(rtype));
            ELSE
                v_table := coalesce(nullif(v_table, ''), @extschema@.default_fact_table(rtype));
            END IF;
            BEGIN
                v_pref := CASE rtype WHEN 'Patient' THEN rid
                                     ELSE @extschema@.patient_ref(coalesce(doc -> 'subject', doc -> 'patient')) END;
            EXCEPTION WHEN OTHERS THEN
                v_pref := NULL;
            END;
            SELECT p.patient_id INTO v_pid FROM careflags.patient AS p
                WHERE p.source_system = 'fhir' AND p.source_key = 'Patient/' || v_pref;
            PERFORM @extschema@.quarantine(v_table, rtype || '/' || rid, v_pid, v_msg,
                CASE WHEN doc IS NULL THEN jsonb_build_object('resourceType', rtype, 'id', rid, 'content', left(content, 20000))
                     ELSE doc END);
            PERFORM @extschema@.drop_facts(old_facts, '{}');
            res := ROW('quarantined', v_msg, v_pref, '{}');
        END;
    END IF;
    IF res.outcome = 'deleted' THEN
        PERFORM @extschema@.drop_facts(old_facts, '{}');
    END IF;

    INSERT INTO @extschema@.resource_map AS r (resource_type, resource_id, outcome, reason, patient_ref, facts, updated_at)
        VALUES (rtype, rid, res.outcome, res.reason, res.patient_ref, coalesce(res.facts, '{}'), pg_catalog.now())
        ON CONFLICT (resource_type, resource_id) DO UPDATE
            SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, patient_ref = EXCLUDED.patient_ref,
                facts = EXCLUDED.facts, updated_at = EXCLUDED.updated_at;
    RETURN res.outcome;
END
$$;
COMMENT ON FUNCTION @extschema@.map_resource(text, text, text, boolean) IS
    'maps one stored resource (content as text) onto careflags facts, replacing its earlier facts; deleted: removes them; records the outcome in resource_map; quarantines instead of raising unless careflags.strict';

-- Row trigger on the store tables.  Tables of the 'tables' layout pass their
-- resource type as argument; careflags_fhir.resource carries it in a column.
CREATE FUNCTION @extschema@.resource_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    rtype text;
BEGIN
    IF NOT (TG_WHEN = 'AFTER' AND TG_LEVEL = 'ROW') THEN
        RAISE EXCEPTION 'careflags_fhir.resource_changed() must be an AFTER ROW trigger'
            USING ERRCODE = 'E0001';
    END IF;
    IF TG_NARGS > 0 THEN
        rtype := TG_ARGV[0];
    ELSIF TG_OP = 'DELETE' THEN
        rtype := OLD.resource_type;
    ELSE
        rtype := NEW.resource_type;
    END IF;

    IF TG_OP = 'DELETE' THEN
        PERFORM @extschema@.map_resource(rtype, OLD.id::text, NULL, true);
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.id IS DISTINCT FROM NEW.id THEN
            PERFORM @extschema@.map_resource(rtype, OLD.id::text, NULL, true);
        ELSIF NEW.content IS NOT DISTINCT FROM OLD.content AND NEW.deleted IS NOT DISTINCT FROM OLD.deleted THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM @extschema@.map_resource(rtype, NEW.id::text, NEW.content, coalesce(NEW.deleted, false));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.resource_changed() IS
    'AFTER ROW trigger on a FHIR store table: maps the written resource (DELETE or deleted = true: removes its facts); runs as the extension owner so a FHIR application role needs no rights on careflags';

-----------------------------------------------------------------------------
-- Flags back into FHIR
-----------------------------------------------------------------------------

CREATE FUNCTION @extschema@.fhir_instant(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN pg_catalog.to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
COMMENT ON FUNCTION @extschema@.fhir_instant(timestamptz) IS 'a timestamptz as a FHIR dateTime/instant in UTC (second precision)';

-- The R4 Flag for a careflags flag of the FHIR patient fhir_patient_id.
-- period.start is the due time (due_from); period.end the resolution time
-- (never before the start: a flag resolved before it fell due was never
-- active, its period is empty).  due_at, the deadline, is an extension.
CREATE FUNCTION @extschema@.flag_resource(f careflags.flag, fhir_patient_id text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
            'resourceType', 'Flag',
            'id', @extschema@.flag_uuid(f.flag_id)::text,
            'meta', pg_catalog.jsonb_build_object('lastUpdated', @extschema@.fhir_instant(pg_catalog.now())),
            'extension', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'url', 'urn:careflags:fhir:extension:due-at',
                'valueDateTime', @extschema@.fhir_instant(f.due_at))),
            'identifier', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'system', 'urn:careflags:flag', 'value', f.flag_id::text)),
            'status', CASE WHEN f.resolved_at IS NULL THEN 'active' ELSE 'inactive' END,
            'category', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'coding', pg_catalog.jsonb_build_array(
                    pg_catalog.jsonb_build_object(
                        'system', 'http://terminology.hl7.org/CodeSystem/flag-category',
                        'code', c.code, 'display', c.display),
                    pg_catalog.jsonb_build_object(
                        'system', 'urn:careflags:domain', 'code', f.domain::text)),
                'text', c.display)),
            'code', pg_catalog.jsonb_build_object(
                'coding', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                    'system', 'urn:careflags:rule', 'code', f.rule_id,
                    'display', COALESCE(r.title, f.rule_id))),
                'text', f.reason),
            'subject', pg_catalog.jsonb_build_object('reference', 'Patient/' OPERATOR(pg_catalog.||) fhir_patient_id),
            'period', pg_catalog.jsonb_build_object(
                'start', @extschema@.fhir_instant(f.due_from),
                'end', CASE WHEN f.resolved_at IS NOT NULL
                            THEN @extschema@.fhir_instant(GREATEST(f.resolved_at, f.due_from)) END),
            'author', pg_catalog.jsonb_build_object('display', 'careflags')))
        FROM (SELECT CASE f.domain WHEN 'nutrition' THEN 'diet' WHEN 'medication_review' THEN 'drug' ELSE 'safety' END AS code,
                     CASE f.domain WHEN 'nutrition' THEN 'Diet' WHEN 'medication_review' THEN 'Drug' ELSE 'Safety' END AS display) AS c
        LEFT JOIN careflags.rule AS r ON r.rule_id OPERATOR(pg_catalog.=) f.rule_id;
    END;
COMMENT ON FUNCTION @extschema@.flag_resource(careflags.flag, text) IS
    'the FHIR R4 Flag mirroring a careflags flag: status active/inactive, category (flag-category diet/drug/safety and the careflags domain), code (rule id in urn:careflags:rule, title, reason as text), subject, period start = due_from, end = resolved_at';

-- Writes (or, deleted, marks deleted) the mirror of one flag in the store.
CREATE FUNCTION @extschema@.put_flag(flag_id bigint, content jsonb, is_deleted boolean) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cfg @extschema@.config;
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF cfg.layout = 'tables' THEN
        IF is_deleted THEN
            EXECUTE format('UPDATE %I."Flag" SET deleted = true, "lastUpdated" = pg_catalog.now() WHERE id = $1', cfg.store_schema)
                USING @extschema@.flag_uuid(flag_id);
        ELSE
            EXECUTE format('INSERT INTO %I."Flag" (id, content, "lastUpdated", deleted) VALUES ($1, $2, pg_catalog.now(), false)
                            ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content,
                                "lastUpdated" = EXCLUDED."lastUpdated", deleted = false', cfg.store_schema)
                USING @extschema@.flag_uuid(flag_id), content::text;
        END IF;
    ELSIF is_deleted THEN
        UPDATE @extschema@.resource SET deleted = true, "lastUpdated" = pg_catalog.now()
            WHERE resource_type = 'Flag' AND id = @extschema@.flag_uuid(flag_id)::text;
    ELSE
        INSERT INTO @extschema@.resource AS r (resource_type, id, content, "lastUpdated", deleted)
            VALUES ('Flag', @extschema@.flag_uuid(flag_id)::text, content::text, pg_catalog.now(), false)
            ON CONFLICT (resource_type, id) DO UPDATE
                SET content = EXCLUDED.content, "lastUpdated" = EXCLUDED."lastUpdated", deleted = false;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.put_flag(bigint, jsonb, boolean) IS 'upserts the FHIR Flag of a careflags flag into the configured store';

-- Row trigger on careflags.flag: every flag of a FHIR patient is mirrored;
-- updates and resolution rewrite the same Flag id.  A failure here must not
-- undo the flag: it becomes a WARNING (an ERROR under careflags.strict).
CREATE FUNCTION @extschema@.flag_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    fhir_id text;
BEGIN
    BEGIN
        IF TG_OP = 'DELETE' THEN
            PERFORM @extschema@.put_flag(OLD.flag_id, NULL, true);
            RETURN NULL;
        END IF;
        SELECT substr(p.source_key, 9) INTO fhir_id FROM careflags.patient AS p
            WHERE p.patient_id = NEW.patient_id AND p.source_system = 'fhir' AND p.source_key LIKE 'Patient/%';
        IF fhir_id IS NOT NULL THEN
            PERFORM @extschema@.put_flag(NEW.flag_id, @extschema@.flag_resource(NEW, fhir_id), false);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        IF @extschema@.is_strict() THEN
            RAISE;
        END IF;
        RAISE WARNING 'careflags_fhir: flag % not mirrored as a FHIR Flag: %', coalesce(NEW.flag_id, OLD.flag_id), SQLERRM;
    END;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.flag_changed() IS
    'AFTER ROW trigger on careflags.flag: mirrors the flags of FHIR patients as FHIR Flag resources in the store (same Flag id for the life of the flag)';

-----------------------------------------------------------------------------
-- Store set-up
-----------------------------------------------------------------------------

CREATE FUNCTION @extschema@.mapped_types() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    RETURN ARRAY['Patient', 'Encounter', 'EpisodeOfCare', 'Observation', 'MedicationRequest',
                 'MedicationStatement', 'Procedure', 'Condition', 'CarePlan', 'NutritionOrder'];
COMMENT ON FUNCTION @extschema@.mapped_types() IS 'resource types careflags_fhir maps (the rest are recorded as ignored)';

CREATE FUNCTION @extschema@.detach() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tg.tgrelid::regclass AS rel, tg.tgname
               FROM pg_trigger AS tg
               WHERE tg.tgname IN ('careflags_fhir_map', 'careflags_fhir_unmap', 'careflags_fhir_flag') AND NOT tg.tgisinternal
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
    END LOOP;
    DELETE FROM @extschema@.config;
END
$$;
COMMENT ON FUNCTION @extschema@.detach() IS
    'removes careflags_fhir''s triggers from the store tables and careflags.flag (before DROP EXTENSION, or to change layout); the store''s data stays';

CREATE FUNCTION @extschema@.setup(layout text DEFAULT 'tables', store_schema name DEFAULT 'public',
                                  create_missing boolean DEFAULT true)
    RETURNS TABLE (resource_type text, store_table regclass, action text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t text;
    rel regclass;
    shape text;
    attached text[] := '{}';
    f careflags.flag;
BEGIN
    IF NOT COALESCE(layout = ANY (ARRAY['tables', 'resource']), false) THEN
        RAISE EXCEPTION 'unknown layout "%"', layout USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use ''tables'' (one table per resource type, as Medplum) or ''resource'' (careflags_fhir.resource, for bulk loads).';
    END IF;
    PERFORM @extschema@.detach();

    IF layout = 'tables' THEN
        IF to_regnamespace(quote_ident(store_schema)) IS NULL THEN
            RAISE EXCEPTION 'schema "%" does not exist', store_schema USING ERRCODE = 'invalid_schema_name';
        END IF;
        FOREACH t IN ARRAY @extschema@.mapped_types() || 'Flag'::text LOOP
            rel := to_regclass(format('%I.%I', store_schema, t));
            action := 'attached';
            IF rel IS NULL THEN
                IF NOT create_missing THEN
                    IF t = 'Flag' THEN
                        RAISE EXCEPTION 'table %.% is missing', quote_ident(store_schema), quote_ident(t)
                            USING ERRCODE = 'undefined_table', HINT = 'Flags are written there; call setup with create_missing => true.';
                    END IF;
                    resource_type := t; store_table := NULL; action := 'missing (not mapped)';
                    RETURN NEXT;
                    CONTINUE;
                END IF;
                EXECUTE format('CREATE TABLE %I.%I (
                                    id uuid PRIMARY KEY,
                                    content text NOT NULL,
                                    "lastUpdated" timestamptz NOT NULL DEFAULT pg_catalog.now(),
                                    deleted boolean NOT NULL DEFAULT false)', store_schema, t);
                EXECUTE format('COMMENT ON TABLE %I.%I IS %L', store_schema, t,
                               format('FHIR R4 %s resources (id, content JSON, lastUpdated, deleted), mapped onto careflags by careflags_fhir', t));
                rel := to_regclass(format('%I.%I', store_schema, t));
                action := 'created, attached';
            END IF;
            SELECT string_agg(format('%s %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attname)
                INTO shape
                FROM pg_attribute AS a
                WHERE a.attrelid = rel AND NOT a.attisdropped AND a.attnum > 0
                  AND (a.attname, a.atttypid) IN (('id', 'uuid'::regtype), ('content', 'text'::regtype),
                                                  ('lastUpdated', 'timestamp with time zone'::regtype),
                                                  ('deleted', 'boolean'::regtype));
            IF shape IS DISTINCT FROM 'content text, deleted boolean, id uuid, lastUpdated timestamp with time zone' THEN
                RAISE EXCEPTION 'table % does not have the FHIR store shape', rel::text
                    USING ERRCODE = 'wrong_object_type',
                          DETAIL = format('Found the columns: %s.', coalesce(shape, 'none of them')),
                          HINT = 'Expected id uuid, content text, "lastUpdated" timestamptz, deleted boolean.';
            END IF;
            IF NOT EXISTS (SELECT FROM pg_index AS i
                            WHERE i.indrelid = rel AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL
                              AND i.indkey[0] = (SELECT a.attnum FROM pg_attribute AS a WHERE a.attrelid = rel AND a.attname = 'id')) THEN
                RAISE EXCEPTION 'table % has no unique index on id', rel::text USING ERRCODE = 'wrong_object_type';
            END IF;
            IF t <> 'Flag' THEN
                EXECUTE format('CREATE TRIGGER careflags_fhir_map AFTER INSERT OR UPDATE OR DELETE ON %s
                                FOR EACH ROW EXECUTE FUNCTION @extschema@.resource_changed(%L)', rel, t);
                attached := attached || t;
            ELSE
                action := replace(action, 'attached', 'flags written here');
            END IF;
            resource_type := t; store_table := rel;
            RETURN NEXT;
        END LOOP;
    ELSE
        -- Flags are careflags' output, never read back.
        CREATE TRIGGER careflags_fhir_map AFTER INSERT OR UPDATE ON @extschema@.resource
            FOR EACH ROW WHEN (NEW.resource_type OPERATOR(pg_catalog.<>) 'Flag')
            EXECUTE FUNCTION @extschema@.resource_changed();
        CREATE TRIGGER careflags_fhir_unmap AFTER DELETE ON @extschema@.resource
            FOR EACH ROW WHEN (OLD.resource_type OPERATOR(pg_catalog.<>) 'Flag')
            EXECUTE FUNCTION @extschema@.resource_changed();
        attached := @extschema@.mapped_types();
        resource_type := '*'; store_table := '@extschema@.resource'::regclass; action := 'attached';
        RETURN NEXT;
    END IF;

    INSERT INTO @extschema@.config (layout, store_schema, resource_types)
        VALUES (layout, CASE WHEN layout = 'tables' THEN store_schema END, attached);
    CREATE TRIGGER careflags_fhir_flag AFTER INSERT OR UPDATE OR DELETE ON careflags.flag
        FOR EACH ROW EXECUTE FUNCTION @extschema@.flag_changed();

    -- Mirror the flags that exist already.
    FOR f IN SELECT fl.* FROM careflags.flag AS fl
               JOIN careflags.patient AS p ON p.patient_id = fl.patient_id AND p.source_system = 'fhir'
    LOOP
        PERFORM @extschema@.put_flag(f.flag_id,
            @extschema@.flag_resource(f, (SELECT substr(p.source_key, 9) FROM careflags.patient AS p
                                           WHERE p.patient_id = f.patient_id)), false);
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.setup(text, name, boolean) IS
    'chooses the FHIR store: layout ''tables'' attaches the mapping trigger to store_schema."Patient", "Observation", ... (creating missing ones when create_missing) and writes flags to store_schema."Flag"; layout ''resource'' uses careflags_fhir.resource; replaces an earlier setup';

-----------------------------------------------------------------------------
-- Bulk loading
-----------------------------------------------------------------------------

-- Stores one resource in the configured store (the trigger maps it) and
-- returns its outcome.  Types the 'tables' store has no table for are not
-- stored: they are recorded as ignored.
CREATE FUNCTION @extschema@.store_resource(rtype text, rid text, content text) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cfg @extschema@.config;
    v_outcome text;
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'careflags_fhir has no store yet' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call careflags_fhir.setup() first.';
    END IF;
    IF rtype IS NULL OR rtype !~ '^[A-Z][A-Za-z]+$' THEN
        RAISE EXCEPTION 'not a FHIR resource type: "%"', rtype USING ERRCODE = 'CFF01';
    END IF;
    IF rid IS NULL OR rid !~ '^[A-Za-z0-9.-]{1,64}$' THEN
        RAISE EXCEPTION 'not a FHIR id: "%"', coalesce(rid, '(none)') USING ERRCODE = 'CFF01';
    END IF;
    IF cfg.layout = 'resource' THEN
        INSERT INTO @extschema@.resource AS r (resource_type, id, content, "lastUpdated", deleted)
            VALUES (rtype, rid, content, pg_catalog.now(), false)
            ON CONFLICT (resource_type, id) DO UPDATE
                SET content = EXCLUDED.content, "lastUpdated" = EXCLUDED."lastUpdated", deleted = false;
        IF rtype = 'Flag' THEN
            RETURN 'ignored';
        END IF;
    ELSIF rtype = ANY (cfg.resource_types) THEN
        IF rid !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
            RAISE EXCEPTION 'id "%" is not a uuid, as the per-type tables need', rid USING ERRCODE = 'CFF01';
        END IF;
        EXECUTE format('INSERT INTO %I.%I AS r (id, content, "lastUpdated", deleted) VALUES ($1::uuid, $2, pg_catalog.now(), false)
                        ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content,
                            "lastUpdated" = EXCLUDED."lastUpdated", deleted = false', cfg.store_schema, rtype)
            USING rid, content;
    ELSE
        INSERT INTO @extschema@.resource_map AS r (resource_type, resource_id, outcome, reason, facts, updated_at)
            VALUES (rtype, rid, 'ignored', format('resource type %s is not used by careflags (not stored)', rtype), '{}', pg_catalog.now())
            ON CONFLICT (resource_type, resource_id) DO UPDATE
                SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, facts = '{}', updated_at = EXCLUDED.updated_at;
        RETURN 'ignored';
    END IF;
    SELECT r.outcome INTO v_outcome FROM @extschema@.resource_map AS r
        WHERE r.resource_type = rtype AND r.resource_id = rid;
    RETURN coalesce(v_outcome, 'ignored');
END
$$;
COMMENT ON FUNCTION @extschema@.store_resource(text, text, text) IS
    'writes one resource into the configured store (its trigger maps it) and returns the outcome';

-- Marks a stored resource deleted (DELETE entries of a transaction bundle).
CREATE FUNCTION @extschema@.delete_resource(rtype text, rid text) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cfg @extschema@.config;
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF cfg.layout = 'resource' THEN
        UPDATE @extschema@.resource SET deleted = true, "lastUpdated" = pg_catalog.now()
            WHERE resource_type = rtype AND id = rid;
    ELSIF rtype = ANY (cfg.resource_types) AND rid ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        EXECUTE format('UPDATE %I.%I SET deleted = true, "lastUpdated" = pg_catalog.now() WHERE id = $1::uuid',
                       cfg.store_schema, rtype) USING rid;
    END IF;
    IF EXISTS (SELECT FROM @extschema@.resource_map AS r WHERE r.resource_type = rtype AND r.resource_id = rid
                                                         AND r.outcome <> 'deleted') THEN
        PERFORM @extschema@.map_resource(rtype, rid, NULL, true);
    END IF;
    RETURN 'deleted';
END
$$;
COMMENT ON FUNCTION @extschema@.delete_resource(text, text) IS 'marks a stored resource deleted and removes its facts';

-- Loader bookkeeping: a quarantined entry that never reached the store.
CREATE FUNCTION @extschema@.reject_entry(rtype text, key text, reason text, payload jsonb) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF @extschema@.is_strict() THEN
        RAISE EXCEPTION '%', reason USING ERRCODE = 'data_exception';
    END IF;
    PERFORM @extschema@.quarantine(@extschema@.default_fact_table(rtype), key, NULL, reason, payload);
    INSERT INTO @extschema@.resource_map AS r (resource_type, resource_id, outcome, reason, facts, updated_at)
        VALUES (coalesce(rtype, '(unknown)'), key, 'quarantined', reason, '{}', pg_catalog.now())
        ON CONFLICT (resource_type, resource_id) DO UPDATE
            SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, facts = '{}', updated_at = EXCLUDED.updated_at;
    RETURN 'quarantined';
END
$$;
COMMENT ON FUNCTION @extschema@.reject_entry(text, text, text, jsonb) IS
    'quarantines a bundle entry or NDJSON line that cannot even be stored (no id, not JSON, wrong type)';

CREATE FUNCTION @extschema@.load_bundle(bundle jsonb) RETURNS TABLE (outcome text, resources bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- each patient is evaluated once, after the whole load (see careflags.defer_evaluation)
    SET careflags.defer_evaluation = on AS
$$
DECLARE
    e jsonb;
    n bigint;
    r jsonb;
    rtype text;
    rid text;
    m text[];
    o text;
    counts jsonb := '{}';
BEGIN
    IF jsonb_typeof(bundle) IS DISTINCT FROM 'object' OR bundle ->> 'resourceType' IS DISTINCT FROM 'Bundle' THEN
        RAISE EXCEPTION 'not a FHIR Bundle' USING ERRCODE = 'invalid_parameter_value';
    ELSIF NOT COALESCE(bundle ->> 'type' = ANY (ARRAY['transaction', 'batch', 'collection', 'searchset', 'document']), false) THEN
        RAISE EXCEPTION 'cannot load a Bundle of type "%"', coalesce(bundle ->> 'type', '(none)')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Transaction, batch, collection, searchset and document bundles can be loaded.';
    END IF;
    FOR e, n IN SELECT x, i FROM jsonb_array_elements(CASE WHEN jsonb_typeof(bundle -> 'entry') = 'array'
                                                          THEN bundle -> 'entry' ELSE '[]' END) WITH ORDINALITY AS y(x, i)
    LOOP
        r := e -> 'resource';
        IF e -> 'request' ->> 'method' = 'DELETE' THEN
            m := regexp_match(e -> 'request' ->> 'url', '([A-Z][A-Za-z]+)/([A-Za-z0-9.-]{1,64})$');
            o := CASE WHEN m IS NULL
                      THEN @extschema@.reject_entry(NULL, format('Bundle/entry-%s', n), 'DELETE entry without Type/id url', e)
                      ELSE @extschema@.delete_resource(m[1], m[2]) END;
        ELSIF jsonb_typeof(r) IS DISTINCT FROM 'object' THEN
            o := @extschema@.reject_entry(NULL, format('Bundle/entry-%s', n), 'bundle entry without a resource', e);
        ELSE
            rtype := r ->> 'resourceType';
            rid := coalesce(r ->> 'id',
                            (regexp_match(e ->> 'fullUrl', '^urn:uuid:([0-9A-Fa-f-]{36})$'))[1],
                            (regexp_match(e -> 'request' ->> 'url', '^[A-Z][A-Za-z]+/([A-Za-z0-9.-]{1,64})$'))[1],
                            CASE WHEN e -> 'request' ->> 'method' = 'POST' THEN gen_random_uuid()::text END);
            IF rid IS NOT NULL AND NOT r ? 'id' THEN
                r := r || jsonb_build_object('id', rid);
            END IF;
            BEGIN
                o := @extschema@.store_resource(rtype, rid, r::text);
            EXCEPTION WHEN SQLSTATE 'CFF01' THEN
                o := @extschema@.reject_entry(rtype, format('%s/%s', coalesce(rtype, 'Bundle'), coalesce(rid, 'entry-' || n)),
                                              SQLERRM, r);
            END;
        END IF;
        counts := jsonb_set(counts, ARRAY[o], to_jsonb(coalesce((counts ->> o)::bigint, 0) + 1));
    END LOOP;
    PERFORM careflags.evaluate_deferred();
    RETURN QUERY SELECT k, v::bigint FROM jsonb_each_text(counts) AS c(k, v) ORDER BY k;
END
$$;
COMMENT ON FUNCTION @extschema@.load_bundle(jsonb) IS
    'loads a transaction, batch or collection Bundle into the configured store (DELETE entries delete); returns resources per outcome';

CREATE FUNCTION @extschema@.load_ndjson(resource_type text, ndjson text) RETURNS TABLE (outcome text, resources bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    -- each patient is evaluated once, after the whole load (see careflags.defer_evaluation)
    SET careflags.defer_evaluation = on AS
$$
DECLARE
    line text;
    n bigint;
    doc jsonb;
    rid text;
    o text;
    counts jsonb := '{}';
BEGIN
    IF resource_type IS NULL OR resource_type !~ '^[A-Z][A-Za-z]+$' THEN
        RAISE EXCEPTION 'not a FHIR resource type: "%"', resource_type USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One line at a time: the split is lazy and each line is parsed, stored
    -- and mapped before the next is read.
    FOR line, n IN SELECT l, i FROM regexp_split_to_table(ndjson, E'\n') WITH ORDINALITY AS s(l, i) LOOP
        CONTINUE WHEN btrim(line, E' \t\r') = '';
        doc := NULL;
        BEGIN
            doc := line::jsonb;
        EXCEPTION WHEN OTHERS THEN
            doc := NULL;
        END;
        IF doc IS NULL THEN
            -- Malformed: stored as received when its id can be read, so the
            -- store's trigger quarantines it like any other bad row.
            rid := (regexp_match(line, '"id"\s*:\s*"([A-Za-z0-9.-]{1,64})"'))[1];
        ELSIF doc ->> 'resourceType' IS DISTINCT FROM resource_type THEN
            o := @extschema@.reject_entry(resource_type, format('%s/ndjson-line-%s', resource_type, n),
                     format('line %s: resourceType %s in a %s file', n, coalesce(doc ->> 'resourceType', '(none)'), resource_type),
                     doc);
            counts := jsonb_set(counts, ARRAY[o], to_jsonb(coalesce((counts ->> o)::bigint, 0) + 1));
            CONTINUE;
        ELSE
            rid := doc ->> 'id';
        END IF;
        BEGIN
            IF rid IS NULL THEN
                RAISE EXCEPTION 'line %: %', n, CASE WHEN doc IS NULL THEN 'malformed JSON without a readable id' ELSE 'no id' END
                    USING ERRCODE = 'CFF01';
            END IF;
            o := @extschema@.store_resource(resource_type, rid, rtrim(line, E'\r'));
        EXCEPTION WHEN SQLSTATE 'CFF01' THEN
            o := @extschema@.reject_entry(resource_type, format('%s/%s', resource_type, coalesce(rid, 'ndjson-line-' || n)),
                     SQLERRM, coalesce(doc, jsonb_build_object('line', n, 'content', left(line, 20000))));
        END;
        counts := jsonb_set(counts, ARRAY[o], to_jsonb(coalesce((counts ->> o)::bigint, 0) + 1));
    END LOOP;
    PERFORM careflags.evaluate_deferred();
    RETURN QUERY SELECT k, v::bigint FROM jsonb_each_text(counts) AS c(k, v) ORDER BY k;
END
$$;
COMMENT ON FUNCTION @extschema@.load_ndjson(text, text) IS
    'loads FHIR Bulk Data NDJSON (one resource of resource_type per line) into the configured store, line by line; returns resources per outcome';

-- Maps every stored resource again (after a site edits code_map,
-- setting_map, unit_conversion or rxnorm_atc).
CREATE FUNCTION @extschema@.remap(only_type text DEFAULT NULL) RETURNS TABLE (outcome text, resources bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    cfg @extschema@.config;
    t text;
    row record;
    o text;
    counts jsonb := '{}';
BEGIN
    SELECT * INTO cfg FROM @extschema@.config;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'careflags_fhir has no store yet' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Call careflags_fhir.setup() first.';
    END IF;
    FOREACH t IN ARRAY cfg.resource_types LOOP
        CONTINUE WHEN only_type IS NOT NULL AND t <> only_type;
        FOR row IN EXECUTE CASE cfg.layout
                WHEN 'resource' THEN 'SELECT id, content, deleted FROM careflags_fhir.resource WHERE resource_type = $1'
                ELSE format('SELECT id::text AS id, content, deleted FROM %I.%I WHERE $1 IS NOT NULL', cfg.store_schema, t) END
            USING t
        LOOP
            o := @extschema@.map_resource(t, row.id, row.content, row.deleted);
            counts := jsonb_set(counts, ARRAY[o], to_jsonb(coalesce((counts ->> o)::bigint, 0) + 1));
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT k, v::bigint FROM jsonb_each_text(counts) AS c(k, v) ORDER BY k;
END
$$;
COMMENT ON FUNCTION @extschema@.remap(text) IS 'maps every stored resource (of one type, or all) again, e.g. after the site edited a mapping table';

-----------------------------------------------------------------------------
-- Privileges: nothing here is for PUBLIC.  The trigger functions run as the
-- extension owner whoever fires them; loaders and setup are for the DBA
-- (careflags_admin may load and remap).
-----------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO careflags_admin, careflags_quality;
GRANT EXECUTE ON FUNCTION @extschema@.load_bundle(jsonb), @extschema@.load_ndjson(text, text),
                          @extschema@.remap(text) TO careflags_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.code_map, @extschema@.setting_map,
                                        @extschema@.unit_conversion, @extschema@.rxnorm_atc TO careflags_admin;
GRANT SELECT ON @extschema@.resource_map, @extschema@.config TO careflags_admin;
GRANT SELECT ON @extschema@.outcome_counts TO careflags_admin, careflags_quality;
