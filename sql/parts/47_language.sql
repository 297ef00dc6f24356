-- sql/parts/47_language.sql - the language a nurse and a quality lead read
-- (clinical-rules.md §8): bokmål by default, nynorsk or English chosen by
-- careflags.language per database, role or session.  A flag keeps what its
-- reason says as data (careflags.flag.details); the text is rendered in C
-- when it is read, so two readers in two languages read the same flag each
-- in their own.  Rule titles per language are a table a site extends.
\echo Use "CREATE EXTENSION careflags" to load this file. \quit

COMMENT ON COLUMN @extschema@.flag.details IS
    'what the reason says, as data (kind, domain, setting, dates as local dates, figures, instrument or medicine): careflags.reason_text() renders it in careflags.language; reason keeps the English text as written';

CREATE FUNCTION @extschema@.language() RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'careflags_language';
COMMENT ON FUNCTION @extschema@.language() IS
    'the language careflags shows texts in now: careflags.language (nb bokmål, the default; nn nynorsk; en English)';

CREATE FUNCTION @extschema@.reason_text(details jsonb, reason text, lang text DEFAULT NULL) RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'careflags_reason_text';
COMMENT ON FUNCTION @extschema@.reason_text(jsonb, text, text) IS
    'a flag''s reason in a language (default careflags.language), rendered from its reason data; the stored reason when there is none';

CREATE FUNCTION @extschema@.state_text(state text, lang text DEFAULT NULL) RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'careflags_state_text';
COMMENT ON FUNCTION @extschema@.state_text(text, text) IS
    'a flag state (upcoming, due_soon, due, overdue, resolved) in a language: kommende, frist snart, innen fristen, over fristen, avsluttet';

CREATE FUNCTION @extschema@.action_label(action text, lang text DEFAULT NULL) RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'careflags_action_label';
COMMENT ON FUNCTION @extschema@.action_label(text, text) IS
    'an action''s name in a language (Ernæringsscreening, Ernæringsplan, Legemiddelgjennomgang, Fallrisikovurdering, Plan for fallforebygging)';

CREATE FUNCTION @extschema@.action_text(action text, details jsonb[], due_at timestamptz, lang text DEFAULT NULL) RETURNS text
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'careflags_action_text';
COMMENT ON FUNCTION @extschema@.action_text(text, jsonb[], timestamptz, text) IS
    'one action row in a language, at most 140 characters: the action, what each rule behind it says (short), and the earliest deadline';

-- Rule titles per language; a rule without a row here shows careflags.rule.title.
CREATE TABLE @extschema@.rule_text (
    rule_id  text NOT NULL REFERENCES @extschema@.rule ON UPDATE CASCADE ON DELETE CASCADE,
    language text NOT NULL CHECK (language OPERATOR(pg_catalog.=) ANY (ARRAY['nb', 'nn', 'en'])),
    title    text NOT NULL,
    origin   text NOT NULL DEFAULT 'site' CHECK (origin OPERATOR(pg_catalog.=) ANY (ARRAY['default', 'site'])),
    PRIMARY KEY (rule_id, language)
);
COMMENT ON TABLE @extschema@.rule_text IS
    'rule titles per language (nb, nn, en); a site adds rows for its own rules (origin site, saved by pg_dump); a rule without a row in a language shows careflags.rule.title';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rule_text', 'WHERE origin OPERATOR(pg_catalog.=) ''site''');
GRANT SELECT ON @extschema@.rule_text TO careflags_nurse, careflags_quality, careflags_admin;
GRANT INSERT, UPDATE, DELETE ON @extschema@.rule_text TO careflags_admin;

INSERT INTO @extschema@.rule_text (rule_id, language, title, origin)
SELECT v.rule_id, l.language, CASE l.language WHEN 'nb' THEN v.nb ELSE v.nn END, 'default'
  FROM (VALUES
    ('nutrition.screening.admission_short_term', 'Ernæringsscreening ved innkomst', 'Ernæringsscreening ved innkomst'),
    ('nutrition.screening.admission_long_term', 'Ernæringsscreening ved innkomst', 'Ernæringsscreening ved innkomst'),
    ('nutrition.screening.start_of_home_care', 'Ernæringsscreening ved oppstart av hjemmetjenester', 'Ernæringsscreening ved oppstart av heimetenester'),
    ('nutrition.screening.repeat', 'Ny ernæringsscreening', 'Ny ernæringsscreening'),
    ('nutrition.screening.repeat_home_services', 'Ny ernæringsscreening', 'Ny ernæringsscreening'),
    ('nutrition.plan.missing', 'Ernæringsplan mangler', 'Ernæringsplan manglar'),
    ('nutrition.plan.evaluation', 'Evaluer ernæringsplanen', 'Evaluer ernæringsplanen'),
    ('nutrition.plan.evaluation_short_term', 'Evaluer ernæringsplanen', 'Evaluer ernæringsplanen'),
    ('nutrition.plan.evaluation_home_services', 'Evaluer ernæringsplanen', 'Evaluer ernæringsplanen'),
    ('nutrition.weight_loss', 'Vekttap eller lav KMI', 'Vekttap eller låg KMI'),
    ('medication_review.admission', 'Legemiddelgjennomgang ved innkomst', 'Legemiddelgjennomgang ved innkomst'),
    ('medication_review.annual', 'Årlig legemiddelgjennomgang', 'Årleg legemiddelgjennomgang'),
    ('medication_review.polypharmacy', 'Legemiddelgjennomgang (4 eller flere legemidler)', 'Legemiddelgjennomgang (4 eller fleire legemiddel)'),
    ('medication_review.fall_risk_drugs', 'Legemiddelgjennomgang: fallrisikolegemidler', 'Legemiddelgjennomgang: fallrisikolegemiddel'),
    ('medication_review.excessive_polypharmacy', 'Legemiddelgjennomgang (10 eller flere legemidler)', 'Legemiddelgjennomgang (10 eller fleire legemiddel)'),
    ('fall_risk.assessment.admission', 'Fallrisikovurdering ved innkomst', 'Fallrisikovurdering ved innkomst'),
    ('fall_risk.assessment.repeat', 'Ny fallrisikovurdering', 'Ny fallrisikovurdering'),
    ('fall_risk.assessment.after_fall', 'Fallrisikovurdering etter fall', 'Fallrisikovurdering etter fall'),
    ('fall_risk.high.no_plan', 'Plan for fallforebygging mangler', 'Plan for fallførebygging manglar')
  ) AS v(rule_id, nb, nn)
 CROSS JOIN (VALUES ('nb'), ('nn')) AS l(language);

CREATE FUNCTION @extschema@.rule_title(rule_id text, lang text DEFAULT NULL) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    RETURN COALESCE(
        (SELECT t.title FROM @extschema@.rule_text t
          WHERE t.rule_id OPERATOR(pg_catalog.=) rule_title.rule_id
            AND t.language OPERATOR(pg_catalog.=) COALESCE(rule_title.lang, @extschema@.language())),
        (SELECT r.title FROM @extschema@.rule r WHERE r.rule_id OPERATOR(pg_catalog.=) rule_title.rule_id));
COMMENT ON FUNCTION @extschema@.rule_title(text, text) IS
    'a rule''s title in a language (default careflags.language) from careflags.rule_text, else careflags.rule.title';
