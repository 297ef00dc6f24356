/*-------------------------------------------------------------------------
 *
 * evaluator.c
 *	  The rule evaluator (see evaluator.h): plain C, no PostgreSQL calls.
 *
 *	  Each rule's logic is chosen by its (domain, anchor) pair; its numbers
 *	  come from the rule row.  The readings of clinical-rules.md §7 are
 *	  implemented here:
 *	  - windows: an event at or after the episode start and at most the
 *		interval after it (§7.1);
 *	  - admission rules: due_from = episode start, due_at = start + interval;
 *		repeat rules: due_from = due_at = last event + interval; event and
 *		plan rules: due_from = the triggering fact, due_at = + follow_up
 *		(§7.2);
 *	  - late is still done (§7.3); one flag per gap: repeat rules count from
 *		the last event at or after the current episode's start, and no
 *		second flag while the admission rule of the domain is open (§7.4);
 *	  - active medicines, FRIDs by ATC only (§7.6, §7.9); weight-loss
 *		criteria with figures in the reason (§7.7); falls (§7.8); death
 *		(§7.12); overlapping episodes: the one that started last (§7.14).
 *
 *	  The evaluator never fails: facts it cannot use were stopped by the
 *	  guard before they were stored.
 *
 *-------------------------------------------------------------------------
 */
#include "evaluator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const domain_noun[CF_DOM_COUNT] = {
	"nutrition screening", "medication review", "fall-risk assessment"
};

typedef struct EvalState
{
	const CfPatientFacts *f;
	const CfRule *rules;
	int			n_rules;
	const CfFridList *frids;
	CfTime		now;
	const CfEvalOps *ops;
	CfTime		next_check;
	CfTime		next_by_domain[CF_DOM_COUNT];
	int			domain;			/* the rule's domain being evaluated; -1: all */
	const CfEpisode *episode;	/* current episode, NULL if none */
	bool		admission_open[CF_DOM_COUNT];
	bool		after_fall_open;	/* fall_risk.assessment.after_fall applies */
} EvalState;

/*
 * A time after now at which a result could change: for the domain whose
 * rule is being evaluated, or (outside the rules: the current episode) for
 * every domain.
 */
static void
note_future(EvalState *st, CfTime t)
{
	if (t == CF_TIME_NONE || t <= st->now)
		return;
	if (t < st->next_check)
		st->next_check = t;
	for (int d = 0; d < CF_DOM_COUNT; d++)
		if ((st->domain < 0 || st->domain == d) && t < st->next_by_domain[d])
			st->next_by_domain[d] = t;
}

static CfTime
add_iv(EvalState *st, CfTime t, const CfInterval *iv, int sign)
{
	if (iv->months == 0 && iv->days == 0 && iv->usecs == 0)
		return t;
	return st->ops->add_interval(st->ops->arg, t, iv, sign);
}

static void
fmt_date(EvalState *st, CfTime t, char *buf, size_t len)
{
	st->ops->format_date(st->ops->arg, t, buf, len);
}

/* The care-time-zone date of t as yyyymmdd, 0 when unknown. */
static int32_t
local_date(EvalState *st, CfTime t)
{
	if (t == CF_TIME_NONE || st->ops->local_date == NULL)
		return 0;
	return st->ops->local_date(st->ops->arg, t);
}

/* Start the reason data of a flag: kind, domain, setting, deadline. */
static CfReasonData *
reason_data(EvalState *st, CfFlagResult *r, CfReasonKind kind)
{
	CfReasonData *d = &r->data;

	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->domain = r->rule->domain;
	d->setting = st->episode ? (int) st->episode->setting : 0;
	d->due = local_date(st, r->due_at);
	return d;
}

