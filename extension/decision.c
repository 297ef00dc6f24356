/*-------------------------------------------------------------------------
 *
 * decision.c
 *	  The reconciliation decision (see decision.h): plain C, no PostgreSQL
 *	  calls, so that the stand-alone and libFuzzer harness run it too.
 *
 *	  The readings it implements (clinical-rules.md §7.16, §7.17):
 *	  - a flag is resolved done only by a qualifying action fact inside its
 *		window: at or after the fact that raised it (strictly after it where
 *		that fact is itself an action: a repeat rule's last screening, a
 *		plan's last evaluation, the last review of a medicine-count rule),
 *		and not after now; the flag names that fact;
 *	  - while the rule still applies and no such action exists, the open
 *		flag stays the same row whatever moved its due time (a medicine
 *		stopped, a renewal, a fact deleted): same gap, same flag;
 *	  - otherwise it closes as cleared (the condition no longer holds) or
 *		corrected (the fact that raised it is gone: deleted, or corrected as
 *		entered in error), episode_ended, deceased, exempt;
 *	  - a done flag whose action fact is gone names another qualifying
 *		action if there is one, is reopened when the gap is open again, and
 *		else says why it is closed.
 *
 *-------------------------------------------------------------------------
 */
#include "decision.h"

#include <string.h>

/* What kind of fact the rule's action is; *plan_kind for CF_ACT_PLAN. */
static CfActionKind
action_kind(const CfRule *rule, CfDomain *assessment_domain, CfPlanKind *plan_kind)
{
	*assessment_domain = rule->domain;
	*plan_kind = rule->domain == CF_DOM_FALL_RISK ? CF_PLAN_FALL_PREVENTION : CF_PLAN_NUTRITION;
	switch (rule->anchor)
	{
		case CF_ANCHOR_EPISODE_START:
		case CF_ANCHOR_LAST_EVENT:
		case CF_ANCHOR_FALL:
			return rule->domain == CF_DOM_MEDICATION_REVIEW ? CF_ACT_REVIEW : CF_ACT_ASSESSMENT;
		case CF_ANCHOR_MEDICINE_COUNT:
			return CF_ACT_REVIEW;
		case CF_ANCHOR_RISK_RESULT:
		case CF_ANCHOR_PLAN_EVALUATION:
			return rule->domain == CF_DOM_MEDICATION_REVIEW ? CF_ACT_NONE : CF_ACT_PLAN;
		default:
			return CF_ACT_NONE;
	}
}

/* Is t inside the window [from, now] ((from, now] when strict)? */
static bool
in_window(CfTime t, CfTime from, bool strict, CfTime now)
{
	if (t == CF_TIME_NONE || t > now)
		return false;
	if (from == CF_TIME_NONE)
		return true;
	return strict ? t > from : t >= from;
}

/* Keep the earlier of two candidate actions (ties: the smaller id). */
static void
take(CfAction *best, bool *found, CfActionKind kind, int64_t id, CfTime at)
{
	if (!*found || at < best->at || (at == best->at && id < best->id))
	{
		best->kind = kind;
		best->id = id;
		best->at = at;
		*found = true;
	}
}

/*
 * The earliest qualifying action in the window; want_id != 0 restricts the
 * search to that fact (is it still a qualifying action?).
 */
static bool
find_action(const CfRule *rule, const CfPatientFacts *f, CfTime from, bool strict,
			CfTime now, CfActionKind want_kind, int64_t want_id, CfAction *out)
{
	CfDomain	dom;
	CfPlanKind	pk;
	CfActionKind kind = action_kind(rule, &dom, &pk);
	bool		found = false;

	memset(out, 0, sizeof(*out));
	out->at = CF_TIME_NONE;
	if (kind == CF_ACT_NONE || (want_id != 0 && want_kind != kind))
		return false;
	if (kind == CF_ACT_ASSESSMENT)
	{
		for (int i = 0; i < f->n_assessments; i++)
		{
			const CfAssessment *a = &f->assessments[i];

			if (a->domain != dom || (want_id != 0 && a->id != want_id))
				continue;
			if (in_window(a->assessed_at, from, strict, now))
				take(out, &found, kind, a->id, a->assessed_at);
		}
	}
	else if (kind == CF_ACT_REVIEW)
	{
		for (int i = 0; i < f->n_reviews; i++)
		{
			int64_t		id = f->review_ids ? f->review_ids[i] : 0;

			if (want_id != 0 && id != want_id)
				continue;
			if (in_window(f->reviews[i], from, strict, now))
				take(out, &found, kind, id, f->reviews[i]);
		}
	}
	else
	{
		for (int i = 0; i < f->n_plans; i++)
		{
			const CfPlan *p = &f->plans[i];

			if (p->kind != pk || (want_id != 0 && p->id != want_id))
				continue;
			if (p->started_at > now)
				continue;
			if (rule->anchor == CF_ANCHOR_RISK_RESULT)
			{
				/* a plan made after the result, or one in force at it */
				CfTime		t = (from != CF_TIME_NONE && p->started_at < from) ? from : p->started_at;

				if (p->ended_at != CF_TIME_NONE && from != CF_TIME_NONE && p->ended_at <= from)
					continue;
				if (in_window(t, from, false, now))
					take(out, &found, kind, p->id, t);
			}
			else
			{
				/*
				 * a plan in force evaluated, or made, after the flag's last
				 * evaluation (a named action is only re-checked: its plan may
				 * have ended since)
				 */
				if (want_id == 0 && p->ended_at != CF_TIME_NONE && p->ended_at <= now)
					continue;
				if (in_window(p->started_at, from, strict, now))
					take(out, &found, kind, p->id, p->started_at);
				else if (in_window(p->last_evaluated_at, from, strict, now))
					take(out, &found, kind, p->id, p->last_evaluated_at);
			}
		}
	}
	return found;
}

