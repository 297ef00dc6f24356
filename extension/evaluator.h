/*-------------------------------------------------------------------------
 *
 * evaluator.h
 *	  The rule evaluator: for one patient, from its facts and the enabled
 *	  rules, the flags that apply now, each with due times and a reason a
 *	  nurse understands.
 *
 *	  Plain C over plain structs: no PostgreSQL calls, no SPI, no errors
 *	  raised.  Calendar arithmetic (months, days in careflags.timezone),
 *	  date formatting and memory come through CfEvalOps, so the same code
 *	  runs in triggers, in recompute_all(), in the background worker and in
 *	  a stand-alone test or fuzz harness.
 *
 *	  Times are microseconds since 2000-01-01 00:00 UTC (PostgreSQL's
 *	  TimestampTz); dates are days since 2000-01-01 (DateADT).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_EVALUATOR_H
#define CAREFLAGS_EVALUATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t CfTime;

#define CF_TIME_NONE	INT64_MIN	/* absent (no end, unknown) */
#define CF_TIME_NEVER	INT64_MAX	/* nothing will change */
#define CF_REASON_LEN	1280

/* Same order as the SQL enums. */
typedef enum
{
	CF_SET_NURSING_HOME_LONG_TERM = 0,
	CF_SET_NURSING_HOME_SHORT_TERM,
	CF_SET_HOME_NURSING,
	CF_SET_HOME_SERVICES,
	CF_SET_GP,
	CF_SET_COUNT
} CfSetting;

typedef enum
{
	CF_DOM_NUTRITION = 0,
	CF_DOM_MEDICATION_REVIEW,
	CF_DOM_FALL_RISK,
	CF_DOM_COUNT
} CfDomain;

typedef enum
{
	CF_ANCHOR_EPISODE_START = 0,
	CF_ANCHOR_LAST_EVENT,
	CF_ANCHOR_RISK_RESULT,
	CF_ANCHOR_PLAN_EVALUATION,
	CF_ANCHOR_WEIGHT_SERIES,
	CF_ANCHOR_MEDICINE_COUNT,
	CF_ANCHOR_FALL,
	CF_ANCHOR_COUNT
} CfAnchor;

typedef enum
{
	CF_MEAS_WEIGHT = 0,
	CF_MEAS_HEIGHT,
	CF_MEAS_BMI,
	CF_MEAS_CALF
} CfMeasurementKind;

typedef enum
{
	CF_PLAN_NUTRITION = 0,
	CF_PLAN_FALL_PREVENTION
} CfPlanKind;

/* An interval as PostgreSQL keeps it: months, days, microseconds. */
typedef struct CfInterval
{
	int32_t		months;
	int32_t		days;
	int64_t		usecs;
} CfInterval;

typedef struct CfRule
{
	const char *rule_id;
	const char *title;
	CfDomain	domain;
	CfAnchor	anchor;
	uint32_t	settings;		/* bit (1 << CfSetting) */
	int			min_age;
	CfInterval	due_interval;
	CfInterval	due_soon_window;
	CfInterval	follow_up;
	int			threshold;		/* 0 = none */
	int			severity;
} CfRule;

typedef struct CfEpisode
{
	int64_t		episode_id;
	CfSetting	setting;
	const char *unit_id;		/* NULL when unknown */
	CfTime		started_at;
	CfTime		ended_at;		/* CF_TIME_NONE = open */
} CfEpisode;

typedef struct CfAssessment
{
	int64_t		id;				/* assessment_id (0 when unknown) */
	CfDomain	domain;			/* nutrition or fall_risk */
	const char *instrument;
	CfTime		assessed_at;
	bool		scored;			/* a total is known */
	bool		at_risk;		/* nutrition risk / high fall risk */
	double		total;
} CfAssessment;

typedef struct CfMeasurement
{
	CfMeasurementKind kind;
	double		value;
	CfTime		measured_at;
} CfMeasurement;

