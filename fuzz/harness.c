/*-------------------------------------------------------------------------
 *
 * harness.c
 *	  Drives the plain-C rule evaluator (extension/evaluator.c) with facts,
 *	  rules and times decoded from arbitrary bytes, and checks what must
 *	  hold for any input:
 *	  - every result belongs to its rule, its outcome is one of CfOutcome;
 *	  - a flag's reason is a NUL-terminated string within CF_REASON_LEN;
 *	  - a flag's episode is one of the patient's episodes;
 *	  - due_at >= due_from when the rule's intervals are non-negative (the
 *		flag table's CHECK flag_due_order would otherwise refuse the row);
 *	  - next_check is after now (or CF_TIME_NEVER);
 *	  - scratch memory is only what the ops handed out (AddressSanitizer);
 *	  and of the reconciliation decision (extension/decision.c), for a stored
 *	  flag decoded from the input against each result:
 *	  - the kind fits the case (raise or nothing without an open flag; same
 *		gap or replace for a flag that still applies; resolve otherwise);
 *	  - done names an action fact that exists, of the rule's kind, at its
 *		time, inside the window (not before the trigger, not after now);
 *		every other resolution names none; same gap only without such a fact;
 *	  - stability: a flag just raised from a result is the same gap when
 *		decided again against that result, and a flag just resolved done
 *		keeps its resolution (no flag closes and reopens by itself).
 *	  A violation aborts, so libFuzzer and the stand-alone runner report it.
 *
 *	  Times are kept inside PostgreSQL's finite timestamp range, as stored
 *	  facts are; the calendar callbacks are simple (30-day months) and
 *	  saturate instead of overflowing.
 *
 *	  Built two ways (fuzz/Makefile): with libFuzzer (evaluator_fuzz), and
 *	  stand-alone with -DCF_STANDALONE (evaluator_unit: fixed cases and
 *	  pseudo-random inputs, or the files named on the command line), the
 *	  latter also under -fsanitize=address,undefined.
 *
 *-------------------------------------------------------------------------
 */
#include "decision.h"
#include "evaluator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USECS_PER_DAY	INT64_C(86400000000)
/* PostgreSQL's finite timestamp range (MIN_TIMESTAMP, END_TIMESTAMP) */
#define TS_MIN			INT64_C(-211813488000000000)
#define TS_END			INT64_C(9223371331200000000)
#define MAX_ITEMS		48
#define MAX_RULES		24

typedef struct Reader
{
	const uint8_t *p;
	size_t		left;
} Reader;

static uint8_t
u8(Reader *r)
{
	if (r->left == 0)
		return 0;
	r->left--;
	return *r->p++;
}

static uint32_t
u32(Reader *r)
{
	uint32_t	v = 0;

	for (int i = 0; i < 4; i++)
		v = (v << 8) | u8(r);
	return v;
}

static int64_t
i64(Reader *r)
{
	uint64_t	v = ((uint64_t) u32(r) << 32) | u32(r);

	return (int64_t) v;
}

static CfTime
clamp_time(int64_t t)
{
	if (t < TS_MIN)
		return TS_MIN;
	if (t >= TS_END)
		return TS_END - 1;
	return t;
}

/* A time: mostly near `base` (days to years apart), sometimes anywhere. */
static CfTime
rd_time(Reader *r, CfTime base)
{
	uint8_t		mode = u8(r);

	if (mode < 200)
		return clamp_time(base + (int64_t) ((int32_t) u32(r) % 4000) * USECS_PER_DAY / 4);
	if (mode < 230)
		return clamp_time(i64(r) % TS_END);
	return (mode & 1) ? TS_MIN : TS_END - 1;
}

static CfTime
rd_time_or_none(Reader *r, CfTime base)
{
	return (u8(r) & 3) == 0 ? CF_TIME_NONE : rd_time(r, base);
}

/* ---- the callbacks (CfEvalOps) ---- */

typedef struct Arena
{
	void	   *blocks[256];
	int			n;
} Arena;

static int64_t
sat_add(int64_t a, int64_t b)
{
	int64_t		c;

	if (__builtin_add_overflow(a, b, &c))
		return b > 0 ? TS_END - 1 : TS_MIN;
	return clamp_time(c);
}

static int64_t
sat_mul(int64_t a, int64_t b)
{
	int64_t		c;

	if (__builtin_mul_overflow(a, b, &c))
		return ((a < 0) != (b < 0)) ? INT64_MIN / 2 : INT64_MAX / 2;
	return c;
}