bool
cf_first_action(const CfRule *rule, const CfPatientFacts *facts,
				CfTime from, bool strict, CfTime now, CfAction *out)
{
	return find_action(rule, facts, from, strict, now, CF_ACT_NONE, 0, out);
}

/* Is there a medication review exactly at t? */
static bool
review_at(const CfPatientFacts *f, CfTime t)
{
	for (int i = 0; i < f->n_reviews; i++)
		if (f->reviews[i] == t)
			return true;
	return false;
}

/*
 * Must the action lie strictly after the trigger?  Yes where the trigger is
 * itself an action of the kind the rule asks for (the last screening, the
 * last plan evaluation, the last review): that fact does not close the gap
 * it opened.
 */
static bool
strictly_after(const CfRule *rule, const CfPatientFacts *f, CfTime trigger)
{
	switch (rule->anchor)
	{
		case CF_ANCHOR_LAST_EVENT:
		case CF_ANCHOR_PLAN_EVALUATION:
			return true;
		case CF_ANCHOR_MEDICINE_COUNT:
			return trigger != CF_TIME_NONE && review_at(f, trigger);
		default:
			return false;
	}
}

/* Does the patient still have the episode? */
static bool
episode_exists(const CfPatientFacts *f, int64_t episode_id)
{
	for (int i = 0; i < f->n_episodes; i++)
		if (f->episodes[i].episode_id == episode_id)
			return true;
	return false;
}

/*
 * Is the fact that raised the flag (at trigger, of the kind the rule's
 * anchor reads) gone?  Unknown triggers count as present.
 */
static bool
trigger_gone(const CfRule *rule, const CfStoredFlag *s, const CfPatientFacts *f)
{
	CfTime		t = s->trigger_at;

	if (s->episode_id >= 0 && !episode_exists(f, s->episode_id))
		return true;
	if (t == CF_TIME_NONE)
		return false;
	switch (rule->anchor)
	{
		case CF_ANCHOR_EPISODE_START:
			return false;
		case CF_ANCHOR_LAST_EVENT:
			if (rule->domain == CF_DOM_MEDICATION_REVIEW)
				return !review_at(f, t);
			for (int i = 0; i < f->n_assessments; i++)
				if (f->assessments[i].domain == rule->domain && f->assessments[i].assessed_at == t)
					return false;
			return true;
		case CF_ANCHOR_RISK_RESULT:
			for (int i = 0; i < f->n_assessments; i++)
				if (f->assessments[i].domain == rule->domain && f->assessments[i].assessed_at == t &&
					f->assessments[i].at_risk)
					return false;
			return true;
		case CF_ANCHOR_PLAN_EVALUATION:
			for (int i = 0; i < f->n_plans; i++)
				if (f->plans[i].started_at == t || f->plans[i].last_evaluated_at == t)
					return false;
			return true;
		case CF_ANCHOR_WEIGHT_SERIES:
			for (int i = 0; i < f->n_measurements; i++)
				if (f->measurements[i].kind == CF_MEAS_WEIGHT && f->measurements[i].measured_at == t)
					return false;
			return true;
		case CF_ANCHOR_MEDICINE_COUNT:
			if (review_at(f, t))
				return false;
			for (int i = 0; i < f->n_medications; i++)
				if (!f->medications[i].cancelled && f->medications[i].started_at == t)
					return false;
			return true;
		case CF_ANCHOR_FALL:
			for (int i = 0; i < f->n_falls; i++)
				if (f->falls[i] == t)
					return false;
			if (rule->domain == CF_DOM_MEDICATION_REVIEW)
				for (int i = 0; i < f->n_assessments; i++)
					if (f->assessments[i].domain == CF_DOM_FALL_RISK &&
						f->assessments[i].assessed_at == t && f->assessments[i].at_risk)
						return false;
			return true;
		default:
			return false;
	}
}

/*
 * The time an action must follow: the trigger, or due_from when unknown; for
 * an admission rule the start of the flag's episode as it is now (a start
 * corrected later moves the window with it).
 */
