/*-------------------------------------------------------------------------
 *
 * decision_test.c
 *	  Unit tests of the reconciliation decision (extension/decision.c), one
 *	  case per reading of clinical-rules.md §7.16 and §7.17 and per defect of
 *	  issue 14, with hand-made facts: plain C, no PostgreSQL.
 *
 *	  Prints one line per case and exits non-zero when a case fails.
 *
 *-------------------------------------------------------------------------
 */
#include "decision.h"
#include "evaluator.h"

#include <stdio.h>
#include <string.h>

#define DAY		INT64_C(86400000000)
#define T(d)	((CfTime) (d) * DAY)	/* day d after 2000-01-01 */

static int	failures = 0;
static int	cases = 0;

/* Record one expectation. */
static void
expect(bool ok, const char *what)
{
	cases++;
	if (!ok)
		failures++;
	printf("%s - %s\n", ok ? "ok" : "FAILED", what);
}

static bool
is_decision(CfDecision d, CfDecisionKind kind, const char *resolution)
{
	if (d.kind != kind)
		return false;
	if (resolution == NULL)
		return d.resolution == NULL;
	return d.resolution != NULL && strcmp(d.resolution, resolution) == 0;
}

static const CfEpisode episode = {7, CF_SET_HOME_NURSING, "ward-a", T(0), CF_TIME_NONE};

/* A result of the rule: a flag in the episode, or another outcome. */
static CfFlagResult
result(const CfRule *rule, CfOutcome outcome, CfTime due_from, CfTime event_at)
{
	CfFlagResult r;

	memset(&r, 0, sizeof(r));
	r.rule = rule;
	r.outcome = outcome;
	r.event_at = event_at;
	if (outcome == CF_OUT_FLAG)
	{
		r.episode = &episode;
		r.due_from = due_from;
		r.due_at = due_from + 7 * DAY;
		strcpy(r.reason, "reason");
	}
	return r;
}

static CfStoredFlag
open_flag(CfTime due_from, CfTime trigger_at)
{
	CfStoredFlag s = {7, due_from, trigger_at, {CF_ACT_NONE, 0, CF_TIME_NONE}};

	return s;
}