typedef struct CfMedication
{
	const char *key;			/* ATC, or the source code when no ATC */
	const char *atc;			/* NULL when unknown */
	const char *name;			/* for reasons; may be NULL */
	CfTime		started_at;
	CfTime		stopped_at;		/* CF_TIME_NONE = not stopped */
	bool		as_needed;
	bool		cancelled;		/* status stopped/completed/cancelled/error */
} CfMedication;

typedef struct CfPlan
{
	int64_t		id;				/* plan_id (0 when unknown) */
	CfPlanKind	kind;
	CfTime		started_at;
	CfTime		ended_at;
	CfTime		last_evaluated_at;
} CfPlan;

typedef struct CfExemption
{
	const char *scope;
	CfTime		valid_from;
	CfTime		valid_until;
} CfExemption;

/* Everything known of one patient; arrays sorted by time ascending. */
typedef struct CfPatientFacts
{
	int64_t		patient_id;
	bool		has_birth_date;
	int32_t		birth_date;
	bool		deceased;
	CfTime		deceased_at;	/* CF_TIME_NONE when unknown */

	const CfEpisode *episodes;
	int			n_episodes;
	const CfAssessment *assessments;
	int			n_assessments;
	const CfMeasurement *measurements;
	int			n_measurements;
	const CfMedication *medications;
	int			n_medications;
	const CfTime *reviews;
	const int64_t *review_ids;	/* review_id of each; NULL when unknown */
	int			n_reviews;
	const CfPlan *plans;
	int			n_plans;
	const CfTime *falls;
	int			n_falls;
	const CfExemption *exemptions;
	int			n_exemptions;
} CfPatientFacts;

/*
 * What a reason says, as data (rendered per language when read: reason.c).
 * Dates are local dates in careflags.timezone as yyyymmdd (0 = none).
 */
typedef enum
{
	CF_RK_NONE = 0,
	CF_RK_ADMISSION,			/* no action since the episode start */
	CF_RK_REPEAT,				/* last action, next due */
	CF_RK_NO_PLAN,				/* at risk / high risk, no plan */
	CF_RK_PLAN_EVAL,			/* plan made or last evaluated, evaluate by */
	CF_RK_LOW_BMI,				/* low BMI */
	CF_RK_WEIGHT_LOSS,			/* weight loss criterion */
	CF_RK_MED_COUNT,			/* number of regular medicines */
	CF_RK_FALL_ASSESS,			/* a fall after the last assessment */
	CF_RK_FALL_DRUG,			/* fall or high score with a FRID in use */
	CF_RK_COUNT
} CfReasonKind;

#define CF_REASON_TEXT_LEN 96
#define CF_REASON_ATC_LEN 16
#define CF_REASON_DRUGS 6		/* medicines a fall_drug reason keeps by name */

/* One fall-risk-increasing medicine of a fall_drug reason. */
typedef struct CfReasonDrug
{
	char		name[CF_REASON_TEXT_LEN];	/* its name, or its ATC code */
	char		atc[CF_REASON_ATC_LEN];
} CfReasonDrug;

typedef struct CfReasonData
{
	CfReasonKind kind;
	int			domain;			/* CfDomain */
	int			setting;		/* CfSetting of the episode */
	int32_t		date1;			/* start / last / result / fall / trigger */
	int32_t		date2;			/* earlier weight / last assessment / review */
	int32_t		due;			/* the deadline */
	double		value1;			/* total / BMI / weight / ... */
	double		value2;			/* BMI limit / loss % */
	double		value3;			/* earlier weight */
	double		value4;			/* criterion % */
	int			count;			/* medicines / months */
	bool		flag;			/* evaluated / severe / assessed before / by a fall / reviewed */
	bool		flag2;			/* weight loss: together with low BMI */
	char		text1[CF_REASON_TEXT_LEN];	/* instrument / (first) medicine name */
	char		text2[CF_REASON_ATC_LEN];	/* (first) ATC code */

	/*
	 * fall_drug: every active FRID, longest in use first (drugs[0] is also
	 * text1/text2, which is all a flag written before has: n_drugs 0 then);
	 * drugs_total counts those beyond CF_REASON_DRUGS too.
	 */
	int			n_drugs;
	int			drugs_total;
	CfReasonDrug drugs[CF_REASON_DRUGS];
} CfReasonData;

