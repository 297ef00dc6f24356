/*-------------------------------------------------------------------------
 *
 * reason_test.c
 *	  Unit cases of the reason renderer (extension/reason.c) outside
 *	  PostgreSQL: Norwegian dates and decimal commas, one sentence per kind
 *	  and language, and the 140-character action row with many rules behind
 *	  it (parts that do not fit are counted, a UTF-8 character is never cut).
 *	  Prints "ok - ..." / "not ok - ..." lines; exit status 1 on a failure.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "reason.h"

static int	failures = 0;

/* Compare a rendered text with the expected one. */
static void
expect(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		printf("ok - %s\n", what);
	else
	{
		printf("not ok - %s\n#   got:  %s\n#   want: %s\n", what, got, want);
		failures++;
	}
}

/* A condition. */
static void
check(const char *what, int ok)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	if (!ok)
		failures++;
}

int
main(void)
{
	char		buf[512];
	CfReasonData d;
	CfReasonData many[12];
	const CfReasonData *ptrs[12];

	cf_render_date(20260503, CF_LANG_NB, false, buf, sizeof(buf));
	expect("a bokmål date", buf, "3. mai 2026");
	cf_render_date(20261205, CF_LANG_NN, true, buf, sizeof(buf));
	expect("a short nynorsk date", buf, "5. des.");
	cf_render_date(20261205, CF_LANG_EN, false, buf, sizeof(buf));
	expect("an English date", buf, "5 December 2026");
	cf_render_number(61.0, 1, CF_LANG_NB, buf, sizeof(buf));
	expect("a decimal comma", buf, "61,0");

	memset(&d, 0, sizeof(d));
	d.kind = CF_RK_ADMISSION;
	d.domain = CF_DOM_NUTRITION;
	d.setting = CF_SET_NURSING_HOME_LONG_TERM;
	d.date1 = 20261205;
	d.due = 20261212;
	cf_render_reason(&d, CF_LANG_NB, buf, sizeof(buf));
	expect("the spec's example sentence (§8)", buf,
		   "Ingen ernæringsscreening siden innkomst 5. desember 2026. Frist 12. desember 2026.");
	cf_render_reason(&d, CF_LANG_NN, buf, sizeof(buf));
	expect("nynorsk: inga for a feminine noun", buf,
		   "Inga ernæringsscreening sidan innkomst 5. desember 2026. Frist 12. desember 2026.");

	memset(&d, 0, sizeof(d));
	d.kind = CF_RK_NO_PLAN;
	d.domain = CF_DOM_FALL_RISK;
	d.date1 = 20261202;
	d.due = 20261209;
	d.value1 = 50;
	snprintf(d.text1, sizeof(d.text1), "morse");
	cf_render_reason(&d, CF_LANG_NN, buf, sizeof(buf));
	expect("instrument as published, nynorsk", buf,
		   "Høg fallrisiko (Morse 50, 2. desember 2026) og ingen plan for fallførebygging. Frist 9. desember 2026.");

	/* an action row with more than fits: at most 140 characters */
	for (int i = 0; i < 12; i++)
	{
		memset(&many[i], 0, sizeof(many[i]));
		many[i].kind = CF_RK_FALL_DRUG;
		many[i].domain = CF_DOM_MEDICATION_REVIEW;
		many[i].flag = 1;
		many[i].date1 = 20261201 + i;
		snprintf(many[i].text1, sizeof(many[i].text1), "Åtterførsteløsning%02d 7.5 MG Oral Tablet", i);
		snprintf(many[i].text2, sizeof(many[i].text2), "N05CF%02d", i % 100);
		ptrs[i] = &many[i];
	}
	for (int l = 0; l < CF_LANG_COUNT; l++)
	{
		cf_render_action(CF_TODO_MEDICATION_REVIEW, ptrs, 12, 20261208, (CfLang) l, buf, sizeof(buf));
		check("a row of twelve rules fits 140 characters", cf_utf8_chars(buf) <= CF_ACTION_TEXT_MAX);
		check("and counts what did not fit", strstr(buf, "(+") != NULL);
		check("and still ends with the deadline", strstr(buf, l == CF_LANG_EN ? "Due 8 Dec." : "Frist 8. des.") != NULL);
	}
	return failures ? 1 : 0;
}