/* Copy a name into a reason-data field, cut at the field's size. */
static void
copy_text(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* Does an exemption valid now cover the rule? */
static bool
exempt_now(EvalState *st, const CfRule *rule)
{
	const CfPatientFacts *f = st->f;
	size_t		idlen = strlen(rule->rule_id);

	for (int i = 0; i < f->n_exemptions; i++)
	{
		const CfExemption *ex = &f->exemptions[i];
		size_t		sl = strlen(ex->scope);
		bool		covers;

		covers = (strcmp(ex->scope, "*") == 0) ||
			(sl == idlen && strcmp(ex->scope, rule->rule_id) == 0) ||
			(sl < idlen && strncmp(ex->scope, rule->rule_id, sl) == 0 &&
			 rule->rule_id[sl] == '.');
		if (!covers)
			continue;
		note_future(st, ex->valid_from);
		note_future(st, ex->valid_until);
		if (ex->valid_from <= st->now &&
			(ex->valid_until == CF_TIME_NONE || ex->valid_until > st->now))
			return true;
	}
	return false;
}

/* The current episode: open at now, the one that started last (§7.14). */
static const CfEpisode *
current_episode(EvalState *st)
{
	const CfPatientFacts *f = st->f;
	const CfEpisode *best = NULL;

	for (int i = 0; i < f->n_episodes; i++)
	{
		const CfEpisode *e = &f->episodes[i];
		CfTime		end = e->ended_at;

		note_future(st, e->started_at);
		note_future(st, e->ended_at);
		if (f->deceased && f->deceased_at != CF_TIME_NONE &&
			(end == CF_TIME_NONE || f->deceased_at < end))
			end = f->deceased_at;
		if (e->started_at > st->now)
			continue;
		if (end != CF_TIME_NONE && end <= st->now)
			continue;
		if (best == NULL || e->started_at > best->started_at ||
			(e->started_at == best->started_at && e->episode_id > best->episode_id))
			best = e;
	}
	return best;
}

/*
 * The latest assessment of a domain in [from, now]; scored_only restricts to
 * assessments with a known total.
 */
static const CfAssessment *
last_assessment(EvalState *st, CfDomain domain, CfTime from, bool scored_only)
{
	const CfPatientFacts *f = st->f;
	const CfAssessment *best = NULL;

	for (int i = 0; i < f->n_assessments; i++)
	{
		const CfAssessment *a = &f->assessments[i];

		if (a->domain != domain)
			continue;
		if (a->assessed_at > st->now)
		{
			note_future(st, a->assessed_at);
			continue;
		}
		if (from != CF_TIME_NONE && a->assessed_at < from)
			continue;
		if (scored_only && !a->scored)
			continue;
		if (best == NULL || a->assessed_at >= best->assessed_at)
			best = a;
	}
	return best;
}

/* Latest medication review in [from, now]; CF_TIME_NONE if none. */
static CfTime
last_review(EvalState *st, CfTime from)
{
	const CfPatientFacts *f = st->f;
	CfTime		best = CF_TIME_NONE;

	for (int i = 0; i < f->n_reviews; i++)
	{
		CfTime		t = f->reviews[i];

		if (t > st->now)
		{
			note_future(st, t);
			continue;
		}
		if (from != CF_TIME_NONE && t < from)
			continue;
		if (t > best)
			best = t;
	}
	return best;
}

/* Time of the latest qualifying event of the domain in [from, now]. */
static CfTime
last_event(EvalState *st, CfDomain domain, CfTime from, bool *at_risk)
{
	const CfAssessment *a;

	*at_risk = false;
	if (domain == CF_DOM_MEDICATION_REVIEW)
		return last_review(st, from);
	a = last_assessment(st, domain, from, false);
	if (a == NULL)
		return CF_TIME_NONE;
	*at_risk = a->at_risk;
	return a->assessed_at;
}

/* Time of the first qualifying event of the domain in [from, now]. */
static CfTime
first_event(EvalState *st, CfDomain domain, CfTime from)
{
	const CfPatientFacts *f = st->f;
	CfTime		best = CF_TIME_NONE;

	if (domain == CF_DOM_MEDICATION_REVIEW)
	{
		for (int i = 0; i < f->n_reviews; i++)
			if (f->reviews[i] >= from && f->reviews[i] <= st->now &&
				(best == CF_TIME_NONE || f->reviews[i] < best))
				best = f->reviews[i];
		return best;
	}
	for (int i = 0; i < f->n_assessments; i++)
	{
		const CfAssessment *a = &f->assessments[i];

		if (a->domain == domain && a->assessed_at >= from && a->assessed_at <= st->now &&
			(best == CF_TIME_NONE || a->assessed_at < best))
			best = a->assessed_at;
	}
	return best;
}

static bool
medication_active(const CfMedication *m, CfTime at)
{
	if (m->cancelled)
		return false;
	if (m->started_at > at)
		return false;
	if (m->stopped_at != CF_TIME_NONE && m->stopped_at <= at)
		return false;
	return true;
}

static int
cmp_time(const void *a, const void *b)
{
	CfTime		x = *(const CfTime *) a;
	CfTime		y = *(const CfTime *) b;

	return (x > y) - (x < y);
}

/*
 * Active regular medicines at now, distinct by key; *reached is when the
 * current set reached `threshold` (the threshold-th earliest start among
 * them), CF_TIME_NONE if it has not.
 */
static int
count_active_regular(EvalState *st, int threshold, CfTime *reached)
{
	const CfPatientFacts *f = st->f;
	CfTime	   *starts;
	const char **keys;
	int			n = 0;

	*reached = CF_TIME_NONE;
	if (f->n_medications == 0)
		return 0;
	starts = st->ops->alloc(st->ops->arg, sizeof(CfTime) * f->n_medications);
	keys = st->ops->alloc(st->ops->arg, sizeof(char *) * f->n_medications);

	for (int i = 0; i < f->n_medications; i++)
	{
		const CfMedication *m = &f->medications[i];
		int			j;

		if (m->cancelled)
			continue;
		note_future(st, m->started_at);
		note_future(st, m->stopped_at);
		if (m->as_needed || !medication_active(m, st->now))
			continue;
		for (j = 0; j < n; j++)
		{
			if (strcmp(keys[j], m->key) == 0)
			{
				if (m->started_at < starts[j])
					starts[j] = m->started_at;
				break;
			}
		}
		if (j == n)
		{
			keys[n] = m->key;
			starts[n] = m->started_at;
			n++;
		}
	}
	if (threshold > 0 && n >= threshold)
	{
		qsort(starts, n, sizeof(CfTime), cmp_time);
		*reached = starts[threshold - 1];
	}
	return n;
}

/* The FRID class description of an active medicine, or NULL: not a FRID. */
static const char *
frid_description(EvalState *st, const CfMedication *m)
{
	if (m->atc == NULL || !medication_active(m, st->now))
		return NULL;
	for (int k = 0; k < st->frids->n; k++)
	{
		const char *p = st->frids->prefixes[k];

		if (strncmp(m->atc, p, strlen(p)) == 0)
			return st->frids->descriptions[k];
	}
	return NULL;
}

/* The name a medicine goes by in a reason: its name, else its ATC code. */
static const char *
medication_label(const CfMedication *m)
{
	return m->name ? m->name : m->atc;
}

/*
 * Does medicine a come before b in a reason's list: longer in use first,
 * then by ATC code, then by name (the same facts give the same order however
 * they were written)?
 */
static bool
frid_before(const CfMedication *a, const CfMedication *b)
{
	int			c;

	if (a->started_at != b->started_at)
		return a->started_at < b->started_at;
	c = strcmp(a->atc, b->atc);
	if (c != 0)
		return c < 0;
	return strcmp(medication_label(a), medication_label(b)) < 0;
}

/*
 * The active FRIDs (by ATC prefix), longest in use first: the first `max`
 * of them into meds[] and descriptions[], the number of all as the result.
 * The same medicine (ATC and name) recorded twice counts once, from its
 * earliest start.
 */
static int
active_frids(EvalState *st, const CfMedication **meds, const char **descriptions, int max)
{
	const CfPatientFacts *f = st->f;
	int			n = 0,
				kept = 0;

	for (int i = 0; i < f->n_medications; i++)
	{
		const CfMedication *m = &f->medications[i];
		const char *desc = frid_description(st, m);
		bool		dup = false;
		int			at;

		if (desc == NULL)
			continue;
		for (int j = 0; j < f->n_medications && !dup; j++)
		{
			const CfMedication *o = &f->medications[j];

			if (j == i || frid_description(st, o) == NULL ||
				strcmp(o->atc, m->atc) != 0 ||
				strcmp(medication_label(o), medication_label(m)) != 0)
				continue;
			dup = o->started_at < m->started_at ||
				(o->started_at == m->started_at && j < i);
		}
		if (dup)
			continue;
		n++;
		/* insert in order into the kept ones */
		for (at = kept; at > 0 && frid_before(m, meds[at - 1]); at--)
			;
		if (at >= max)
			continue;
		if (kept < max)
			kept++;
		for (int k = kept - 1; k > at; k--)
		{
			meds[k] = meds[k - 1];
			descriptions[k] = descriptions[k - 1];
		}
		meds[at] = m;
		descriptions[at] = desc;
	}
	return n;
}

/*
 * A plan of the kind in force at or after `since`; *made is when it was made
 * (or `since` for a plan that already existed).
 */
static bool
has_plan(EvalState *st, CfPlanKind kind, CfTime since, CfTime *made)
{
	const CfPatientFacts *f = st->f;
	bool		found = false;

	for (int i = 0; i < f->n_plans; i++)
	{
		const CfPlan *p = &f->plans[i];

		if (p->kind != kind)
			continue;
		if (p->started_at > st->now)
		{
			note_future(st, p->started_at);
			continue;
		}
		if (p->ended_at == CF_TIME_NONE || p->ended_at > since)
		{
			CfTime		t = p->started_at > since ? p->started_at : since;

			if (!found || t < *made)
				*made = t;
			found = true;
		}
	}
	return found;
}

/* ---- rules by anchor ---- */

/*
 * Does the rule's due time follow a triggering fact (an event or plan rule,
 * §7.2), rather than the episode start or the last action?
 */
static bool
event_or_plan_rule(const CfRule *rule)
{
	switch (rule->anchor)
	{
		case CF_ANCHOR_RISK_RESULT:
		case CF_ANCHOR_WEIGHT_SERIES:
		case CF_ANCHOR_MEDICINE_COUNT:
		case CF_ANCHOR_FALL:
			return true;
		default:
			return false;
	}
}

static void
set_flag(CfFlagResult *r, EvalState *st, const CfRule *rule, CfTime due_from, CfTime due_at)
{
	/*
	 * A flag is never due before the episode starts (§7.4).  An event or
	 * plan rule whose trigger predates the start is due from the start, with
	 * its full follow-up time after it: the new unit gets its 7 days (§7.2).
	 */
	if (due_from < st->episode->started_at)
	{
		due_from = st->episode->started_at;
		if (event_or_plan_rule(rule))
			due_at = add_iv(st, due_from, &rule->follow_up, 1);
	}
	if (due_at < due_from)
		due_at = due_from;
	r->outcome = CF_OUT_FLAG;
	r->episode = st->episode;
	r->due_from = due_from;
	r->due_at = due_at;
}

static void
rule_episode_start(EvalState *st, const CfRule *rule, CfFlagResult *r)
{
	CfTime		start = st->episode->started_at;
	bool		at_risk;
	char		d1[48],
				d2[48];
	CfTime		ev = last_event(st, rule->domain, start, &at_risk);

	if (ev != CF_TIME_NONE)
	{
		r->outcome = CF_OUT_DONE;
		r->event_at = first_event(st, rule->domain, start);
		return;
	}
	set_flag(r, st, rule, start, add_iv(st, start, &rule->due_interval, 1));
	r->event_at = start;
	fmt_date(st, start, d1, sizeof(d1));
	fmt_date(st, r->due_at, d2, sizeof(d2));
	snprintf(r->reason, CF_REASON_LEN, "No %s since admission on %s; due %s",
			 domain_noun[rule->domain], d1, d2);
	reason_data(st, r, CF_RK_ADMISSION)->date1 = local_date(st, start);
	st->admission_open[rule->domain] = true;
}

static void
rule_last_event(EvalState *st, const CfRule *rule, CfFlagResult *r)
{
	bool		at_risk;
	CfTime		ev = last_event(st, rule->domain, st->episode->started_at, &at_risk);
	CfTime		due;
	char		d1[48],
				d2[48];

	if (ev == CF_TIME_NONE)
	{
		/* the admission rule covers this gap (§7.4) */
		r->outcome = CF_OUT_CLEARED;
		return;
	}
	if (rule->domain == CF_DOM_FALL_RISK && st->after_fall_open)
	{
		/* the after-fall flag asks for the same assessment (§7.4, §7.18) */
		r->outcome = CF_OUT_CLEARED;
		return;
	}
	if (rule->domain == CF_DOM_NUTRITION && at_risk)
	{
		/* at risk: the plan rules take over from repeat screening */
		r->outcome = CF_OUT_CLEARED;
		return;
	}
	due = add_iv(st, ev, &rule->due_interval, 1);
	set_flag(r, st, rule, due, due);
	r->event_at = ev;
	fmt_date(st, ev, d1, sizeof(d1));
	fmt_date(st, due, d2, sizeof(d2));
	snprintf(r->reason, CF_REASON_LEN, "Last %s on %s; next due %s",
			 domain_noun[rule->domain], d1, d2);
	reason_data(st, r, CF_RK_REPEAT)->date1 = local_date(st, ev);
}

static void
rule_risk_result(EvalState *st, const CfRule *rule, CfFlagResult *r)
{
	const CfAssessment *a;
	CfPlanKind	kind;
	char		d1[48],
				d2[48];
	char		total[32];

	if (rule->domain == CF_DOM_MEDICATION_REVIEW)
	{
		r->outcome = CF_OUT_NOT_IN_SCOPE;
		return;
	}
	kind = rule->domain == CF_DOM_NUTRITION ? CF_PLAN_NUTRITION : CF_PLAN_FALL_PREVENTION;
	a = last_assessment(st, rule->domain, st->episode->started_at, true);
	if (a == NULL || !a->at_risk)
	{
		r->outcome = CF_OUT_CLEARED;
		return;
	}
	if (has_plan(st, kind, a->assessed_at, &r->event_at))
	{
		r->outcome = CF_OUT_DONE;
		return;
	}
	set_flag(r, st, rule, a->assessed_at, add_iv(st, a->assessed_at, &rule->follow_up, 1));
	r->event_at = a->assessed_at;
	fmt_date(st, a->assessed_at, d1, sizeof(d1));
	fmt_date(st, r->due_at, d2, sizeof(d2));
	snprintf(total, sizeof(total), "%g", a->total);
	if (rule->domain == CF_DOM_NUTRITION)
		snprintf(r->reason, CF_REASON_LEN,
				 "At risk of malnutrition (%s %s on %s); no nutrition plan; due %s",
				 a->instrument, total, d1, d2);
	else
		snprintf(r->reason, CF_REASON_LEN,
				 "High fall risk (%s %s on %s); no fall-prevention plan; due %s",
				 a->instrument, total, d1, d2);
	{
		CfReasonData *d = reason_data(st, r, CF_RK_NO_PLAN);

		d->date1 = local_date(st, a->assessed_at);
		d->value1 = a->total;
		copy_text(d->text1, sizeof(d->text1), a->instrument);
	}
}

/* When a plan was last made or evaluated, as of now. */
static CfTime
plan_last(EvalState *st, const CfPlan *p)
{
	if (p->last_evaluated_at != CF_TIME_NONE && p->last_evaluated_at > p->started_at &&
		p->last_evaluated_at <= st->now)
		return p->last_evaluated_at;
	return p->started_at;
}

static void
rule_plan_evaluation(EvalState *st, const CfRule *rule, CfFlagResult *r)
{
	const CfPatientFacts *f = st->f;
	const CfPlan *plan = NULL;
	CfPlanKind	kind = rule->domain == CF_DOM_FALL_RISK ? CF_PLAN_FALL_PREVENTION : CF_PLAN_NUTRITION;
	CfTime		last,
				due;
	char		d1[48],
				d2[48];

	for (int i = 0; i < f->n_plans; i++)
	{
		const CfPlan *p = &f->plans[i];

		if (p->kind != kind)
			continue;
		note_future(st, p->started_at);
		note_future(st, p->ended_at);
		if (p->started_at > st->now)
			continue;
		if (p->ended_at != CF_TIME_NONE && p->ended_at <= st->now)
			continue;
		/* of several plans in force, the one made or evaluated last */
		if (plan == NULL || plan_last(st, p) > plan_last(st, plan) ||
			(plan_last(st, p) == plan_last(st, plan) && p->started_at > plan->started_at))
			plan = p;
	}
	if (plan == NULL)
	{
		r->outcome = CF_OUT_CLEARED;
		return;
	}
	last = plan_last(st, plan);
	due = add_iv(st, last, &rule->due_interval, 1);
	set_flag(r, st, rule, due, due);
	r->event_at = last;
	fmt_date(st, last, d1, sizeof(d1));
	fmt_date(st, due, d2, sizeof(d2));
	snprintf(r->reason, CF_REASON_LEN, "%s plan %s on %s; evaluation due %s",
			 kind == CF_PLAN_NUTRITION ? "Nutrition" : "Fall-prevention",
			 last == plan->started_at ? "made" : "last evaluated", d1, d2);
	{
		CfReasonData *d = reason_data(st, r, CF_RK_PLAN_EVAL);

		d->date1 = local_date(st, last);
		d->flag = last != plan->started_at;
	}
}

/* Largest loss (percent) from a weight in [latest - window, latest). */
static double
max_loss(EvalState *st, const CfMeasurement *latest, int months,
		 const CfMeasurement **from)
{
	const CfPatientFacts *f = st->f;
	CfInterval	iv = {months, 0, 0};
	CfTime		start = add_iv(st, latest->measured_at, &iv, -1);
	double		best = 0.0;

	*from = NULL;
	for (int i = 0; i < f->n_measurements; i++)
	{
		const CfMeasurement *m = &f->measurements[i];
		double		loss;

		if (m->kind != CF_MEAS_WEIGHT || m->measured_at < start ||
			m->measured_at >= latest->measured_at || m->value <= 0)
			continue;
		loss = (m->value - latest->value) / m->value * 100.0;
		if (loss > best)
		{
			best = loss;
			*from = m;
		}
	}
	return best;
}

typedef struct LossCriterion
{
	int			months;			/* window before the latest weight */
	double		pct;			/* loss above this percentage */
	double		bmi_below;		/* and BMI below this (0: loss alone) */
} LossCriterion;

/* First loss criterion met; fills figures.  BMI <= 0 means unknown. */
static bool
loss_criterion_met(EvalState *st, const CfMeasurement *w, double bmi,
				   const LossCriterion *crit, int n, char *figures, size_t len,
				   CfReasonData *out)
{
	for (int c = 0; c < n; c++)
	{
		const CfMeasurement *from;
		double		loss;
		char		d1[48];

		if (crit[c].bmi_below > 0 && !(bmi > 0 && bmi < crit[c].bmi_below))
			continue;
		loss = max_loss(st, w, crit[c].months, &from);
		if (from == NULL || loss <= crit[c].pct)
			continue;
		fmt_date(st, from->measured_at, d1, sizeof(d1));
		snprintf(figures, len,
				 "weight %.1f kg, %.1f %% below %.1f kg on %s (over %g %% in %d month%s%s)",
				 w->value, loss, from->value, d1, crit[c].pct, crit[c].months,
				 crit[c].months == 1 ? "" : "s",
				 crit[c].bmi_below > 0 ? " with low BMI" : "");
		out->value1 = w->value;
		out->value2 = loss;
		out->value3 = from->value;
		out->date2 = local_date(st, from->measured_at);
		out->value4 = crit[c].pct;
		out->count = crit[c].months;
		out->flag2 = crit[c].bmi_below > 0;
		return true;
	}
	return false;
}

/*
 * Moderate or severe malnutrition by the degree table of clinical-rules.md
 * §2: severe (E43) is checked first, then moderate (E44.0); "over 70" means
 * age 70 or more at the latest weight (§7.7).
 */
static void
rule_weight_series(EvalState *st, const CfRule *rule, CfFlagResult *r)
{
	const CfPatientFacts *f = st->f;
	const CfMeasurement *w = NULL,
			   *h = NULL,
			   *b = NULL;
	double		bmi = -1.0;
	bool		over70;
	const char *degree = NULL;
	char		figures[200];
	LossCriterion severe[3],
				moderate[3];
	CfReasonData loss;
	bool		by_bmi = false;
	double		limit = 0;

	for (int i = 0; i < f->n_measurements; i++)
	{
		const CfMeasurement *m = &f->measurements[i];

		if (m->measured_at > st->now)
		{
			note_future(st, m->measured_at);
			continue;
		}
		if (m->kind == CF_MEAS_WEIGHT)
			w = m;
		else if (m->kind == CF_MEAS_HEIGHT)
			h = m;
		else if (m->kind == CF_MEAS_BMI)
			b = m;
	}
	if (w == NULL)
	{
		r->outcome = CF_OUT_CLEARED;
		return;
	}
	if (h != NULL && h->value > 0)
		bmi = w->value / ((h->value / 100.0) * (h->value / 100.0));
	else if (b != NULL && b->measured_at >= w->measured_at)
		bmi = b->value;

	over70 = f->has_birth_date &&
		st->ops->age_years(st->ops->arg, f->birth_date, w->measured_at) >= 70;

	severe[0] = (LossCriterion) {6, 15.0, 0};
	severe[1] = (LossCriterion) {1, 5.0, 0};
	severe[2] = (LossCriterion) {3, 5.0, over70 ? 20.0 : 18.5};
	moderate[0] = (LossCriterion) {6, 10.0, 0};
	moderate[1] = (LossCriterion) {2, 5.0, 0};
	moderate[2] = (LossCriterion) {6, 5.0, over70 ? 22.0 : 20.0};

	memset(&loss, 0, sizeof(loss));
	if (bmi > 0 && bmi < (over70 ? 18.5 : 16.0))
	{
		degree = "severe";
		by_bmi = true;
		limit = over70 ? 18.5 : 16.0;
		snprintf(figures, sizeof(figures), "BMI %.1f (below %.1f)", bmi, limit);
	}
	else if (loss_criterion_met(st, w, bmi, severe, 3, figures, sizeof(figures), &loss))
		degree = "severe";
	else if (bmi > 0 && bmi < (over70 ? 20.0 : 18.5))
	{
		degree = "moderate";
		by_bmi = true;
		limit = over70 ? 20.0 : 18.5;
		snprintf(figures, sizeof(figures), "BMI %.1f (below %.1f)", bmi, limit);
	}
	else if (loss_criterion_met(st, w, bmi, moderate, 3, figures, sizeof(figures), &loss))
		degree = "moderate";

	if (degree == NULL)
	{
		r->outcome = CF_OUT_CLEARED;
		return;
	}
	set_flag(r, st, rule, w->measured_at, add_iv(st, w->measured_at, &rule->follow_up, 1));
	r->event_at = w->measured_at;
	snprintf(r->reason, CF_REASON_LEN, "Signs of %s malnutrition: %s", degree, figures);
	{
		CfReasonData *d = reason_data(st, r, by_bmi ? CF_RK_LOW_BMI : CF_RK_WEIGHT_LOSS);

		if (by_bmi)
		{
			d->value1 = bmi;
			d->value2 = limit;
		}
		else
		{
			d->value1 = loss.value1;
			d->value2 = loss.value2;
			d->value3 = loss.value3;
			d->value4 = loss.value4;
			d->date2 = loss.date2;
			d->count = loss.count;
			d->flag2 = loss.flag2;
		}
		d->date1 = local_date(st, w->measured_at);
		d->flag = strcmp(degree, "severe") == 0;
	}
}

static void
rule_medicine_count(EvalState *st, const CfRule *rule, CfFlagResult *r)
{
	CfTime		reached;
	int			n = count_active_regular(st, rule->threshold, &reached);
	CfTime		review = last_review(st, CF_TIME_NONE);
	CfTime		due_from;
	char		d1[48],
				d2[48];

	if (rule->threshold <= 0 || n < rule->threshold)
	{
		r->outcome = CF_OUT_CLEARED;
		return;
	}
	due_from = reached;
	if (rule->due_interval.months != 0 || rule->due_interval.days != 0 ||
		rule->due_interval.usecs != 0)
	{
		/* due at the threshold or interval after the last review, whichever later */
		if (review != CF_TIME_NONE)
		{
			CfTime		after = add_iv(st, review, &rule->due_interval, 1);

			if (after > due_from)
				due_from = after;
		}
	}
	else if (review != CF_TIME_NONE && review >= reached)
	{
		r->outcome = CF_OUT_DONE;
		r->event_at = review;
		return;
	}
	set_flag(r, st, rule, due_from, add_iv(st, due_from, &rule->follow_up, 1));
	r->event_at = review != CF_TIME_NONE && review > reached ? review : reached;
	fmt_date(st, r->due_from, d2, sizeof(d2));
	if (review != CF_TIME_NONE)
	{
		fmt_date(st, review, d1, sizeof(d1));
		snprintf(r->reason, CF_REASON_LEN,
				 "%d regular medicines in use; last medication review %s; review due %s",
				 n, d1, d2);
	}
	else
		snprintf(r->reason, CF_REASON_LEN,
				 "%d regular medicines in use and no medication review recorded; review due %s",
				 n, d2);
	{
		CfReasonData *d = reason_data(st, r, CF_RK_MED_COUNT);

		d->count = n;
		d->flag = review != CF_TIME_NONE;
		d->date2 = local_date(st, review);
		d->date1 = local_date(st, r->due_from);
	}
}

static void
rule_fall(EvalState *st, const CfRule *rule, CfFlagResult *r)
{
	const CfPatientFacts *f = st->f;
	CfInterval	year = {12, 0, 0};
	char		d1[48],
				d2[48];

	if (rule->domain == CF_DOM_FALL_RISK)
	{
		/* a fall after the last fall-risk assessment (§7.8) */
		const CfAssessment *a = last_assessment(st, CF_DOM_FALL_RISK, CF_TIME_NONE, false);
		CfTime		since;
		CfTime		first = CF_TIME_NONE;

		if (st->admission_open[CF_DOM_FALL_RISK])
		{
			r->outcome = CF_OUT_CLEARED;
			return;
		}
		if (a != NULL)
			since = a->assessed_at;
		else
			since = add_iv(st, st->episode->started_at, &year, -1);
		for (int i = 0; i < f->n_falls; i++)
		{
			CfTime		t = f->falls[i];

			if (t > st->now)
			{
				note_future(st, t);
				continue;
			}
			if ((a != NULL && t > since) || (a == NULL && t >= since))
			{
				if (first == CF_TIME_NONE || t < first)
					first = t;
			}
		}
		if (first == CF_TIME_NONE)
		{
			r->outcome = a != NULL ? CF_OUT_DONE : CF_OUT_CLEARED;
			if (a != NULL)
				r->event_at = a->assessed_at;
			return;
		}
		set_flag(r, st, rule, first, add_iv(st, first, &rule->follow_up, 1));
		r->event_at = first;
		st->after_fall_open = true;
		fmt_date(st, first, d1, sizeof(d1));
		fmt_date(st, r->due_at, d2, sizeof(d2));
		if (a != NULL)
		{
			char		d3[48];

			fmt_date(st, a->assessed_at, d3, sizeof(d3));
			snprintf(r->reason, CF_REASON_LEN,
					 "Fall on %s after the last fall-risk assessment (%s); assess again by %s",
					 d1, d3, d2);
		}
		else
			snprintf(r->reason, CF_REASON_LEN,
					 "Fall on %s and no fall-risk assessment recorded; assess by %s", d1, d2);
		{
			CfReasonData *d = reason_data(st, r, CF_RK_FALL_ASSESS);

			d->date1 = local_date(st, first);
			d->flag = a != NULL;
			d->date2 = a != NULL ? local_date(st, a->assessed_at) : 0;
		}
		return;
	}

	if (rule->domain == CF_DOM_MEDICATION_REVIEW)
	{
		/* high fall risk or a fall in 12 months + a FRID + no review since */
		const CfAssessment *a = last_assessment(st, CF_DOM_FALL_RISK, CF_TIME_NONE, true);
		CfTime		year_ago = add_iv(st, st->now, &year, -1);
		CfTime		fall = CF_TIME_NONE;
		CfTime		trigger = CF_TIME_NONE;
		const char *why;
		const char *frid_desc[CF_REASON_DRUGS];
		const CfMedication *frid[CF_REASON_DRUGS];
		int			n_frid,
					kept;
		char		drugs[CF_REASON_LEN - 256];
		size_t		used = 0;
		CfTime		review;

		for (int i = 0; i < f->n_falls; i++)
		{
			CfTime		t = f->falls[i];

			if (t > st->now)
			{
				note_future(st, t);
				continue;
			}
			if (t >= year_ago && t > fall)
				fall = t;
		}
		if (fall != CF_TIME_NONE)
			note_future(st, add_iv(st, fall, &year, 1));
		if (a != NULL && a->at_risk)
			trigger = a->assessed_at;
		if (fall != CF_TIME_NONE && fall > trigger)
			trigger = fall;
		if (trigger == CF_TIME_NONE)
		{
			r->outcome = CF_OUT_CLEARED;
			return;
		}
		n_frid = active_frids(st, frid, frid_desc, CF_REASON_DRUGS);
		if (n_frid == 0)
		{
			r->outcome = CF_OUT_CLEARED;
			return;
		}
		review = last_review(st, CF_TIME_NONE);
		if (review != CF_TIME_NONE && review >= trigger)
		{
			r->outcome = CF_OUT_DONE;
			r->event_at = review;
			return;
		}
		why = (trigger == fall) ? "Fall" : "High fall-risk score";
		set_flag(r, st, rule, trigger, add_iv(st, trigger, &rule->follow_up, 1));
		r->event_at = trigger;
		fmt_date(st, trigger, d1, sizeof(d1));
		fmt_date(st, r->due_at, d2, sizeof(d2));
		/* every FRID: "diuretics Furosemid (C03CA01), ... and z-drugs ..." */
		kept = n_frid < CF_REASON_DRUGS ? n_frid : CF_REASON_DRUGS;
		drugs[0] = '\0';
		for (int i = 0; i < kept && used < sizeof(drugs); i++)
			used += snprintf(drugs + used, sizeof(drugs) - used, "%s%s %s (%s)",
							 i == 0 ? "" : (i == kept - 1 && n_frid == kept) ? " and " : ", ",
							 frid_desc[i], medication_label(frid[i]), frid[i]->atc);
		if (n_frid > kept && used < sizeof(drugs))
			snprintf(drugs + used, sizeof(drugs) - used, " and %d more", n_frid - kept);
		snprintf(r->reason, CF_REASON_LEN,
				 "%s on %s and %s in use; no medication review since; due %s",
				 why, d1, drugs, d2);
		{
			CfReasonData *d = reason_data(st, r, CF_RK_FALL_DRUG);

			d->date1 = local_date(st, trigger);
			d->flag = trigger == fall;
			copy_text(d->text1, sizeof(d->text1), medication_label(frid[0]));
			copy_text(d->text2, sizeof(d->text2), frid[0]->atc);
			d->n_drugs = kept;
			d->drugs_total = n_frid;
			for (int i = 0; i < kept; i++)
			{
				copy_text(d->drugs[i].name, sizeof(d->drugs[i].name), medication_label(frid[i]));
				copy_text(d->drugs[i].atc, sizeof(d->drugs[i].atc), frid[i]->atc);
			}
		}
		return;
	}
	r->outcome = CF_OUT_NOT_IN_SCOPE;
}

const char *
cf_outcome_resolution(CfOutcome outcome)
{
	switch (outcome)
	{
		case CF_OUT_DONE:
			return "done";
		case CF_OUT_CLEARED:
			return "cleared";
		case CF_OUT_NOT_IN_SCOPE:
			return "not_in_scope";
		case CF_OUT_NO_EPISODE:
			return "episode_ended";
		case CF_OUT_DECEASED:
			return "deceased";
		case CF_OUT_EXEMPT:
			return "exempt";
		case CF_OUT_FLAG:
			break;
	}
	return "cleared";
}

/*
 * Episode-start rules first, then the fall rules, then the rest: later
 * passes look at admission_open and after_fall_open (§7.4).
 */
static int
rule_pass(const CfRule *rule)
{
	if (rule->anchor == CF_ANCHOR_EPISODE_START)
		return 0;
	return rule->anchor == CF_ANCHOR_FALL ? 1 : 2;
}

void
cf_evaluate(const CfPatientFacts *facts,
			const CfRule *rules, int n_rules,
			const CfFridList *frids,
			CfTime now,
			const CfEvalOps *ops,
			CfFlagResult *results,
			CfTime *next_check)
{
	CfTime		by_domain[CF_DOM_COUNT];

	cf_evaluate_by_domain(facts, rules, n_rules, frids, now, ops, results, next_check, by_domain);
}

void
cf_evaluate_by_domain(const CfPatientFacts *facts,
					  const CfRule *rules, int n_rules,
					  const CfFridList *frids,
					  CfTime now,
					  const CfEvalOps *ops,
					  CfFlagResult *results,
					  CfTime *next_check,
					  CfTime *next_by_domain)
{
	EvalState	st;

	memset(&st, 0, sizeof(st));
	st.f = facts;
	st.rules = rules;
	st.n_rules = n_rules;
	st.frids = frids;
	st.now = now;
	st.ops = ops;
	st.next_check = CF_TIME_NEVER;
	st.domain = -1;
	for (int d = 0; d < CF_DOM_COUNT; d++)
	{
		st.next_by_domain[d] = CF_TIME_NEVER;
		next_by_domain[d] = CF_TIME_NEVER;
	}

	for (int i = 0; i < n_rules; i++)
	{
		memset(&results[i], 0, sizeof(CfFlagResult));
		results[i].rule = &rules[i];
		results[i].event_at = CF_TIME_NONE;
		results[i].outcome = CF_OUT_NOT_IN_SCOPE;
	}

	if (facts->deceased)
	{
		for (int i = 0; i < n_rules; i++)
			results[i].outcome = CF_OUT_DECEASED;
		*next_check = CF_TIME_NEVER;
		return;
	}

	st.episode = current_episode(&st);
	if (st.episode == NULL)
	{
		for (int i = 0; i < n_rules; i++)
			results[i].outcome = CF_OUT_NO_EPISODE;
		*next_check = st.next_check;
		memcpy(next_by_domain, st.next_by_domain, sizeof(st.next_by_domain));
		return;
	}

	for (int pass = 0; pass < 3; pass++)
	{
		for (int i = 0; i < n_rules; i++)
		{
			const CfRule *rule = &rules[i];
			CfFlagResult *r = &results[i];

			if (rule_pass(rule) != pass)
				continue;
			st.domain = rule->domain;
			if (!(rule->settings & (1u << st.episode->setting)))
				continue;		/* NOT_IN_SCOPE */
			if (facts->has_birth_date &&
				ops->age_years(ops->arg, facts->birth_date, now) < rule->min_age)
			{
				note_future(&st, ops->birthday(ops->arg, facts->birth_date, rule->min_age));
				continue;
			}
			if (exempt_now(&st, rule))
			{
				r->outcome = CF_OUT_EXEMPT;
				continue;
			}
			switch (rule->anchor)
			{
				case CF_ANCHOR_EPISODE_START:
					rule_episode_start(&st, rule, r);
					break;
				case CF_ANCHOR_LAST_EVENT:
					rule_last_event(&st, rule, r);
					break;
				case CF_ANCHOR_RISK_RESULT:
					rule_risk_result(&st, rule, r);
					break;
				case CF_ANCHOR_PLAN_EVALUATION:
					rule_plan_evaluation(&st, rule, r);
					break;
				case CF_ANCHOR_WEIGHT_SERIES:
					rule_weight_series(&st, rule, r);
					break;
				case CF_ANCHOR_MEDICINE_COUNT:
					rule_medicine_count(&st, rule, r);
					break;
				case CF_ANCHOR_FALL:
					rule_fall(&st, rule, r);
					break;
				case CF_ANCHOR_COUNT:
					break;
			}
		}
	}
	*next_check = st.next_check;
	memcpy(next_by_domain, st.next_by_domain, sizeof(st.next_by_domain));
}