/* Why a rule gives no flag (for the resolution of a flag that was open). */
typedef enum
{
	CF_OUT_FLAG = 0,			/* a flag applies */
	CF_OUT_DONE,				/* the action it asked for is recorded */
	CF_OUT_CLEARED,				/* its condition no longer holds */
	CF_OUT_NOT_IN_SCOPE,		/* setting or age outside the rule */
	CF_OUT_NO_EPISODE,			/* no current episode */
	CF_OUT_DECEASED,
	CF_OUT_EXEMPT
} CfOutcome;

typedef struct CfFlagResult
{
	const CfRule *rule;
	CfOutcome	outcome;
	/*
	 * CF_OUT_FLAG: the event the due time counts from; CF_OUT_DONE: when the
	 * action was done (the fact's own time, for response times); else
	 * CF_TIME_NONE.
	 */
	CfTime		event_at;
	/* the rest only for CF_OUT_FLAG */
	const CfEpisode *episode;
	CfTime		due_from;
	CfTime		due_at;
	char		reason[CF_REASON_LEN];
	CfReasonData data;			/* what the reason says, as data */
} CfFlagResult;

typedef struct CfEvalOps
{
	void	   *arg;
	/* t + iv (iv may be negated by the caller), in the care time zone */
	CfTime		(*add_interval) (void *arg, CfTime t, const CfInterval *iv, int sign);
	/* whole years of age on the care-time-zone date of t */
	int			(*age_years) (void *arg, int32_t birth_date, CfTime t);
	/* the time the patient turns `years` (start of that day) */
	CfTime		(*birthday) (void *arg, int32_t birth_date, int years);
	/* "3 March 2026" */
	void		(*format_date) (void *arg, CfTime t, char *buf, size_t len);
	/* scratch memory, freed by the caller after the evaluation */
	void	   *(*alloc) (void *arg, size_t size);
	/* the care-time-zone date of t as yyyymmdd */
	int32_t		(*local_date) (void *arg, CfTime t);
} CfEvalOps;

/* The active FRID prefixes (from careflags.frid_atc). */
typedef struct CfFridList
{
	const char *const *prefixes;
	const char *const *descriptions;
	int			n;
} CfFridList;

/*
 * Evaluate every rule for the patient at time `now`.  results must have room
 * for n_rules entries; results[i] belongs to rules[i].  *next_check is set to
 * the earliest time after `now` at which the result could change without a
 * write (a birthday, an exemption ending, a future-dated fact, ...), or
 * CF_TIME_NEVER.
 */
extern void cf_evaluate(const CfPatientFacts *facts,
						const CfRule *rules, int n_rules,
						const CfFridList *frids,
						CfTime now,
						const CfEvalOps *ops,
						CfFlagResult *results,
						CfTime *next_check);

/*
 * The same, with next_by_domain[CF_DOM_COUNT] set to the earliest such time
 * per domain (a time that concerns every domain, such as an episode
 * starting or ending, in each); *next_check is the earliest of them.
 * Evaluating the rules of some domains only gives those domains' results
 * and times exactly as evaluating every rule does: the rules of one domain
 * look at no other domain's results.
 */
extern void cf_evaluate_by_domain(const CfPatientFacts *facts,
								  const CfRule *rules, int n_rules,
								  const CfFridList *frids,
								  CfTime now,
								  const CfEvalOps *ops,
								  CfFlagResult *results,
								  CfTime *next_check,
								  CfTime *next_by_domain);

extern const char *cf_outcome_resolution(CfOutcome outcome);

#endif							/* CAREFLAGS_EVALUATOR_H */
