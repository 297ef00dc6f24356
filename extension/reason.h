/*-------------------------------------------------------------------------
 *
 * reason.h
 *	  What a flag's reason says, kept as data (CfReasonData, evaluator.h),
 *	  and its text in the reader's language: bokmål, nynorsk or English
 *	  (clinical-rules.md §8), with Norwegian dates ("3. mai 2026", short
 *	  "5. des.") and decimal commas ("61,0 kg").  Also the one-row-per-action
 *	  line of at most 140 characters (§7.18).
 *
 *	  Plain C, no PostgreSQL calls: reason_sql.c reads and writes the jsonb,
 *	  fuzz/reason_test.c tests the renderer on its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_REASON_H
#define CAREFLAGS_REASON_H

#include "evaluator.h"

typedef enum
{
	CF_LANG_NB = 0,
	CF_LANG_NN,
	CF_LANG_EN,
	CF_LANG_COUNT
} CfLang;

/* The actions a nurse sees one row for (§7.18). */
typedef enum
{
	CF_TODO_NUTRITION_SCREENING = 0,
	CF_TODO_NUTRITION_PLAN,
	CF_TODO_MEDICATION_REVIEW,
	CF_TODO_FALL_RISK_ASSESSMENT,
	CF_TODO_FALL_PREVENTION_PLAN,
	CF_TODO_COUNT
} CfTodoKind;

#define CF_ACTION_TEXT_MAX 140	/* characters, not bytes */

/* room for any reason data as JSON (every text escaped at worst) */
#define CF_REASON_JSON_LEN	8192

/* "nb", "nn", "en" -> language; -1 when not known. */
extern int	cf_lang_parse(const char *name);

/* Names of kinds, domains, settings and actions as stored (SQL names). */
extern const char *cf_reason_kind_name(CfReasonKind kind);
extern int	cf_reason_kind_parse(const char *name);
extern const char *cf_action_name(CfTodoKind a);
extern int	cf_action_parse(const char *name);

/* "5. desember 2026" / "5. des." / "5 December 2026" / "5 Dec". */
extern void cf_render_date(int32_t ymd, CfLang lang, bool short_form, char *buf, size_t len);

/* A number with the language's decimal sign ("61,0"); decimals < 0: %g. */
extern void cf_render_number(double v, int decimals, CfLang lang, char *buf, size_t len);

/* The full reason of one flag. */
extern void cf_render_reason(const CfReasonData *d, CfLang lang, char *buf, size_t len);

/* A flag state (upcoming, due_soon, due, overdue, resolved) in the language. */
extern const char *cf_render_state(const char *state, CfLang lang);

/* An action's name in the language ("Legemiddelgjennomgang"). */
extern const char *cf_render_action_label(CfTodoKind a, CfLang lang);

/*
 * The action row: "<action>: <what each rule says, short>. Frist <due>."
 * from the reason data of every flag behind it (NULL kinds are skipped),
 * at most CF_ACTION_TEXT_MAX characters: parts that do not fit are left out
 * and counted ("+2").
 */
extern void cf_render_action(CfTodoKind a, const CfReasonData *const *data, int n,
							 int32_t due, CfLang lang, char *buf, size_t len);

/* Characters (not bytes) of a UTF-8 string. */
extern size_t cf_utf8_chars(const char *s);

/* The data as a JSON object (for careflags.flag.details); false if too long. */
extern bool cf_reason_to_json(const CfReasonData *d, char *buf, size_t len);

#endif							/* CAREFLAGS_REASON_H */