static CfTime
op_add_interval(void *arg, CfTime t, const CfInterval *iv, int sign)
{
	int64_t		d = sat_mul(iv->months, 30 * USECS_PER_DAY);

	(void) arg;
	d = sat_add(d, sat_mul(iv->days, USECS_PER_DAY));
	d = sat_add(d, iv->usecs);
	return sat_add(t, sign < 0 ? -d : d);
}

static int
op_age_years(void *arg, int32_t birth_date, CfTime t)
{
	(void) arg;
	return (int) ((t / USECS_PER_DAY - (int64_t) birth_date) / 365);
}

static CfTime
op_birthday(void *arg, int32_t birth_date, int years)
{
	(void) arg;
	return sat_add(sat_mul((int64_t) birth_date + (int64_t) years * 365, USECS_PER_DAY), 0);
}

static void
op_format_date(void *arg, CfTime t, char *buf, size_t len)
{
	(void) arg;
	snprintf(buf, len, "day %lld", (long long) (t / USECS_PER_DAY));
}

/* A fake local date (yyyymmdd-shaped) for the reason data. */
static int32_t
op_local_date(void *arg, CfTime t)
{
	int64_t		day = t / USECS_PER_DAY;

	(void) arg;
	return (int32_t) (20000101 + (day % 28));
}

static void *
op_alloc(void *arg, size_t size)
{
	Arena	   *a = arg;
	void	   *p;

	if (a->n >= (int) (sizeof(a->blocks) / sizeof(a->blocks[0])))
		abort();				/* the evaluator should not need this many */
	p = malloc(size > 0 ? size : 1);
	if (p == NULL)
		abort();
	a->blocks[a->n++] = p;
	return p;
}

/* ---- decoding ---- */

static const char *const instruments[] = {
	"mst", "mna_sf", "must", "nrs_2002", "nutrition_unspecified",
	"morse", "stratify", "downton", "hendrich_ii", "fall_risk_unspecified"
};
static const char *const atcs[] = {
	"N05CF01", "N05A", "C03CA01", "A02BC01", "B01AC06", "N02AA01", "R06AE07",
	"G04CA02", "N06AB04", "C09AA05", "N", "N05", "X99ZZ99", ""
};
static const char *const scopes[] = {
	"*", "nutrition", "fall_risk", "medication_review", "nutrition.screening",
	"fall_risk.assessment", "nutrition.screening.repeat", "fall", "", "nutrition.",
	"medication_review.polypharmacy", "fall_risk.high.no_plan"
};
static const char *const rule_ids[] = {
	"nutrition.screening.admission_short_term", "nutrition.screening.repeat",
	"nutrition.plan.missing", "nutrition.plan.evaluation", "nutrition.weight_loss",
	"medication_review.admission", "medication_review.annual",
	"medication_review.polypharmacy", "medication_review.fall_risk_drugs",
	"fall_risk.assessment.admission", "fall_risk.assessment.repeat",
	"fall_risk.assessment.after_fall", "fall_risk.high.no_plan", "x.y"
};
static const char *const frid_prefixes[] = {"N05A", "N05CF", "C03", "N02A", "R06A", "G04CA", "N"};
static const char *const frid_desc[] = {"antipsychotics", "z-drugs", "diuretics", "opioids",
"antihistamines", "alpha blockers", "nervous system"};

#define PICK(arr, r) (arr[u8(r) % (sizeof(arr) / sizeof(arr[0]))])

static int
cmp_time(const void *a, const void *b)
{
	CfTime		x = *(const CfTime *) a,
				y = *(const CfTime *) b;

	return (x > y) - (x < y);
}

#define SORT_BY(arr, n, field) \
	do { for (int i_ = 1; i_ < (n); i_++) for (int j_ = i_; j_ > 0 && (arr)[j_ - 1].field > (arr)[j_].field; j_--) \
		{ __typeof__((arr)[0]) t_ = (arr)[j_]; (arr)[j_] = (arr)[j_ - 1]; (arr)[j_ - 1] = t_; } } while (0)

static CfInterval
rd_interval(Reader *r, bool *nonneg)
{
	CfInterval	iv;
	uint8_t		mode = u8(r);

	iv.months = (int32_t) (u8(r) % 25);
	iv.days = (int32_t) (u8(r) % 60);
	iv.usecs = (int64_t) (u8(r) % 24) * INT64_C(3600000000);
	if (mode > 240)
	{
		/* mixed signs whose PostgreSQL total is still >= 0 (30-day months) */
		iv.days = -iv.days;
		if ((int64_t) iv.months * 30 + iv.days < 0)
			iv.months = (iv.days / -30) + 1;
		*nonneg = false;
	}
	else if (mode > 230)
	{
		iv.months = (int32_t) u32(r) % 200000;	/* huge */
		if (iv.months < 0)
			iv.months = -iv.months;
	}
	return iv;
}