int
main(void)
{
	CfRule		poly = {"medication_review.excessive_polypharmacy", "", CF_DOM_MEDICATION_REVIEW,
	CF_ANCHOR_MEDICINE_COUNT, 31, 18, {0, 0, 0}, {0, 7, 0}, {0, 7, 0}, 10, 1};
	CfRule		after_fall = {"fall_risk.assessment.after_fall", "", CF_DOM_FALL_RISK, CF_ANCHOR_FALL,
	31, 18, {0, 0, 0}, {0, 0, 0}, {0, 7, 0}, 0, 1};
	CfRule		frid = {"medication_review.fall_risk_drugs", "", CF_DOM_MEDICATION_REVIEW, CF_ANCHOR_FALL,
	31, 18, {0, 0, 0}, {0, 0, 0}, {0, 7, 0}, 0, 1};
	CfRule		repeat = {"nutrition.screening.repeat", "", CF_DOM_NUTRITION, CF_ANCHOR_LAST_EVENT,
	31, 18, {1, 0, 0}, {0, 7, 0}, {0, 7, 0}, 0, 2};
	CfRule		weight = {"nutrition.weight_loss", "", CF_DOM_NUTRITION, CF_ANCHOR_WEIGHT_SERIES,
	31, 18, {0, 0, 0}, {0, 0, 0}, {0, 7, 0}, 0, 1};
	CfMedication meds[11];
	CfAssessment as[3];
	CfTime		reviews[2];
	int64_t		review_ids[2] = {501, 502};
	CfTime		falls[1];
	CfMeasurement weights[1];
	CfPatientFacts f;
	CfFlagResult r;
	CfStoredFlag s;
	CfDecision	d;
	CfTime		now = T(400);

	memset(&f, 0, sizeof(f));
	f.episodes = &episode;
	f.n_episodes = 1;

	/* 1. medicine stopped: same gap, same flag; nothing done */
	for (int i = 0; i < 11; i++)
	{
		memset(&meds[i], 0, sizeof(meds[i]));
		meds[i].key = meds[i].atc = "C09AA05";
		meds[i].started_at = T(10 + i);
		meds[i].stopped_at = CF_TIME_NONE;
	}
	meds[0].stopped_at = T(390);
	f.medications = meds;
	f.n_medications = 11;
	s = open_flag(T(19), T(19));
	r = result(&poly, CF_OUT_FLAG, T(20), T(20));
	d = cf_decide_open(&poly, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_SAME_GAP, NULL),
		   "§7.16: a medicine stopped moves the due time later: the same flag, not done");
	r = result(&poly, CF_OUT_CLEARED, CF_TIME_NONE, CF_TIME_NONE);
	d = cf_decide_open(&poly, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RESOLVE, "cleared") && d.action.kind == CF_ACT_NONE,
		   "§7.17: below the threshold with no review: cleared, no action named");
	reviews[0] = T(395);
	f.reviews = reviews;
	f.review_ids = review_ids;
	f.n_reviews = 1;
	r = result(&poly, CF_OUT_DONE, CF_TIME_NONE, T(395));
	d = cf_decide_open(&poly, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RESOLVE, "done") && d.action.kind == CF_ACT_REVIEW &&
		   d.action.id == 501 && d.action.at == T(395),
		   "§7.17: a review after the threshold: done, naming the review");
	f.n_reviews = 0;
	f.n_medications = 0;

	/* 2. the fall deleted: corrected, not done by the assessment before it */
	as[0] = (CfAssessment) {11, CF_DOM_FALL_RISK, "morse", T(200), true, false, 20};
	f.assessments = as;
	f.n_assessments = 1;
	s = open_flag(T(337), T(337));
	r = result(&after_fall, CF_OUT_DONE, CF_TIME_NONE, T(200));
	d = cf_decide_open(&after_fall, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RESOLVE, "corrected") && d.action.kind == CF_ACT_NONE,
		   "§7.17: the fall that raised it deleted: corrected");
	falls[0] = T(337);
	f.falls = falls;
	f.n_falls = 1;
	as[1] = (CfAssessment) {12, CF_DOM_FALL_RISK, "morse", T(338), true, false, 20};
	f.n_assessments = 2;
	r = result(&after_fall, CF_OUT_DONE, CF_TIME_NONE, T(338));
	d = cf_decide_open(&after_fall, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RESOLVE, "done") && d.action.id == 12,
		   "§7.17: an assessment after the fall: done, naming it");

	/* reopen: the assessment that resolved it deleted, the fall still there */
	s.action = d.action;
	f.n_assessments = 1;
	r = result(&after_fall, CF_OUT_FLAG, T(337), T(337));
	d = cf_decide_done(&after_fall, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_REOPEN, NULL), "a deleted action reopens the flag it resolved");
	f.n_assessments = 2;
	d = cf_decide_done(&after_fall, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_KEEP, NULL), "while the action is there the resolution stands");
	as[1].assessed_at = T(336);
	d = cf_decide_done(&after_fall, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_REOPEN, NULL), "an action corrected to before the fall no longer counts");
	as[1].assessed_at = T(339);
	d = cf_decide_done(&after_fall, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RELABEL, "done") && d.action.at == T(339),
		   "an action's time corrected within the window: still done, at its new time");
	f.n_assessments = 1;
	f.n_falls = 0;
	r = result(&after_fall, CF_OUT_DONE, CF_TIME_NONE, T(200));
	d = cf_decide_done(&after_fall, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RELABEL, "corrected"),
		   "action and fall both deleted: the resolution becomes corrected");

	/* 9. a review before the high score: cleared, not done */
	reviews[0] = T(300);
	f.n_reviews = 1;
	falls[0] = T(295);
	f.n_falls = 1;
	as[0] = (CfAssessment) {21, CF_DOM_FALL_RISK, "morse", T(315), true, true, 60};
	as[1] = (CfAssessment) {22, CF_DOM_FALL_RISK, "morse", T(316), true, false, 20};
	f.n_assessments = 2;
	s = open_flag(T(315), T(315));
	r = result(&frid, CF_OUT_DONE, CF_TIME_NONE, T(300));
	d = cf_decide_open(&frid, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RESOLVE, "cleared"),
		   "§7.17: a low score after a high one, the review before it: cleared");
	f.n_falls = 0;
	f.n_reviews = 0;
	f.n_assessments = 0;

	/* repeat rules: a new screening is the action; the old one is not */
	as[0] = (CfAssessment) {31, CF_DOM_NUTRITION, "mst", T(300), true, false, 0};
	f.n_assessments = 1;
	s = open_flag(T(330), T(300));
	r = result(&repeat, CF_OUT_FLAG, T(330), T(300));
	d = cf_decide_open(&repeat, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_SAME_GAP, NULL), "the screening that opened the gap does not close it");
	as[1] = (CfAssessment) {32, CF_DOM_NUTRITION, "mst", T(350), true, false, 0};
	f.n_assessments = 2;
	r = result(&repeat, CF_OUT_FLAG, T(380), T(350));
	d = cf_decide_open(&repeat, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_REPLACE, "done") && d.action.id == 32,
		   "a new screening: done by it, the next gap gets a new flag");
	f.n_assessments = 1;
	s = open_flag(T(330), T(300));
	r = result(&repeat, CF_OUT_FLAG, T(290), T(260));
	d = cf_decide_open(&repeat, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_SAME_GAP, NULL),
		   "§7.16: the last screening deleted, an older one counts: the same flag, due earlier");
	f.n_assessments = 0;

	/* weight loss has no action fact: never done */
	weights[0] = (CfMeasurement) {CF_MEAS_WEIGHT, 60, T(390)};
	f.measurements = weights;
	f.n_measurements = 1;
	s = open_flag(T(380), T(380));
	r = result(&weight, CF_OUT_CLEARED, CF_TIME_NONE, CF_TIME_NONE);
	d = cf_decide_open(&weight, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RESOLVE, "corrected"), "the weight that raised it deleted: corrected");
	weights[0].measured_at = T(380);
	d = cf_decide_open(&weight, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RESOLVE, "cleared"), "weight regained: cleared");
	f.n_measurements = 0;

	/* other closings and the episode */
	r = result(&weight, CF_OUT_DECEASED, CF_TIME_NONE, CF_TIME_NONE);
	d = cf_decide_open(&weight, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RESOLVE, "deceased"), "death: deceased");
	r = result(&weight, CF_OUT_EXEMPT, CF_TIME_NONE, CF_TIME_NONE);
	d = cf_decide_open(&weight, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RESOLVE, "exempt"), "an exemption: exempt");
	s.episode_id = 6;
	r = result(&weight, CF_OUT_FLAG, T(390), T(390));
	d = cf_decide_open(&weight, &s, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_REPLACE, "corrected"), "its episode deleted: corrected, a new flag in the current one");
	d = cf_decide_open(&weight, NULL, &r, &f, now);
	expect(is_decision(d, CF_DECIDE_RAISE, NULL), "no open flag and the rule applies: raise");

	printf("%d cases, %d failed\n", cases, failures);
	return failures == 0 ? 0 : 1;
}