static CfTime
window_from(const CfRule *rule, const CfStoredFlag *s, const CfPatientFacts *f)
{
	if (rule->anchor == CF_ANCHOR_EPISODE_START)
		for (int i = 0; i < f->n_episodes; i++)
			if (f->episodes[i].episode_id == s->episode_id)
				return f->episodes[i].started_at;
	return s->trigger_at != CF_TIME_NONE ? s->trigger_at : s->due_from;
}

/* Why a flag with no action in its window closes, for a non-flag result. */
static const char *
closing_reason(const CfRule *rule, const CfStoredFlag *s, const CfFlagResult *res,
			   const CfPatientFacts *f)
{
	switch (res->outcome)
	{
		case CF_OUT_DECEASED:
			return "deceased";
		case CF_OUT_EXEMPT:
			return "exempt";
		case CF_OUT_NO_EPISODE:
			return trigger_gone(rule, s, f) ? "corrected" : "episode_ended";
		case CF_OUT_NOT_IN_SCOPE:
			return "not_in_scope";
		default:
			return trigger_gone(rule, s, f) ? "corrected" : "cleared";
	}
}

CfDecision
cf_decide_open(const CfRule *rule, const CfStoredFlag *open, const CfFlagResult *res,
			   const CfPatientFacts *facts, CfTime now)
{
	CfDecision	d;
	CfTime		from;
	bool		strict;

	memset(&d, 0, sizeof(d));
	d.action.at = CF_TIME_NONE;
	if (open == NULL)
	{
		d.kind = res->outcome == CF_OUT_FLAG ? CF_DECIDE_RAISE : CF_DECIDE_NOTHING;
		return d;
	}
	from = window_from(rule, open, facts);
	strict = strictly_after(rule, facts, from);

	if (res->outcome == CF_OUT_FLAG)
	{
		if (res->episode == NULL || open->episode_id != res->episode->episode_id)
		{
			d.kind = CF_DECIDE_REPLACE;
			d.resolution = trigger_gone(rule, open, facts) ? "corrected" : "episode_ended";
			return d;
		}
		if (cf_first_action(rule, facts, from, strict, now, &d.action))
		{
			/* the action was done; what applies now is the next gap */
			d.kind = CF_DECIDE_REPLACE;
			d.resolution = "done";
			return d;
		}
		d.kind = CF_DECIDE_SAME_GAP;
		return d;
	}

	d.kind = CF_DECIDE_RESOLVE;
	if (res->outcome != CF_OUT_DECEASED && res->outcome != CF_OUT_EXEMPT &&
		res->outcome != CF_OUT_NO_EPISODE && res->outcome != CF_OUT_NOT_IN_SCOPE &&
		cf_first_action(rule, facts, from, strict, now, &d.action))
	{
		d.resolution = "done";
		return d;
	}
	memset(&d.action, 0, sizeof(d.action));
	d.action.at = CF_TIME_NONE;
	d.resolution = closing_reason(rule, open, res, facts);
	return d;
}

CfDecision
cf_decide_done(const CfRule *rule, const CfStoredFlag *done, const CfFlagResult *res,
			   const CfPatientFacts *facts, CfTime now)
{
	CfDecision	d;
	CfTime		from = window_from(rule, done, facts);
	bool		strict = strictly_after(rule, facts, from);
	CfAction	same;

	memset(&d, 0, sizeof(d));
	d.action.at = CF_TIME_NONE;
	if (find_action(rule, facts, from, strict, now, done->action.kind, done->action.id, &same))
	{
		if (same.at == done->action.at)
		{
			d.kind = CF_DECIDE_KEEP;
			return d;
		}
		/* the same fact, its time corrected within the window */
		d.kind = CF_DECIDE_RELABEL;
		d.resolution = "done";
		d.action = same;
		return d;
	}
	if (cf_first_action(rule, facts, from, strict, now, &d.action))
	{
		d.kind = CF_DECIDE_RELABEL;
		d.resolution = "done";
		return d;
	}
	memset(&d.action, 0, sizeof(d.action));
	d.action.at = CF_TIME_NONE;
	if (res->outcome == CF_OUT_FLAG && res->episode != NULL &&
		res->episode->episode_id == done->episode_id)
	{
		d.kind = CF_DECIDE_REOPEN;
		return d;
	}
	d.kind = CF_DECIDE_RELABEL;
	d.resolution = closing_reason(rule, done, res, facts);
	return d;
}

const char *
cf_action_table(CfActionKind kind)
{
	switch (kind)
	{
		case CF_ACT_ASSESSMENT:
			return "assessment";
		case CF_ACT_REVIEW:
			return "medication_review";
		case CF_ACT_PLAN:
			return "care_plan";
		case CF_ACT_NONE:
			break;
	}
	return NULL;
}

CfActionKind
cf_action_kind_from_table(const char *table)
{
	if (table == NULL)
		return CF_ACT_NONE;
	if (strcmp(table, "assessment") == 0)
		return CF_ACT_ASSESSMENT;
	if (strcmp(table, "medication_review") == 0)
		return CF_ACT_REVIEW;
	if (strcmp(table, "care_plan") == 0)
		return CF_ACT_PLAN;
	return CF_ACT_NONE;
}