/* Does the action name a fact of the facts, of the rule's kind, at its time? */
static bool
action_exists(const CfPatientFacts *f, const CfRule *rule, const CfAction *a)
{
	switch (a->kind)
	{
		case CF_ACT_ASSESSMENT:
			for (int i = 0; i < f->n_assessments; i++)
				if (f->assessments[i].id == a->id)
					return f->assessments[i].assessed_at == a->at && f->assessments[i].domain == rule->domain;
			return false;
		case CF_ACT_REVIEW:
			for (int i = 0; i < f->n_reviews; i++)
				if (f->review_ids[i] == a->id)
					return f->reviews[i] == a->at;
			return false;
		case CF_ACT_PLAN:
			for (int i = 0; i < f->n_plans; i++)
				if (f->plans[i].id == a->id)
					return f->plans[i].started_at <= a->at;
			return false;
		case CF_ACT_NONE:
			break;
	}
	return false;
}

/* A resolution is one careflags writes. */
static bool
known_resolution(const char *s)
{
	static const char *const known[] = {"done", "cleared", "corrected", "episode_ended", "deceased",
	"exempt", "not_in_scope", "rule_disabled"};

	if (s == NULL)
		return false;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(s, known[i]) == 0)
			return true;
	return false;
}

/* The invariants of a decision that resolves (RESOLVE, REPLACE, RELABEL). */
static void
check_resolution(const CfPatientFacts *f, const CfRule *rule, const CfDecision *d,
				 CfTime from, CfTime now)
{
	if (!known_resolution(d->resolution))
		abort();
	if (strcmp(d->resolution, "done") == 0)
	{
		if (d->action.kind == CF_ACT_NONE || !action_exists(f, rule, &d->action))
			abort();
		if (d->action.at > now || (from != CF_TIME_NONE && d->action.at < from))
			abort();
	}
	else if (d->action.kind != CF_ACT_NONE)
		abort();
}

/* The start of a flag's window, as decision.c reads it. */
static CfTime
window_start(const CfRule *rule, const CfStoredFlag *s, const CfPatientFacts *f)
{
	if (rule->anchor == CF_ANCHOR_EPISODE_START)
		for (int i = 0; i < f->n_episodes; i++)
			if (f->episodes[i].episode_id == s->episode_id)
				return f->episodes[i].started_at;
	return s->trigger_at != CF_TIME_NONE ? s->trigger_at : s->due_from;
}

/*
 * Decide a stored flag decoded from the input against the result, and the
 * stability of flags made from the result itself.
 */
static void
check_decisions(Reader *r, const CfPatientFacts *f, const CfRule *rule, const CfFlagResult *res,
				CfTime now)
{
	CfStoredFlag s;
	CfDecision	d;
	CfAction	any;
	uint8_t		mode = u8(r);

	d = cf_decide_open(rule, NULL, res, f, now);
	if (d.kind != (res->outcome == CF_OUT_FLAG ? CF_DECIDE_RAISE : CF_DECIDE_NOTHING))
		abort();

	/* a stored open flag: the result's own, or one from the input */
	memset(&s, 0, sizeof(s));
	s.episode_id = (mode & 1) && res->episode ? res->episode->episode_id : (int64_t) (u8(r) % 7);
	s.due_from = rd_time(r, now);
	switch ((mode >> 1) % 4)
	{
		case 0:
			s.trigger_at = CF_TIME_NONE;
			break;
		case 1:
			s.trigger_at = f->n_falls ? f->falls[u8(r) % f->n_falls] : rd_time(r, now);
			break;
		case 2:
			s.trigger_at = f->n_assessments ? f->assessments[u8(r) % f->n_assessments].assessed_at : rd_time(r, now);
			break;
		default:
			s.trigger_at = rd_time(r, now);
			break;
	}
	s.action.at = CF_TIME_NONE;
	d = cf_decide_open(rule, &s, res, f, now);
	if (res->outcome == CF_OUT_FLAG)
	{
		if (d.kind != CF_DECIDE_SAME_GAP && d.kind != CF_DECIDE_REPLACE)
			abort();
	}
	else if (d.kind != CF_DECIDE_RESOLVE)
		abort();
	if (d.kind == CF_DECIDE_RESOLVE || d.kind == CF_DECIDE_REPLACE)
		check_resolution(f, rule, &d, window_start(rule, &s, f), now);
	if (d.kind == CF_DECIDE_SAME_GAP &&
		cf_first_action(rule, f, window_start(rule, &s, f), false, now, &any) &&
		(rule->anchor != CF_ANCHOR_LAST_EVENT && rule->anchor != CF_ANCHOR_PLAN_EVALUATION &&
		 rule->anchor != CF_ANCHOR_MEDICINE_COUNT))
		abort();				/* an action in the window, yet the same gap */

	/* stability: the flag a result raises is that result's gap */
	if (res->outcome == CF_OUT_FLAG)
	{
		CfStoredFlag raised = {res->episode->episode_id, res->due_from, res->event_at,
		{CF_ACT_NONE, 0, CF_TIME_NONE}};

		d = cf_decide_open(rule, &raised, res, f, now);
		if (d.kind != CF_DECIDE_SAME_GAP)
		{
			fprintf(stderr, "rule %s (anchor %d): a flag just raised is decided %d (%s)\n",
					rule->rule_id, (int) rule->anchor, (int) d.kind, d.resolution ? d.resolution : "");
			abort();
		}
	}

	/* stability: a flag resolved done keeps its resolution */
	d = cf_decide_open(rule, &s, res, f, now);
	if ((d.kind == CF_DECIDE_RESOLVE || d.kind == CF_DECIDE_REPLACE) && strcmp(d.resolution, "done") == 0)
	{
		CfStoredFlag done = s;
		CfDecision	again;

		done.action = d.action;
		again = cf_decide_done(rule, &done, res, f, now);
		if (again.kind != CF_DECIDE_KEEP)
		{
			fprintf(stderr, "rule %s (anchor %d): a flag just resolved done is decided %d\n",
					rule->rule_id, (int) rule->anchor, (int) again.kind);
			abort();
		}
	}

	/* a done flag naming any fact: keep, reopen (only when the rule applies) or relabel */
	s.action.kind = (CfActionKind) (1 + u8(r) % 3);
	s.action.id = 1000 * (int64_t) s.action.kind + u8(r) % 10;
	s.action.at = rd_time(r, now);
	d = cf_decide_done(rule, &s, res, f, now);
	if (d.kind == CF_DECIDE_REOPEN)
	{
		if (res->outcome != CF_OUT_FLAG)
			abort();
	}
	else if (d.kind == CF_DECIDE_RELABEL)
		check_resolution(f, rule, &d, window_start(rule, &s, f), now);
	else if (d.kind != CF_DECIDE_KEEP || !action_exists(f, rule, &s.action))
		abort();
}

/* Run one input; aborts when an invariant does not hold. */
int
cf_fuzz_one(const uint8_t *data, size_t size)
{
	Reader		rd = {data, size};
	Reader	   *r = &rd;
	CfTime		now = clamp_time((int64_t) ((int32_t) u32(r)) * 1000000);	/* around 2000 +- 68 years */
	CfPatientFacts f;
	CfEpisode	ep[MAX_ITEMS];
	CfAssessment as[MAX_ITEMS];
	CfMeasurement me[MAX_ITEMS];
	CfMedication md[MAX_ITEMS];
	CfTime		rv[MAX_ITEMS];
	int64_t		rvid[MAX_ITEMS];
	CfPlan		pl[MAX_ITEMS];
	CfTime		fa[MAX_ITEMS];
	CfExemption ex[MAX_ITEMS];
	CfRule		rules[MAX_RULES];
	bool		rule_nonneg[MAX_RULES];
	CfFlagResult results[MAX_RULES];
	CfFridList	frids = {frid_prefixes, frid_desc, (int) (u8(r) % 8)};
	Arena		arena = {{0}, 0};
	CfEvalOps	ops = {&arena, op_add_interval, op_age_years, op_birthday, op_format_date, op_alloc, op_local_date};
	CfTime		next_check = 0;
	int			n_rules;

	memset(&f, 0, sizeof(f));
	f.patient_id = (int64_t) u32(r);
	f.has_birth_date = (u8(r) & 7) != 0;
	f.birth_date = (int32_t) (now / USECS_PER_DAY) - (int32_t) (u32(r) % 45000);
	f.deceased = u8(r) > 245;
	f.deceased_at = f.deceased ? rd_time_or_none(r, now) : CF_TIME_NONE;

	f.n_episodes = u8(r) % 6;
	for (int i = 0; i < f.n_episodes; i++)
	{
		ep[i].episode_id = i + 1;
		ep[i].setting = (CfSetting) (u8(r) % CF_SET_COUNT);
		ep[i].unit_id = (u8(r) & 1) ? "ward-a" : NULL;
		ep[i].started_at = rd_time(r, now);
		ep[i].ended_at = rd_time_or_none(r, now);
		if (ep[i].ended_at != CF_TIME_NONE && ep[i].ended_at < ep[i].started_at)
			ep[i].ended_at = ep[i].started_at;	/* CHECK episode_ends_after_start */
	}
	SORT_BY(ep, f.n_episodes, started_at);
	f.n_assessments = u8(r) % MAX_ITEMS;
	for (int i = 0; i < f.n_assessments; i++)
	{
		int			k = u8(r) % 10;

		as[i].domain = k < 5 ? CF_DOM_NUTRITION : CF_DOM_FALL_RISK;
		as[i].instrument = instruments[k];
		as[i].assessed_at = rd_time(r, now);
		as[i].scored = (u8(r) & 3) != 0;
		as[i].at_risk = u8(r) & 1;
		as[i].total = (double) (int8_t) u8(r);
	}
	SORT_BY(as, f.n_assessments, assessed_at);
	for (int i = 0; i < f.n_assessments; i++)
		as[i].id = 1000 + i;
	f.n_measurements = u8(r) % MAX_ITEMS;
	for (int i = 0; i < f.n_measurements; i++)
	{
		me[i].kind = (CfMeasurementKind) (u8(r) % 4);
		me[i].value = 0.5 + (double) (u32(r) % 5000) / 10.0;	/* 0.5 .. 500 */
		me[i].measured_at = rd_time(r, now);
	}
	SORT_BY(me, f.n_measurements, measured_at);
	f.n_medications = u8(r) % MAX_ITEMS;
	for (int i = 0; i < f.n_medications; i++)
	{
		md[i].atc = (u8(r) & 7) ? PICK(atcs, r) : NULL;
		md[i].key = md[i].atc ? md[i].atc : "local-code";
		md[i].name = (u8(r) & 1) ? "Medicine name" : NULL;
		md[i].started_at = rd_time(r, now);
		md[i].stopped_at = rd_time_or_none(r, now);
		if (md[i].stopped_at != CF_TIME_NONE && md[i].stopped_at < md[i].started_at)
			md[i].stopped_at = md[i].started_at;
		md[i].as_needed = (u8(r) & 3) == 0;
		md[i].cancelled = (u8(r) & 7) == 0;
	}
	SORT_BY(md, f.n_medications, started_at);
	f.n_reviews = u8(r) % 8;
	for (int i = 0; i < f.n_reviews; i++)
		rv[i] = rd_time(r, now);
	qsort(rv, f.n_reviews, sizeof(CfTime), cmp_time);
	for (int i = 0; i < f.n_reviews; i++)
		rvid[i] = 2000 + i;
	f.n_plans = u8(r) % 8;
	for (int i = 0; i < f.n_plans; i++)
	{
		pl[i].kind = (CfPlanKind) (u8(r) & 1);
		pl[i].started_at = rd_time(r, now);
		pl[i].ended_at = rd_time_or_none(r, now);
		if (pl[i].ended_at != CF_TIME_NONE && pl[i].ended_at < pl[i].started_at)
			pl[i].ended_at = pl[i].started_at;
		pl[i].last_evaluated_at = rd_time_or_none(r, now);
		if (pl[i].last_evaluated_at != CF_TIME_NONE && pl[i].last_evaluated_at < pl[i].started_at)
			pl[i].last_evaluated_at = pl[i].started_at;
	}
	SORT_BY(pl, f.n_plans, started_at);
	for (int i = 0; i < f.n_plans; i++)
		pl[i].id = 3000 + i;
	f.n_falls = u8(r) % 8;
	for (int i = 0; i < f.n_falls; i++)
		fa[i] = rd_time(r, now);
	qsort(fa, f.n_falls, sizeof(CfTime), cmp_time);
	f.n_exemptions = u8(r) % 4;
	for (int i = 0; i < f.n_exemptions; i++)
	{
		ex[i].scope = PICK(scopes, r);
		ex[i].valid_from = rd_time(r, now);
		ex[i].valid_until = rd_time_or_none(r, now);
		if (ex[i].valid_until != CF_TIME_NONE && ex[i].valid_until <= ex[i].valid_from)
			ex[i].valid_until = CF_TIME_NONE;
	}
	SORT_BY(ex, f.n_exemptions, valid_from);
	f.episodes = ep;
	f.assessments = as;
	f.measurements = me;
	f.medications = md;
	f.reviews = rv;
	f.review_ids = rvid;
	f.plans = pl;
	f.falls = fa;
	f.exemptions = ex;

	n_rules = 1 + u8(r) % MAX_RULES;
	for (int i = 0; i < n_rules; i++)
	{
		rules[i].rule_id = PICK(rule_ids, r);
		rules[i].title = "Rule";
		rules[i].domain = (CfDomain) (u8(r) % CF_DOM_COUNT);
		rules[i].anchor = (CfAnchor) (u8(r) % CF_ANCHOR_COUNT);
		rules[i].settings = 1u + (u8(r) % 31u);
		rules[i].min_age = u8(r) % 131;
		rule_nonneg[i] = true;
		rules[i].due_interval = rd_interval(r, &rule_nonneg[i]);
		rules[i].due_soon_window = rd_interval(r, &rule_nonneg[i]);
		rules[i].follow_up = rd_interval(r, &rule_nonneg[i]);
		rules[i].threshold = (u8(r) & 1) ? 1 + u8(r) % 20 : 0;
		rules[i].severity = 1 + u8(r) % 3;
	}

	cf_evaluate(&f, rules, n_rules, &frids, now, &ops, results, &next_check);

	for (int i = 0; i < n_rules; i++)
	{
		const CfFlagResult *res = &results[i];

		if (res->rule != &rules[i])
			abort();
		if ((int) res->outcome < CF_OUT_FLAG || res->outcome > CF_OUT_EXEMPT)
			abort();
		if (cf_outcome_resolution(res->outcome) == NULL)
			abort();
		if (res->outcome != CF_OUT_FLAG)
			continue;
		if (memchr(res->reason, '\0', CF_REASON_LEN) == NULL || res->reason[0] == '\0')
			abort();
		if (res->episode != NULL && (res->episode < ep || res->episode >= ep + f.n_episodes))
			abort();
		if (rule_nonneg[i] && res->due_at < res->due_from)
		{
			fprintf(stderr, "rule %d (%s, anchor %d): due_at %lld < due_from %lld\n", i, rules[i].rule_id,
					(int) rules[i].anchor, (long long) res->due_at, (long long) res->due_from);
			abort();
		}
	}
	if (next_check != CF_TIME_NEVER && next_check <= now)
		abort();

	for (int i = 0; i < n_rules; i++)
		check_decisions(r, &f, &rules[i], &results[i], now);

	for (int i = 0; i < arena.n; i++)
		free(arena.blocks[i]);
	return 0;
}

#ifndef CF_STANDALONE
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return cf_fuzz_one(data, size);
}
#else
/*
 * Stand-alone: the files named on the command line, else N pseudo-random
 * inputs (xorshift, fixed seed, so a failure is reproducible) plus the empty
 * input and inputs of all one byte value.
 */
int
main(int argc, char **argv)
{
	static uint8_t buf[4096];
	long		n = 20000;
	uint64_t	s = UINT64_C(0x9E3779B97F4A7C15);

	if (argc > 1 && strcmp(argv[1], "-n") == 0 && argc > 2)
		n = atol(argv[2]);
	else if (argc > 1)
	{
		for (int i = 1; i < argc; i++)
		{
			FILE	   *fp = fopen(argv[i], "rb");
			size_t		len;

			if (fp == NULL)
			{
				perror(argv[i]);
				return 2;
			}
			len = fread(buf, 1, sizeof(buf), fp);
			fclose(fp);
			cf_fuzz_one(buf, len);
		}
		printf("%d files ok\n", argc - 1);
		return 0;
	}
	cf_fuzz_one(buf, 0);
	for (int v = 0; v < 256; v++)
	{
		memset(buf, v, sizeof(buf));
		cf_fuzz_one(buf, sizeof(buf));
	}
	for (long k = 0; k < n; k++)
	{
		size_t		len = 1 + (size_t) (s % sizeof(buf));

		for (size_t i = 0; i < len; i++)
		{
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			buf[i] = (uint8_t) s;
		}
		cf_fuzz_one(buf, len);
	}
	printf("%ld inputs ok\n", n + 257);
	return 0;
}
#endif
